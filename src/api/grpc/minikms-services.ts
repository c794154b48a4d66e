import { KeywardError, isErrorCode } from '../../errors/index.js';
import { invoke, operationForTarget, type Credentials, type Operation, type RequestMeta } from '../../operations/index.js';
import { unaryCall, type GrpcEnv, type Implementation } from './unary.js';

/**
 * miniKMS's published API (proto/minikms/v1) over Keyward's scope and audit operations: this
 * file maps miniKMS's messages to those operations' inputs and back, nothing else.
 *  - tenant_id is a Keyward tenant, scope_id a scope; both are required (empty is refused).
 *  - aad is bound as the encryption context {"aad": aad} (no context when empty).
 *  - ciphertexts are the Keyward ciphertext blob in base64, as miniKMS sends them.
 *  - miniKMS's batches have no per-item error: a failed item fails the call with its code.
 */
type Msg = Record<string, unknown>;

function op(name: string): Operation {
  const found = operationForTarget(`Keyward.${name}`);
  if (found === undefined) throw new Error(`no operation Keyward.${name}`);
  return found;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const aad = (v: unknown): Record<string, string> | undefined => (str(v) === '' ? undefined : { aad: str(v) });
const optional = (v: unknown): string | undefined => (str(v) === '' ? undefined : str(v));
const scope = (r: Msg) => ({ TenantId: str(r.tenant_id), ScopeId: str(r.scope_id) });
const b64 = (v: unknown): string => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : '');
const items = (v: unknown): Msg[] => (Array.isArray(v) ? v as Msg[] : []);

/** A batch result list, or the first failed item's error for the whole call. */
function allItems(result: unknown): Msg[] {
  const results = (result as { Results?: Msg[] }).Results ?? [];
  results.forEach((r, i) => {
    const e = r.Error as { Code?: string; Message?: string } | undefined;
    if (e !== undefined) {
      const code = e.Code !== undefined && isErrorCode(e.Code) ? e.Code : 'KMSInternalException';
      throw new KeywardError(code, `item ${i + 1}: ${e.Message ?? ''}`);
    }
  });
  return results;
}

export function miniKmsKmsService(env: GrpcEnv): Implementation {
  const call = (name: string, toInput: (r: Msg) => Msg, toMessage: (result: Msg) => Msg) => {
    const operation = op(name);
    return unaryCall(env, operation.name, async (request: Msg, credentials: Credentials, meta: RequestMeta) =>
      toMessage(await invoke(env.services, operation, credentials, toInput(request), meta) as Msg));
  };
  return {
    Encrypt: call('ScopeEncrypt',
      (r) => ({ ...scope(r), Plaintext: r.plaintext ?? Buffer.alloc(0), EncryptionContext: aad(r.aad) }),
      (res) => ({ ciphertext: b64(res.CiphertextBlob), key_version_id: res.KeyVersionId })),
    Decrypt: call('ScopeDecrypt',
      (r) => ({ ...scope(r), CiphertextBlob: str(r.ciphertext), EncryptionContext: aad(r.aad), KeyVersionId: optional(r.key_version_id) }),
      (res) => ({ plaintext: res.Plaintext })),
    BatchEncrypt: call('BatchScopeEncrypt',
      (r) => ({ ...scope(r), Items: items(r.items).map((i) => ({ Plaintext: i.plaintext ?? Buffer.alloc(0), EncryptionContext: aad(i.aad) })) }),
      (res) => ({ items: allItems(res).map((x) => ({ ciphertext: b64(x.CiphertextBlob), key_version_id: x.KeyVersionId })) })),
    BatchDecrypt: call('BatchScopeDecrypt',
      (r) => ({ ...scope(r), Items: items(r.items).map((i) => ({ CiphertextBlob: str(i.ciphertext), EncryptionContext: aad(i.aad), KeyVersionId: optional(i.key_version_id) })) }),
      (res) => ({ items: allItems(res).map((x) => ({ plaintext: x.Plaintext })) })),
    CreateDataKey: call('CreateScope', scope, (res) => ({ key_version_id: res.KeyVersionId, version: res.Version })),
    RotateDataKey: call('RotateScope', scope, (res) => ({ new_key_version_id: res.KeyVersionId })),
    ReEncrypt: call('ScopeReEncrypt',
      (r) => ({
        ...scope(r), CiphertextBlob: str(r.ciphertext), SourceEncryptionContext: aad(r.source_aad),
        DestinationEncryptionContext: aad(r.target_aad), SourceKeyVersionId: optional(r.source_key_version_id),
      }),
      (res) => ({ ciphertext: b64(res.CiphertextBlob), key_version_id: res.KeyVersionId })),
    GetKeyInfo: call('DescribeScope', scope, (res) => ({
      key_version_id: res.KeyVersionId, version: res.Version, encryption_count: res.EncryptionCount, max_encryptions: res.MaxEncryptions, status: res.Status,
    })),
  };
}

/**
 * miniKMS's AuditService over Keyward's audit log (system administrators): the answering node's
 * chain, filtered by tenant (org_id), with offset paging; VerifyChain verifies every chain.
 */
export function miniKmsAuditService(env: GrpcEnv): Implementation {
  const list = op('ListAuditRecords');
  const verify = op('VerifyAudit');
  return {
    GetAuditLogs: unaryCall(env, list.name, async (r: Msg, credentials, meta) => {
      const limit = typeof r.limit === 'number' && r.limit !== 0 ? r.limit : 100;
      const input = { ...(optional(r.org_id) !== undefined ? { Tenant: str(r.org_id) } : {}), Limit: limit, ...(typeof r.offset === 'number' ? { Offset: r.offset } : {}) };
      const res = await invoke(env.services, list, credentials, input, meta) as { Records?: Msg[] };
      return { entries: (res.Records ?? []).map(entry) };
    }),
    VerifyChain: unaryCall(env, verify.name, async (_r: Msg, credentials, meta) => {
      const res = await invoke(env.services, verify, credentials, {}, meta) as { ok?: boolean };
      return { valid: res.ok === true };
    }),
  };
}

/** One audit record as a miniKMS AuditEntry. */
function entry(r: Msg): Msg {
  const { chain, seq, prev, hash, time, op: action, principal, tenant, credential, ...rest } = r;
  const { type: _t, v: _v, ...details } = rest;
  return {
    id: `${str(chain)}:${String(seq)}`,
    previous_hash: prev,
    entry_hash: hash,
    timestamp: time,
    action,
    actor_id: principal ?? '',
    org_id: tenant ?? '',
    details: JSON.stringify(details),
    request_jwt_hash: credential ?? '',
  };
}
