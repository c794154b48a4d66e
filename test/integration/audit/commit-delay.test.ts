import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, type AuditEvent } from '../../../src/audit/index.js';
import { SqliteStore } from '../../../src/storage/index.js';

const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/**
 * A real audit log on a real SQLite file. Its clock moves one second per reading, and a batch
 * reads it once for all its records, so the records of one batch share a time and the batches
 * can be told apart in what was stored.
 */
function openLog(commitDelayMs: number): AuditLog {
  const dir = mkdtempSync(join(tmpdir(), 'kw-commit-delay-'));
  const store = new SqliteStore(join(dir, 'keyward.db'));
  let tick = Date.UTC(2026, 0, 1);
  const log = new AuditLog(store, {
    enabled: true, chain: 'node-1', node: 'node-1', clock: () => new Date((tick += 1000)),
    checkpointEveryRecords: 1000, checkpointEveryMs: 3_600_000, exportDir: join(dir, 'export'), commitDelayMs,
  });
  log.unlock(randomBytes(32));
  closers.push(async () => {
    await log.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return log;
}

let n = 0;
function event(): AuditEvent {
  n += 1;
  return {
    requestId: `r-${n}`, transport: 'http', source: '127.0.0.1', principal: null, tenant: null, credential: null,
    op: 'Encrypt', keyId: null, keyVersion: null, result: 'OK', request: {},
  };
}

/** The sizes of the stored batches, in order (records of one batch share a time). */
async function batchSizes(log: AuditLog): Promise<number[]> {
  const records = await log.tail('node-1', 1000);
  const sizes = new Map<string, number>();
  for (const r of records) sizes.set(r.time, (sizes.get(r.time) ?? 0) + 1);
  return [...sizes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, size]) => size);
}

async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((r) => setImmediate(r));
}

describe('audit log commit delay', () => {
  it('a batch waits for as many records as were in flight after the last one (records arriving over several turns join one batch)', async () => {
    // a delay no test run reaches: the wait ends by the count alone
    const log = openLog(60_000);
    await Promise.all(Array.from({ length: 10 }, () => log.record(event())));
    const first = Array.from({ length: 4 }, () => log.record(event()));
    await turns(5);
    const second = Array.from({ length: 6 }, () => log.record(event()));
    await Promise.all([...first, ...second]);
    expect(await batchSizes(log)).toEqual([10, 10]);
  });

  it('without a delay the same arrivals are written as they come', async () => {
    const log = openLog(0);
    await Promise.all(Array.from({ length: 10 }, () => log.record(event())));
    const first = Array.from({ length: 4 }, () => log.record(event()));
    await Promise.all(first);
    const second = Array.from({ length: 6 }, () => log.record(event()));
    await Promise.all(second);
    expect(await batchSizes(log)).toEqual([10, 4, 6]);
  });

  it('a lone client never waits: one record in flight is nothing to wait for', async () => {
    // were any of these to wait out the delay, the test would time out
    const log = openLog(60_000);
    for (let i = 0; i < 5; i++) await log.record(event());
    expect(await batchSizes(log)).toEqual([1, 1, 1, 1, 1]);
  });

  it('when fewer records come than were in flight, the batch is written once the delay is over', async () => {
    const log = openLog(50);
    await Promise.all(Array.from({ length: 10 }, () => log.record(event())));
    await Promise.all(Array.from({ length: 3 }, () => log.record(event())));
    expect(await batchSizes(log)).toEqual([10, 3]);
  });

  it('a checkpoint (a seal, a shutdown) does not wait out the delay: close writes the waiting batch and its final checkpoint', async () => {
    const log = openLog(60_000);
    const publicKey = log.publicKey()!;
    await Promise.all(Array.from({ length: 10 }, () => log.record(event())));
    const waiting = Array.from({ length: 3 }, () => log.record(event()));
    await turns(3);
    await log.close();
    await Promise.all(waiting);
    expect(await batchSizes(log)).toEqual([10, 3]);
    const report = await log.verify({ publicKey });
    expect(report.ok).toBe(true);
    // the final checkpoint signs the last record: nothing unsigned
    expect(report.chains[0]).toMatchObject({ records: 13, lastCheckpointSeq: 13, unanchored: null, signaturesChecked: true });
  });
});
