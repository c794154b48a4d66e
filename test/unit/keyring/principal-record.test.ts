import { describe, expect, it } from 'vitest';
import { decodePrincipal } from '../../../src/keyring/principal-record.js';

describe('principal records: the secret as bytes, the stored format unchanged', () => {
  it('reads a record as earlier releases wrote it (encodeRecord: JSON.stringify) and zeroes the decrypted bytes', () => {
    const old = { tenantId: 'default', name: 'admin', role: 'admin', accessKeyId: 'KWABC', secretAccessKey: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0', tokenId: '0123456789abcdef', tokenHash: 'ab'.repeat(32), createdAt: '2026-01-01T00:00:00.000Z' };
    const value = Buffer.from(JSON.stringify(old), 'utf8');
    const p = decodePrincipal({ path: 'principals/default/admin', value, version: 1 });
    expect(Buffer.isBuffer(p.secretAccessKey)).toBe(true);
    expect(p.secretAccessKey.toString()).toBe(old.secretAccessKey);
    expect({ ...p, secretAccessKey: undefined }).toEqual({ ...old, secretAccessKey: undefined });
    expect(value.every((b) => b === 0)).toBe(true);
  });

  it('refuses a record without a secret string as an integrity error', () => {
    for (const text of ['{"name":"a"}', '{"secretAccessKey":1}', 'not json']) {
      expect(() => decodePrincipal({ path: 'p', value: Buffer.from(text), version: 1 })).toThrow(/not a principal record/);
    }
  });
});
