import type { KeyObject } from 'node:crypto';
import { createPrivateKey } from 'node:crypto';
import { generatePrivateKey, PrivateKeyHandle, randomBytes, zeroize } from '../crypto/index.js';
import { KeywardError } from '../errors/index.js';
import type { Barrier } from '../barrier/index.js';
import type { Clock } from './clock.js';
import type { WrappingAlgorithm, WrappingKeySpec } from './key-specs.js';
import { unwrapSecret, wrapSecret } from './material.js';
import { paths } from './paths.js';
import { decodeRecord, encodeRecord } from './records.js';
import type { Tenants } from './tenants.js';
import type { Tenant } from './types.js';

/** AWS: an import token and its public key are valid for 24 hours. */
export const IMPORT_TOKEN_TTL_MS = 24 * 3600 * 1000;
/** Outstanding tokens kept per key; asking for more drops the oldest (bounded storage). */
const MAX_TOKENS_PER_KEY = 8;
const TOKEN_VERSION = 0x01;
const TOKEN_ID_BYTES = 16;

interface ImportTokenRecord {
  readonly wrapped: string;
  readonly algorithm: WrappingAlgorithm;
  readonly wrappingKeySpec: WrappingKeySpec;
  readonly validTo: string;
}

export interface ImportParameters {
  readonly importToken: Buffer;
  /** DER SubjectPublicKeyInfo of the RSA wrapping key. */
  readonly publicKey: Buffer;
  readonly validTo: string;
}

export interface OpenedImportToken {
  readonly algorithm: WrappingAlgorithm;
  readonly privateKey: KeyObject;
}

/**
 * GetParametersForImport's wrapping keys: an RSA key pair per request, its private key wrapped
 * under the tenant master key and stored under the tenant and key it was issued for. The import
 * token names that record (version, key id, token id): it is useless for any other key, and
 * after 24 hours it is refused.
 */
export class Imports {
  constructor(private readonly barrier: Barrier, private readonly tenants: Tenants, private readonly clock: Clock) {}

  async issue(tenant: Tenant, keyId: string, wrappingKeySpec: WrappingKeySpec, algorithm: WrappingAlgorithm): Promise<ImportParameters> {
    const bits = Number(wrappingKeySpec.slice('RSA_'.length));
    const pkcs8 = await generatePrivateKey({ kind: 'rsa', bits });
    const tokenId = randomBytes(TOKEN_ID_BYTES).toString('hex');
    try {
      const publicKey = new PrivateKeyHandle({ kind: 'rsa', bits }, pkcs8).publicKeyDer;
      const now = this.clock();
      const validTo = new Date(now.getTime() + IMPORT_TOKEN_TTL_MS).toISOString();
      const tmk = await this.tenants.masterKey(tenant);
      const record: ImportTokenRecord = { wrapped: wrapSecret(tmk, aad(tenant.id, keyId, tokenId), pkcs8), algorithm, wrappingKeySpec, validTo };
      await this.barrier.transaction(async (tx) => {
        const existing = (await tx.list(paths.importTokens(tenant.id, keyId), { limit: 1000 })).entries
          .map((e) => ({ path: e.path, record: decodeRecord<ImportTokenRecord>(e) }))
          .sort((a, b) => a.record.validTo.localeCompare(b.record.validTo));
        const stale = existing.filter((e, i) => Date.parse(e.record.validTo) <= now.getTime() || existing.length - i >= MAX_TOKENS_PER_KEY);
        for (const e of stale) await tx.delete(e.path);
        await tx.put(paths.importToken(tenant.id, keyId, tokenId), encodeRecord(record), { ifVersion: 0 });
      });
      const importToken = Buffer.concat([Buffer.from([TOKEN_VERSION]), Buffer.from(keyId.replace(/-/g, ''), 'hex'), Buffer.from(tokenId, 'hex')]);
      return { importToken, publicKey, validTo };
    } finally {
      zeroize(pkcs8);
    }
  }

  /** The wrapping key a token names, if the token is this key's and still valid. */
  async open(tenant: Tenant, keyId: string, token: Uint8Array): Promise<OpenedImportToken> {
    const invalid = () => new KeywardError('InvalidImportTokenException', 'The import token is invalid or was not issued for this key.');
    const keyHex = keyId.replace(/-/g, '');
    if (token.length !== 1 + 16 + TOKEN_ID_BYTES || token[0] !== TOKEN_VERSION || Buffer.from(token.subarray(1, 17)).toString('hex') !== keyHex) throw invalid();
    const tokenId = Buffer.from(token.subarray(17)).toString('hex');
    const entry = await this.barrier.get(paths.importToken(tenant.id, keyId, tokenId));
    if (entry === undefined) throw invalid();
    const record = decodeRecord<ImportTokenRecord>(entry);
    if (Date.parse(record.validTo) <= this.clock().getTime()) {
      throw new KeywardError('ExpiredImportTokenException', 'The import token expired; call GetParametersForImport for a new one.');
    }
    const tmk = await this.tenants.masterKey(tenant);
    const pkcs8 = unwrapSecret(tmk, aad(tenant.id, keyId, tokenId), record.wrapped, 'an import wrapping key');
    try {
      return { algorithm: record.algorithm, privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }) };
    } finally {
      zeroize(pkcs8);
    }
  }
}

function aad(tenantId: string, keyId: string, tokenId: string): string {
  return `import-wrapping-key|${tenantId}|${keyId}|${tokenId}`;
}
