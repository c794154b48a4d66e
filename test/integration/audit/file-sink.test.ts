import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { startTestServer, tempDir } from '../../helpers/server.js';
import { keyward } from '../../helpers/process.js';
import { callTarget } from '../../helpers/keyward-api.js';
import { rehash } from '../../helpers/audit.js';
import { errorOf } from '../../helpers/errors.js';

/**
 * The JSON-lines sink carries the same records, hashes and checkpoints as the store; the
 * offline `keyward audit verify --file` (with only the public key) finds every tampering.
 */
const CHAIN = 'node-file-sink';

describe('audit file sink', () => {
  const dir = tempDir('keyward-audit-file-');
  const log = join(dir, 'audit.jsonl');
  const rotated = join(dir, 'audit.jsonl.1');
  const pub = join(dir, 'audit.pub');
  let lines: string[] = [];

  const verifyLines = async (name: string, content: string[], extra: string[] = []) => {
    const file = join(dir, name);
    writeFileSync(file, content.map((l) => `${l}\n`).join(''));
    const r = await keyward(['audit', 'verify', '--file', file, '--public-key', pub, ...extra], {});
    return { code: r.code, report: JSON.parse(r.stdout) as { ok: boolean; firstBreak: { seq: number; kind: string; message: string } | null }, stderr: r.stderr };
  };
  const recordLine = (seq: number) => lines.findIndex((l) => l.includes('"type":"record"') && l.includes(`"seq":${seq},`));

  beforeAll(async () => {
    const t = await startTestServer({ config: { nodeId: CHAIN, auditFile: log, auditCheckpointRecords: 5, auditCheckpointMs: 3_600_000 } });
    try {
      const key = await t.kms.send(new CreateKeyCommand({}));
      for (let i = 0; i < 4; i++) await t.kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from('x') }));
      // logrotate moves the file away: the next batch starts a new file at the path.
      renameSync(log, rotated);
      for (let i = 0; i < 4; i++) await t.kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from('y') }));
      // and SIGHUP's reopen: later entries still land at the path.
      t.server.installation.audit.reopenSinks();
      for (let i = 0; i < 3; i++) await t.kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from('z') }));
      const pk = await callTarget(t.url, 'Keyward.GetAuditPublicKey', {}, { token: t.admin.token });
      writeFileSync(pub, pk.body.PublicKey as string);
    } finally {
      await t.close();
    }
    lines = [...readFileSync(rotated, 'utf8').split('\n'), ...readFileSync(log, 'utf8').split('\n')].filter((l) => l !== '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds every record with its checkpoints across a rotation, and verifies with only the public key', async () => {
    expect(readFileSync(rotated, 'utf8').length).toBeGreaterThan(0);
    const records = lines.filter((l) => l.includes('"type":"record"'));
    expect(records.length).toBeGreaterThanOrEqual(14);
    expect(lines.filter((l) => l.includes('"type":"checkpoint"')).length).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toContain('"kind":"final"');
    const { code, report } = await verifyLines('intact.jsonl', lines);
    expect(report.firstBreak).toBeNull();
    expect(code).toBe(0);
  });

  it('an edited line is reported at its record', async () => {
    const copy = [...lines];
    const i = recordLine(4);
    copy[i] = copy[i]!.replace('"result":"OK"', '"result":"AccessDeniedException"');
    const { code, report, stderr } = await verifyLines('edited.jsonl', copy);
    expect(code).toBe(3);
    expect(report.firstBreak).toMatchObject({ seq: 4, kind: 'edited' });
    expect(stderr).toContain('record 4');
  });

  it('a deleted line is reported as a missing record', async () => {
    const copy = lines.filter((_, i) => i !== recordLine(6));
    const { report } = await verifyLines('deleted.jsonl', copy);
    expect(report.firstBreak).toMatchObject({ seq: 6, kind: 'deleted' });
  });

  it('swapped lines are reported as reordered', async () => {
    const copy = [...lines];
    const a = recordLine(7);
    const b = recordLine(8);
    [copy[a], copy[b]] = [copy[b]!, copy[a]!];
    const { report } = await verifyLines('reordered.jsonl', copy);
    expect(report.firstBreak?.kind).toBe('reordered');
    expect(report.firstBreak?.seq).toBe(7);
  });

  it('a record appended after the final checkpoint is reported', async () => {
    const last = JSON.parse(lines[recordLine(Math.max(...lines.filter((l) => l.includes('"type":"record"')).map((l) => (JSON.parse(l) as { seq: number }).seq)))]!) as Record<string, unknown>;
    const forged = rehash({ ...last, seq: (last.seq as number) + 1, prev: last.hash, op: 'Decrypt', requestId: 'forged' });
    const { report } = await verifyLines('appended.jsonl', [...lines, JSON.stringify(forged)]);
    expect(report.firstBreak).toMatchObject({ seq: (last.seq as number) + 1, kind: 'appended' });
  });

  it('a rewritten chain passes the hashes but not the signatures', async () => {
    let prev = '';
    const copy = lines.map((l) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      if (o.type !== 'record') return l;
      if ((o.seq as number) < 2) {
        prev = o.hash as string;
        return l;
      }
      const r = rehash({ ...o, prev, ...(o.seq === 2 ? { principal: 'nobody' } : {}) });
      prev = r.hash as string;
      return JSON.stringify(r);
    });
    const { report } = await verifyLines('rewritten.jsonl', copy);
    // record 2 (CreateKey) changed state, so it was signed at once: the rewrite shows right there
    expect(report.firstBreak).toMatchObject({ seq: 2, kind: 'checkpoint-mismatch' });
  });
});

describe('audit file sink failure', () => {
  it('a request whose record cannot reach the file fails; the file catches up from the store afterwards', async () => {
    const dir = tempDir('keyward-audit-file-fail-');
    const log = join(dir, 'audit.jsonl');
    const t = await startTestServer({ config: { nodeId: 'node-file-fail', auditFile: log } });
    const pub = join(dir, 'audit.pub');
    try {
      const keyId = (await t.kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      writeFileSync(pub, (await callTarget(t.url, 'Keyward.GetAuditPublicKey', {}, { token: t.admin.token })).body.PublicKey as string);
      execFileSync('chattr', ['+i', log]);
      try {
        const e = await errorOf(t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
        expect(e.name).toBe('AuditUnavailableException');
      } finally {
        execFileSync('chattr', ['-i', log]);
      }
      await t.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('y') }));
    } finally {
      await t.close();
    }
    const ops = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('"type":"record"')).map((l) => (JSON.parse(l) as { op: string; seq: number }).op);
    // the record of the refused request is in the store (it committed there first) and reached the file late
    expect(ops.slice(-3)).toEqual(['GetAuditPublicKey', 'Encrypt', 'Encrypt']);
    const r = await keyward(['audit', 'verify', '--file', log, '--public-key', pub], {});
    expect(r.code, r.stdout).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
