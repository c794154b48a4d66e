import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AuditKeys, canonicalJson, checkpointSignatureValid, encodeEntry, GENESIS_HASH, JsonStrings, parseEntry, parsePublicKeys, recordHash, sealRecord, sealRecordBytes,
  verifyChain, withHash, type AuditRecordBody, type RawEntry,
} from '../../../src/audit/index.js';

const body = (seq: number, prev: string, extra: Partial<AuditRecordBody> = {}): AuditRecordBody => ({
  type: 'record', v: 1, chain: 'c', seq, time: new Date(1_700_000_000_000 + seq).toISOString(), node: 'n', requestId: `r${seq}`,
  transport: 'http', source: '127.0.0.1', principal: 'admin', tenant: 'default', credential: null, op: 'Encrypt',
  keyId: 'k', keyVersion: 1, result: 'OK', request: { 'EncryptionContext.a': 'hmac-sha256:00', KeyId: 'k' }, prev, ...extra,
});

describe('audit record encoding', () => {
  it('canonical JSON sorts keys at every level and refuses what it cannot encode exactly', () => {
    expect(canonicalJson({ b: 1, a: { d: 'x', c: null } })).toBe('{"a":{"c":null,"d":"x"},"b":1}');
    expect(() => canonicalJson({ x: 1.5 })).toThrow(/safe integers/);
    expect(() => canonicalJson({ x: () => 1 })).toThrow(/cannot encode/);
  });

  it('the hot-path encoder gives exactly the canonical encoding and hash, for any field values', () => {
    const str = fc.string({ maxLength: 20 });
    fc.assert(fc.property(str, str, fc.option(str), fc.option(fc.nat()), fc.dictionary(str, str, { maxKeys: 5 }), (op, source, principal, keyVersion, request) => {
      const b = body(7, GENESIS_HASH, { op, source, principal, keyVersion, request });
      const { record, encoded } = sealRecord(b);
      expect(record.hash).toBe(recordHash(b));
      expect(encoded).toBe(encodeEntry(withHash(b)));
      expect(parseEntry(encoded)).toEqual(record);
      const { hash, bytes } = sealRecordBytes(b, new JsonStrings());
      expect(hash).toBe(record.hash);
      expect(bytes).toEqual(Buffer.from(encoded, 'utf8'));
    }));
  });

  it('records of one write batch sharing their repeated strings encode exactly as each alone', () => {
    const str = fc.string({ maxLength: 8 });
    const fields = fc.record({ op: str, source: str, principal: fc.option(str), tenant: fc.option(str), credential: fc.option(str), keyId: fc.option(str), result: str });
    fc.assert(fc.property(fc.array(fields, { minLength: 1, maxLength: 8 }), (batch) => {
      const strings = new JsonStrings();
      batch.forEach((extra, i) => {
        const b = body(i + 1, GENESIS_HASH, extra);
        expect(sealRecord(b, strings)).toEqual(sealRecord(b));
        expect(sealRecord(b, strings).encoded).toBe(encodeEntry(withHash(b)));
        expect(sealRecordBytes(b, strings).bytes).toEqual(Buffer.from(encodeEntry(withHash(b)), 'utf8'));
      });
    }));
  });

  it('the byte encoder gives the canonical UTF-8 for any text (astral, lone surrogates, long values)', () => {
    const text = fc.oneof(fc.string({ maxLength: 40, unit: 'binary' }), fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }).map((s) => s.repeat(300)));
    fc.assert(fc.property(text, fc.dictionary(fc.string({ unit: 'binary', maxLength: 10 }), text, { maxKeys: 4 }), (source, request) => {
      const b = body(3, GENESIS_HASH, { source, request });
      const { hash, bytes } = sealRecordBytes(b, new JsonStrings());
      expect(hash).toBe(recordHash(b));
      expect(bytes).toEqual(Buffer.from(encodeEntry(withHash(b)), 'utf8'));
    }), { numRuns: 100 });
  });
});

describe('audit keys', () => {
  it('derive the same HMAC and signing key from the same audit key, and signatures verify only with that key', () => {
    const k = Buffer.alloc(32, 9);
    const a = new AuditKeys(k);
    const b = new AuditKeys(Buffer.from(k));
    expect(a.hmac('v')).toBe(b.hmac('v'));
    expect(a.hmac('v')).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(a.hmac('v')).not.toBe(new AuditKeys(Buffer.alloc(32, 8)).hmac('v'));
    expect(a.fingerprint).toBe(b.fingerprint);
    const cp = a.sign({ type: 'checkpoint', v: 1, chain: 'c', seq: 1, head: 'h', time: 't', kind: 'periodic', everyRecords: 1, everyMs: 1, keyFingerprint: a.fingerprint });
    expect(checkpointSignatureValid(cp, b.publicKey)).toBe(true);
    expect(checkpointSignatureValid({ ...cp, head: 'other' }, a.publicKey)).toBe(false);
    expect(checkpointSignatureValid(cp, generateKeyPairSync('ed25519').publicKey)).toBe(false);
  });
});

