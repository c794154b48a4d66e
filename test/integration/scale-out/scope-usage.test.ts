import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcClient, loadProto, type GrpcClient } from '../../helpers/grpc.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../helpers/postgres.js';
import { keyward, spawnKeyward, type KeywardProcess } from '../../helpers/process.js';
import { TEST_PASSPHRASE, tempDir } from '../../helpers/server.js';
import { eventually } from '../../helpers/wait.js';

const available = await postgresAvailable();
const MAX = 10;
const FAST = {
  KEYWARD_ARGON2_MEMORY_KIB: '1024', KEYWARD_ARGON2_ITERATIONS: '1', KEYWARD_LOG_LEVEL: 'warn',
  KEYWARD_SCOPE_MAX_ENCRYPTIONS: String(MAX), KEYWARD_SCOPE_RESERVE_BLOCK: '3', KEYWARD_RATE_LIMIT_PER_SECOND: '0',
};
const pkg = loadProto(['keyward/v1/scopes.proto']);

describe.runIf(available)('usage-bounded scope rotation on two nodes over PostgreSQL', () => {
  let db: TestDatabase;
  const dataDir = tempDir('keyward-scope-usage-');
  const procs: KeywardProcess[] = [];
  const clients: GrpcClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('scope_usage');
    const init = await keyward(['init', '--store', db.url, '--data-dir', dataDir, '--json'], { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE });
    expect(init.code, init.stderr).toBe(0);
    const token = (JSON.parse(init.stdout) as { token: string }).token;
    procs.push(...await Promise.all([0, 1].map((i) => spawnKeyward(
      ['server', '--store', db.url, '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--grpc-listen', '127.0.0.1:0'],
      { ...FAST, KEYWARD_PASSPHRASE: TEST_PASSPHRASE, KEYWARD_NODE_ID: `node-${i}` },
    ))));
    for (const p of procs) {
      expect(await eventually(() => /keyward gRPC listening on /.test(p.output()), 10_000)).toBe(true);
      clients.push(grpcClient(pkg, 'keyward.v1.Scopes', /keyward gRPC listening on (\S+)/.exec(p.output())![1]!, { token }));
    }
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.stop()));
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a scope once when both nodes see it first, and never encrypts more than the maximum under one version', async () => {
    const rounds = 3;
    const perRound = 40;
    const made: Array<{ version: string; ciphertext: Buffer; plaintext: string; node: number }> = [];
    for (let round = 0; round < rounds; round++) {
      // both nodes at once, many requests in flight on each
      const calls = Array.from({ length: perRound }, (_, i) => {
        const node = i % 2;
        const plaintext = `r${round}-i${i}`;
        return clients[node]!.ScopeEncrypt!({ scope_id: 'shared', plaintext: Buffer.from(plaintext) })
          .then((r) => made.push({ version: String(r.key_version_id), ciphertext: r.ciphertext_blob as Buffer, plaintext, node }));
      });
      await Promise.all(calls);
    }
    expect(made).toHaveLength(rounds * perRound);
    const keyIds = new Set(made.map((m) => m.version.split(':')[0]));
    expect(keyIds.size).toBe(1); // one scope key, whoever created it
    const perVersion = new Map<string, number>();
    for (const m of made) perVersion.set(m.version, (perVersion.get(m.version) ?? 0) + 1);
    expect(Math.max(...perVersion.values())).toBeLessThanOrEqual(MAX);
    expect(perVersion.size).toBeGreaterThanOrEqual(Math.ceil(made.length / MAX));
    // both nodes encrypted under at least one common version (they shared the counts)
    const byNode = [0, 1].map((n) => new Set(made.filter((m) => m.node === n).map((m) => m.version)));
    expect([...byNode[0]!].some((v) => byNode[1]!.has(v))).toBe(true);
    // every ciphertext opens on the other node, old versions included
    for (const m of made.filter((_, i) => i % 7 === 0)) {
      const dec = await clients[1 - m.node]!.ScopeDecrypt!({ scope_id: 'shared', ciphertext_blob: m.ciphertext, key_version_id: m.version });
      expect(Buffer.from(dec.plaintext as Buffer).toString()).toBe(m.plaintext);
    }
    const info = await clients[0]!.DescribeScope!({ scope_id: 'shared' });
    expect(Number(info.encryption_count)).toBeLessThanOrEqual(MAX);
    expect(Number(info.version)).toBeGreaterThanOrEqual(perVersion.size);
  });
});
