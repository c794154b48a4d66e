import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, KeywardError, type ErrorCode } from '../../../src/errors/index.js';
import { grpcError, grpcPackage, MessageShapes, peerAddress } from '../../../src/api/grpc/index.js';
import { pascalCase, snakeCase } from '../../../src/api/grpc/shapes.js';
import { directEncoder } from '../../../src/api/grpc/encoders.js';

describe('gRPC status from the error registry', () => {
  it('maps every code to its registry column, the code first in the message and in a trailer', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const s = grpcError(new KeywardError(code, 'why'), 'req-1');
      expect(s.code, code).toBe(status[ERROR_CODES[code].grpc]);
      expect(s.details).toBe(`${code}: why`);
      expect(s.metadata.get('keyward-error-code')).toEqual([code]);
      expect(s.metadata.get('keyward-request-id')).toEqual(['req-1']);
    }
  });

  it('answers an unexpected error as KMSInternalException with the request id only, for the log', () => {
    const s = grpcError(new Error('secret detail /var/lib/x'), 'req-2');
    expect(s.code).toBe(status.INTERNAL);
    expect(s.details).toBe('KMSInternalException: An internal error occurred. Request id: req-2');
    expect(s.internal).toBe(true);
    expect(grpcError(new KeywardError('SealedException', 'sealed'), 'r').internal).toBe(false);
  });
});

describe('AWS shapes in snake_case', () => {
  it('converts names both ways', () => {
    expect(snakeCase('AWSAccountId')).toBe('aws_account_id');
    expect(snakeCase('KeyId')).toBe('key_id');
    expect(snakeCase('requestId')).toBe('request_id');
    expect(snakeCase('PendingDeletionWindowInDays')).toBe('pending_deletion_window_in_days');
    expect(pascalCase('destination_encryption_context')).toBe('DestinationEncryptionContext');
  });

  it('keeps map keys, converts nested messages and drops what the proto does not declare', () => {
    const shapes = new MessageShapes(grpcPackage());
    expect(shapes.toInput('keyward.v1.BatchEncryptRequest', {
      key_id: 'k', items: [{ plaintext: Buffer.from('p'), encryption_context: { order_id: '1', 'Mixed-Case': '2' } }],
    })).toEqual({ KeyId: 'k', Items: [{ Plaintext: Buffer.from('p'), EncryptionContext: { order_id: '1', 'Mixed-Case': '2' } }] });
    expect(shapes.toMessage('keyward.v1.BatchEncryptResponse', {
      Results: [{ CiphertextBlob: Buffer.from('c'), KeyId: 'arn', Unknown: 1 }, { Error: { Code: 'X', Message: 'y' } }],
    })).toEqual({ results: [{ ciphertext_blob: Buffer.from('c'), key_id: 'arn' }, { error: { code: 'X', message: 'y' } }] });
  });

  it('reads peer addresses without their ports', () => {
    expect(peerAddress('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(peerAddress('[::1]:5000')).toBe('::1');
    expect(peerAddress('ipv4:10.0.0.1:1')).toBe('10.0.0.1');
    expect(peerAddress('unknown')).toBe('unknown');
  });
});

describe('direct encoders of the hot responses', () => {
  const pkg = grpcPackage();
  const serializerOf = (service: string, method: string) => (pkg[service] as Record<string, { responseSerialize: (v: unknown) => Buffer }>)[method]!.responseSerialize;
  const arn = 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const cases: Array<[string, string, string, unknown]> = [
    ['keyward.v1.EncryptResponse', 'keyward.v1.Kms', 'Encrypt', { ciphertext_blob: Buffer.alloc(120, 7), key_id: arn, encryption_algorithm: 'SYMMETRIC_DEFAULT' }],
    ['keyward.v1.EncryptResponse', 'keyward.v1.Kms', 'Encrypt', {}],
    ['keyward.v1.DecryptResponse', 'keyward.v1.Kms', 'Decrypt', { key_id: arn, plaintext: Buffer.alloc(0), encryption_algorithm: 'SYMMETRIC_DEFAULT' }],
    ['keyward.v1.BatchEncryptResponse', 'keyward.v1.Kms', 'BatchEncrypt', {
      results: [{ ciphertext_blob: Buffer.alloc(200, 1), key_id: arn, encryption_algorithm: 'SYMMETRIC_DEFAULT' }, { error: { code: 'NotFoundException', message: 'é ✓ '.repeat(30) } }],
    }],
    ['keyward.v1.BatchDecryptResponse', 'keyward.v1.Kms', 'BatchDecrypt', { results: [{ key_id: arn, plaintext: Buffer.from('p') }, { error: { code: 'InvalidCiphertextException', message: '' } }] }],
    ['minikms.v1.EncryptResponse', 'minikms.v1.KMSService', 'Encrypt', { ciphertext: Buffer.alloc(90, 3).toString('base64'), key_version_id: 'v-1' }],
    ['minikms.v1.DecryptResponse', 'minikms.v1.KMSService', 'Decrypt', { plaintext: Buffer.alloc(32, 9) }],
    ['minikms.v1.BatchEncryptResponse', 'minikms.v1.KMSService', 'BatchEncrypt', { items: Array.from({ length: 3 }, (_, i) => ({ ciphertext: `c${i}`, key_version_id: `v${i}` })) }],
    ['minikms.v1.BatchDecryptResponse', 'minikms.v1.KMSService', 'BatchDecrypt', { items: [{ plaintext: Buffer.from('a') }, {}] }],
  ];

  it('answers the bytes proto-loader would', () => {
    for (const [type, service, method, message] of cases) {
      const direct = directEncoder(type);
      expect(direct, type).toBeDefined();
      expect(direct!(message).equals(serializerOf(service, method)(message)), type).toBe(true);
    }
    expect(directEncoder('keyward.v1.ListKeysResponse')).toBeUndefined();
  });
});