describe('verifyChain', () => {
  const keys = new AuditKeys(Buffer.alloc(32, 1));
  const chain = (n: number) => {
    const out = [];
    let prev = GENESIS_HASH;
    for (let s = 1; s <= n; s++) {
      const r = withHash(body(s, prev));
      out.push(r);
      prev = r.hash;
    }
    return out;
  };
  const cp = (seq: number, head: string, kind: 'periodic' | 'final' | 'anchor' = 'periodic') => keys.sign({
    type: 'checkpoint', v: 1, chain: 'c', seq, head, time: new Date(1_700_000_000_000).toISOString(), kind, everyRecords: 5, everyMs: 1000, keyFingerprint: keys.fingerprint,
  });
  const raw = (entries: unknown[]): RawEntry[] => entries.map((e, i) => ({ where: `line ${i + 1}`, text: JSON.stringify(e) }));
  const now = new Date(1_700_000_000_000 + 10_000);

  it('passes an intact chain and reports a stale unsigned tail', () => {
    const rs = chain(7);
    const ok = verifyChain('c', raw([...rs.slice(0, 5), cp(5, rs[4]!.hash), ...rs.slice(5)]), { publicKey: keys.publicKey, now });
    expect(ok.report).toMatchObject({ ok: true, unanchored: { from: 6, to: 7 }, lastCheckpointSeq: 5 });
    const late = verifyChain('c', raw([...rs.slice(0, 5), cp(5, rs[4]!.hash), ...rs.slice(5)]), { publicKey: keys.publicKey, now: new Date(now.getTime() + 3_600_000) });
    expect(late.report.firstBreak).toMatchObject({ kind: 'unanchored', seq: 6 });
  });

  it('a malformed line is reported where it is', () => {
    const rs = chain(3);
    const entries = raw(rs);
    entries[1] = { where: 'line 2', text: '{"v":1,' };
    const r = verifyChain('c', entries, { now });
    expect(r.breaks.find((b) => b.kind === 'malformed')?.where).toBe('line 2');
  });

  it('from SEQ starts the walk there', () => {
    const rs = chain(6);
    const r = verifyChain('c', raw(rs), { from: 4, now });
    expect(r.report).toMatchObject({ ok: true, firstSeq: 4, records: 3 });
  });
});

describe('checkpoint key versions in verification', () => {
  // two versions of the signing key (here two audit keys stand in for two versions)
  const v1 = new AuditKeys(Buffer.alloc(32, 3));
  const v2 = new AuditKeys(Buffer.alloc(32, 4));
  const now = new Date(1_700_000_000_000 + 10_000);
  const rs: ReturnType<typeof withHash>[] = [];
  let prev = GENESIS_HASH;
  for (let s = 1; s <= 4; s++) {
    const r = withHash(body(s, prev));
    rs.push(r);
    prev = r.hash;
  }
  const cp = (keys: AuditKeys, seq: number) => keys.sign({
    type: 'checkpoint', v: 1, chain: 'c', seq, head: rs[seq - 1]!.hash, time: new Date(1_700_000_000_000).toISOString(), kind: 'periodic', everyRecords: 2, everyMs: 60_000, keyFingerprint: 'ignored',
  });
  const entries = (): RawEntry[] => [rs[0], rs[1], cp(v1, 2), rs[2], rs[3], cp(v2, 4)].map((e, i) => ({ where: `line ${i + 1}`, text: JSON.stringify(e) }));
  const pem = (k: AuditKeys) => k.publicKeyPem();

  it('a checkpoint names the version that signed it; each is checked with its own key', () => {
    expect(cp(v1, 2)).toMatchObject({ keyVersion: 1, keyFingerprint: v1.fingerprint });
    const both = verifyChain('c', entries(), { publicKeys: parsePublicKeys(pem(v1) + pem(v2)), now });
    expect(both.report).toMatchObject({ ok: true, signaturesChecked: true, lastCheckpointSeq: 4 });
    const json = JSON.stringify({ ActiveVersion: 2, Keys: [{ Version: 1, PublicKey: pem(v1) }, { Version: 2, PublicKey: pem(v2) }] });
    expect([...parsePublicKeys(json).values()].map((k) => k.version)).toEqual([1, 2]);
    expect(verifyChain('c', entries(), { publicKeys: parsePublicKeys(json), now }).report.ok).toBe(true);
  });

  it('a checkpoint of a key not given is unknown-checkpoint-key, naming its fingerprint; a wrong signature is forged', () => {
    const onlyOld = verifyChain('c', entries(), { publicKeys: parsePublicKeys(pem(v1)), now });
    expect(onlyOld.report.firstBreak).toMatchObject({ seq: 4, kind: 'unknown-checkpoint-key' });
    expect(onlyOld.report.firstBreak!.message).toContain(v2.fingerprint.slice(0, 16));
    expect(onlyOld.report.firstBreak!.message).toContain('keyward audit checkpoint-keys');
    // one PEM key, as before versions: the same rule
    expect(verifyChain('c', entries(), { publicKey: v2.publicKey, now }).report.firstBreak).toMatchObject({ seq: 2, kind: 'unknown-checkpoint-key' });
    // a checkpoint that names version 2's fingerprint but was signed by another key
    const forged = { ...cp(v1, 4), keyFingerprint: v2.fingerprint, keyVersion: 2 };
    const list = entries();
    list[5] = { where: 'line 6', text: JSON.stringify(forged) };
    expect(verifyChain('c', list, { publicKeys: parsePublicKeys(pem(v1) + pem(v2)), now }).report.firstBreak).toMatchObject({ seq: 4, kind: 'forged-checkpoint' });
    expect(() => parsePublicKeys('nothing here')).toThrow(/no PEM public key/);
    expect(() => parsePublicKeys('{"Keys": []}')).toThrow(/no Keys/);
  });
});
