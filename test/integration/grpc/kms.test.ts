import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcClient, grpcFailure, loadProto, grpc, type GrpcClient } from '../../helpers/grpc.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { callTarget } from '../../helpers/keyward-api.js';

describe('gRPC Kms service', () => {
  let t: TestServer;
  let kms: GrpcClient;
  let keyId: string;
  const pkg = loadProto(['keyward/v1/kms.proto']);

  beforeAll(async () => {
    t = await startTestServer({ config: { grpcListen: '127.0.0.1:0' } });
    kms = grpcClient(pkg, 'keyward.v1.Kms', t.server.grpcAddress!, { token: t.admin.token });
    const created = await callTarget(t.url, 'TrentService.CreateKey', {}, { token: t.admin.token });
    keyId = String((created.body.KeyMetadata as Record<string, unknown>).KeyId);
  });
  afterAll(async () => {
    kms?.close();
    await t?.close();
  });

  it('encrypts and decrypts with an encryption context', async () => {
    const enc = await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('card 4111'), encryption_context: { order: '42' } });
    expect(enc.key_id).toContain(`:key/${keyId}`);
    expect(enc.encryption_algorithm).toBe('SYMMETRIC_DEFAULT');
    const dec = await kms.Decrypt!({ ciphertext_blob: enc.ciphertext_blob, encryption_context: { order: '42' } });
    expect(Buffer.from(dec.plaintext as Buffer).toString()).toBe('card 4111');
  });

  it('maps a wrong context to INVALID_ARGUMENT with the registry code', async () => {
    const enc = await kms.Encrypt!({ key_id: keyId, plaintext: Buffer.from('x'), encryption_context: { a: '1' } });
    const e = await grpcFailure(kms.Decrypt!({ ciphertext_blob: enc.ciphertext_blob, encryption_context: { a: '2' } }));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/^InvalidCiphertextException: /);
    expect(e.metadata.get('keyward-error-code')).toEqual(['InvalidCiphertextException']);
  });

  it('batch encrypts and decrypts with per-item errors', async () => {
    const items = Array.from({ length: 5 }, (_, i) => ({ plaintext: Buffer.from(`item ${i}`), encryption_context: { i: String(i) } }));
    const enc = await kms.BatchEncrypt!({ key_id: keyId, items });
    const results = enc.results as Array<Record<string, unknown>>;
    expect(results).toHaveLength(5);
    const dec = await kms.BatchDecrypt!({ items: results.map((r, i) => ({ ciphertext_blob: r.ciphertext_blob, encryption_context: { i: String(i === 3 ? 99 : i) } })) });
    const out = dec.results as Array<Record<string, unknown>>;
    expect(Buffer.from(out[0]!.plaintext as Buffer).toString()).toBe('item 0');
    expect(out[3]!.error).toMatchObject({ code: 'InvalidCiphertextException' });
  });
});
