import { describe } from 'vitest';
import { PostgresStore } from '../../../src/storage/index.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { storeConformance } from '../../unit/storage/conformance.js';

const available = await postgresAvailable();

describe.runIf(available)('PostgreSQL store', () => {
  let db: TestDatabase | undefined;
  storeConformance('postgres', {
    peersRaceInProcess: true,
    async open() {
      db = await createTestDatabase('conf');
      return new PostgresStore(db.url);
    },
    async openPeer() {
      return new PostgresStore(db!.url);
    },
    async cleanup() {
      await db?.drop();
      db = undefined;
    },
  });
});
