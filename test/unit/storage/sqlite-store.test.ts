import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/server.js';
import { storeConformance } from './conformance.js';

let dir: string | undefined;
let path = '';

storeConformance('sqlite', {
  async open() {
    dir = tempDir('keyward-store-');
    path = join(dir, 'keyward.db');
    return new SqliteStore(path, { pollIntervalMs: 50 });
  },
  async openPeer() {
    return new SqliteStore(path, { pollIntervalMs: 50 });
  },
  async cleanup() {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  },
});
