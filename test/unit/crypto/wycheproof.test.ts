import { describe, expect, it } from 'vitest';
import { aesGcmOpen, aesGcmSeal, AuthenticationFailure, hkdfSha256 } from '../../../src/crypto/index.js';
import { haveWycheproof, loadWycheproof, WYCHEPROOF_DIR } from '../../helpers/wycheproof.js';

/** Wycheproof known-answer vectors (read in place from the shared folder) through Keyward's crypto wrappers. */

interface AeadCase { tcId: number; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: 'valid' | 'invalid' | 'acceptable'; flags: string[] }
interface AeadGroup { ivSize: number; keySize: number; tagSize: number; tests: AeadCase[] }
interface HkdfCase { tcId: number; ikm: string; salt: string; info: string; size: number; okm: string; result: 'valid' | 'invalid' }

const present = haveWycheproof();
if (!present) console.warn(`skipping Wycheproof vectors: expected at ${WYCHEPROOF_DIR}`);
const load = loadWycheproof;
const hex = (s: string) => Buffer.from(s, 'hex');

describe.runIf(present)('Wycheproof AES-GCM through aesGcmSeal / aesGcmOpen', () => {
  const file = load<{ numberOfTests: number; testGroups: AeadGroup[] }>('aes_gcm_test.json');
  const all = file.testGroups.flatMap((g) => g.tests.map((t) => ({ g, t })));

  it('the file is complete (its count matches its cases)', () => {
    expect(all).toHaveLength(file.numberOfTests);
  });

  const supported = all.filter(({ g }) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128);
  it.each(supported.map(({ t }) => [t.tcId, t.result, t] as const))('tcId %i (%s)', (_id, result, t) => {
    const sealed = Buffer.concat([hex(t.ct), hex(t.tag)]);
    if (result === 'valid') {
      expect(aesGcmSeal(hex(t.key), hex(t.iv), hex(t.msg), hex(t.aad)).toString('hex')).toBe(sealed.toString('hex'));
      expect(aesGcmOpen(hex(t.key), hex(t.iv), sealed, hex(t.aad)).toString('hex')).toBe(t.msg);
    } else {
      expect(() => aesGcmOpen(hex(t.key), hex(t.iv), sealed, hex(t.aad))).toThrow(AuthenticationFailure);
    }
  });

  it('has both valid and invalid AES-256 cases', () => {
    expect(supported.filter(({ t }) => t.result === 'valid').length).toBeGreaterThanOrEqual(5);
    expect(supported.filter(({ t }) => t.result === 'invalid').length).toBeGreaterThanOrEqual(5);
  });

  it('keys other than 256 bits and IVs other than 96 bits are refused before any decryption', () => {
    const others = all.filter(({ g }) => !(g.keySize === 256 && g.ivSize === 96));
    expect(others.length).toBeGreaterThan(0);
    for (const { t } of others) {
      const sealed = Buffer.concat([hex(t.ct), hex(t.tag)]);
      expect(() => aesGcmOpen(hex(t.key), hex(t.iv), sealed, hex(t.aad))).toThrow(RangeError);
      expect(() => aesGcmSeal(hex(t.key), hex(t.iv), hex(t.msg), hex(t.aad))).toThrow(RangeError);
    }
  });

  it('a truncated tag (shorter than 128 bits) never authenticates', () => {
    for (const { t } of supported.filter(({ t }) => t.result === 'valid')) {
      const sealed = Buffer.concat([hex(t.ct), hex(t.tag)]);
      for (const cut of [1, 4, 8]) {
        expect(() => aesGcmOpen(hex(t.key), hex(t.iv), sealed.subarray(0, sealed.length - cut), hex(t.aad))).toThrow(AuthenticationFailure);
      }
    }
  });
});

describe.runIf(present)('Wycheproof HKDF-SHA256 through hkdfSha256', () => {
  const file = load<{ numberOfTests: number; testGroups: Array<{ tests: HkdfCase[] }> }>('hkdf_sha256_test.json');
  const all = file.testGroups.flatMap((g) => g.tests);

  it('the file is complete', () => {
    expect(all).toHaveLength(file.numberOfTests);
  });

  it.each(all.map((t) => [t.tcId, t] as const))('tcId %i', (_id, t) => {
    if (t.result === 'valid') {
      expect(hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size).toString('hex')).toBe(t.okm);
    } else {
      expect(() => hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size)).toThrow();
    }
  });

  it('an output larger than 255 hash lengths is refused (Wycheproof SizeTooLarge)', () => {
    expect(() => hkdfSha256(hex('00'.repeat(16)), Buffer.alloc(0), Buffer.alloc(0), 255 * 32 + 1)).toThrow();
    expect(hkdfSha256(hex('00'.repeat(16)), Buffer.alloc(0), Buffer.alloc(0), 255 * 32)).toHaveLength(255 * 32);
  });
});
