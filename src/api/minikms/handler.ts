import type { Logger } from 'pino';
import { ERROR_CODES as REGISTRY, isKeywardError } from '../../errors/index.js';
import {
  auditRejected, DEFAULT_KEY_GROUP, invoke, keyGroups, operationForTarget, wipeResult,
  type AccessLog, type Credentials, type Operation, type RequestMeta, type Services,
} from '../../operations/index.js';
import { errorLine, invalidRequest, isControl, isShapeError, okLine, parseRequest, typeOf, type MiniKmsErrorCode, type MiniKmsRequest, type RequestType } from './protocol.js';

/**
 * mini-kms's request types over Keyward's operations; this file maps fields and errors, nothing
 * else. The mapping (docs/design.md, "mini-kms protocol"):
 *  - a key group is the key behind alias/<group> in the token principal's tenant; the default
 *    group (alias/default) is created on first use;
 *  - the token is a bearer token: a data token is a principal with role user, the admin token one
 *    with role admin; control types need the admin role (else AuthFailed, as mini-kms answers);
 *  - aad is bound as the encryption context {"aad": "<aad as sent, base64>"}, so the same
 *    ciphertext decrypts over the AWS protocol with that context;
 *  - ciphertexts are Keyward ciphertext blobs; every decryption failure is DecryptionFailed.
 */
type Result = Record<string, unknown>;

function op(target: string): Operation {
  const found = operationForTarget(target);
  if (found === undefined) throw new Error(`no operation ${target}`);
  return found;
}

const OPS = {
  encrypt: op('TrentService.Encrypt'),
  decrypt: op('TrentService.Decrypt'),
  reEncrypt: op('TrentService.ReEncrypt'),
  generateDataKey: op('TrentService.GenerateDataKey'),
  rotate: op('TrentService.RotateKeyOnDemand'),
  versions: op('Keyward.ListKeyVersions'),
  disable: op('Keyward.DisableKeyVersion'),
  enable: op('Keyward.EnableKeyVersion'),
  destroy: op('Keyward.DestroyKeyVersion'),
  whoami: op('Keyward.GetCallerIdentity'),
};

/** At most this many pages of ListKeyGroups (100 groups each) are gathered into one answer. */
const MAX_GROUP_PAGES = 100;
const DECRYPTION_FAILED = 'decryption failed';
/** Codes that a decryption answers as DecryptionFailed: whatever the key, version, context or blob. */
const DECRYPTION_CODES = new Set(['InvalidCiphertextException', 'IncorrectKeyException', 'NotFoundException', 'DisabledException', 'KMSInvalidStateException', 'InvalidKeyUsageException']);
const AUTH_CODES = new Set(['MissingAuthenticationTokenException', 'UnrecognizedClientException', 'IncompleteSignatureException', 'InvalidSignatureException']);

const b64 = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('base64') : '');
const alias = (group: string): string => `alias/${group}`;
const context = (req: MiniKmsRequest): Record<string, string> | undefined => (req.aad === undefined ? undefined : { aad: req.aad });

const STATUS: Record<string, string> = { Enabled: 'ENABLED', Disabled: 'DISABLED', Destroyed: 'DESTROYED' };

/** A key's versions (ListKeyVersions' or a key-group operation's answer) as mini-kms's keyGroup. */
function keyGroupOf(group: string, r: Result): Result {
  const versions = (r.Versions as Result[] | undefined) ?? [];
  return {
    keyId: group,
    activeVersion: r.PrimaryVersion,
    versions: versions.map((v) => ({
      version: v.Version,
      status: v.Primary === true ? 'ACTIVE' : STATUS[String(v.State)] ?? String(v.State).toUpperCase(),
      createdAtEpochSec: Math.floor(Number(v.CreationDate)),
    })),
  };
}

export class MiniKmsHandler {
  constructor(private readonly services: Services, private readonly log: Logger, private readonly access?: AccessLog) {}

  /** Answers one request line (never throws): the response line, with its newline. */
  async handle(line: string, meta: RequestMeta): Promise<string> {
    const started = performance.now();
    let req: MiniKmsRequest | undefined;
    let credentials: Credentials | undefined;
    try {
      req = parseRequest(line);
      credentials = req.token === undefined || req.token === '' ? { kind: 'none' } : { kind: 'bearer', token: req.token };
      const result = await this.dispatch(req, credentials, meta);
      let answer: string;
      try {
        answer = okLine(result);
      } finally {
        wipeResult(result);
      }
      this.logAccess(meta, req.type, started, 'ok', 'OK');
      return answer;
    } catch (e) {
      const type = req?.type ?? typeOfLine(line);
      const err = await auditRejected(this.services, meta, type ?? 'MiniKms', e, credentials);
      const [code, message] = this.errorOf(err, type, meta.requestId);
      this.logAccess(meta, type ?? 'MiniKms', started, code, isKeywardError(err) ? err.code : 'KMSInternalException');
      return errorLine(code, message);
    }
  }

  /** The access log line: the request type (a closed set), mini-kms's answer code as the status. */
  private logAccess(meta: RequestMeta, operation: string, started: number, status: string, code: string): void {
    this.access?.({ requestId: meta.requestId, principal: meta.observed?.principal, keyId: meta.observed?.keyId, operation, status, code, started });
  }

  private async dispatch(req: MiniKmsRequest, credentials: Credentials, meta: RequestMeta): Promise<Result> {
    const call = async (operation: Operation, body: Result): Promise<Result> => await invoke(this.services, operation, credentials, body, meta) as Result;
    const group = req.keyId ?? DEFAULT_KEY_GROUP;
    /** Runs `fn`; a missing default group is created (first use) and `fn` runs once more. */
    const inGroup = async (fn: () => Promise<Result>): Promise<Result> => {
      try {
        return await fn();
      } catch (e) {
        if (group !== DEFAULT_KEY_GROUP || !isKeywardError(e) || e.code !== 'NotFoundException') throw e;
        await call(keyGroups.provisionDefaultKeyGroup, {});
        return fn();
      }
    };
    const named = (): string => {
      if (req.keyId === undefined) throw invalidRequest(`keyId is required for ${req.type}`);
      return req.keyId;
    };
    const version = (): number => {
      if (req.version === undefined) throw invalidRequest(`version is required for ${req.type}`);
      return req.version;
    };
    switch (req.type) {
      case 'Health':
      case 'Ping': {
        // authenticates the token (mini-kms's Health is a data-plane request), audited like any other
        await call(OPS.whoami, {});
        return { detail: 'ok' };
      }
      case 'GenerateDataKey':
        return inGroup(async () => {
          const r = await call(OPS.generateDataKey, { KeyId: alias(group), KeySpec: 'AES_256', EncryptionContext: context(req) });
          return wiped(r, { plaintextDataKey: b64(r.Plaintext), wrappedDataKey: b64(r.CiphertextBlob) });
        });
      case 'Encrypt': {
        if (req.plaintext === undefined) throw invalidRequest('plaintext is required for Encrypt');
        const plaintext = req.plaintext;
        return inGroup(async () => {
          const r = await call(OPS.encrypt, { KeyId: alias(group), Plaintext: Buffer.from(plaintext), EncryptionContext: context(req) });
          return { ciphertext: b64(r.CiphertextBlob) };
        }).finally(() => plaintext.fill(0));
      }
      case 'Decrypt': {
        if (req.ciphertext === undefined) throw invalidRequest('ciphertext is required for Decrypt');
        // the blob names its key group and version; a keyId given must be that group
        const r = await call(OPS.decrypt, { CiphertextBlob: req.ciphertext, EncryptionContext: context(req), ...(req.keyId !== undefined ? { KeyId: alias(req.keyId) } : {}) });
        return wiped(r, { plaintext: b64(r.Plaintext) });
      }
      case 'ReEncrypt': {
        if (req.ciphertext === undefined) throw invalidRequest('ciphertext is required for ReEncrypt');
        const blob = req.ciphertext;
        return inGroup(async () => {
          const r = await call(OPS.reEncrypt, { CiphertextBlob: blob, SourceEncryptionContext: context(req), DestinationKeyId: alias(group), DestinationEncryptionContext: context(req) });
          return { ciphertext: b64(r.CiphertextBlob) };
        });
      }
      case 'CreateKeyGroup': {
        const name = named();
        return { keyGroup: keyGroupOf(name, await call(keyGroups.createKeyGroup, { KeyGroup: name })) };
      }
      case 'RotateKeyGroup': {
        const name = named();
        return inGroup(async () => {
          // RotateKeyOnDemand takes a key id or ARN only (as AWS): the group's key ARN first
          const before = await call(OPS.versions, { KeyId: alias(name) });
          await call(OPS.rotate, { KeyId: String(before.KeyId) });
          return { keyGroup: keyGroupOf(name, await call(OPS.versions, { KeyId: alias(name) })) };
        });
      }
      case 'ListKeyGroups': {
        const groups: Result[] = [];
        let marker: string | undefined;
        for (let page = 0; page < MAX_GROUP_PAGES; page++) {
          const r = await call(keyGroups.listKeyGroups, marker === undefined ? {} : { Marker: marker });
          for (const g of (r.KeyGroups as Result[] | undefined) ?? []) groups.push(keyGroupOf(String(g.KeyGroup), g));
          if (r.Truncated !== true || typeof r.NextMarker !== 'string') break;
          marker = r.NextMarker;
        }
        return { keyGroups: groups };
      }
      case 'DisableVersion':
      case 'EnableVersion':
      case 'DestroyVersion': {
        const name = named();
        const v = version();
        const operation = req.type === 'DisableVersion' ? OPS.disable : req.type === 'EnableVersion' ? OPS.enable : OPS.destroy;
        return inGroup(async () => {
          const r = await call(operation, { KeyId: alias(name), Version: v });
          return { detail: `key group ${name} version ${v} is now ${STATUS[String(r.State)] ?? String(r.State)}` };
        });
      }
    }
  }

  /** The mini-kms error code and message a failure answers with. */
  private errorOf(e: unknown, type: RequestType | undefined, requestId: string): [MiniKmsErrorCode, string] {
    const control = type !== undefined && isControl(type);
    if (!isKeywardError(e)) {
      this.log.error({ err: e, requestId, operation: type }, 'mini-kms request failed on the server side');
      return ['InternalError', `internal error (request id ${requestId})`];
    }
    if (AUTH_CODES.has(e.code)) return ['AuthFailed', control ? 'invalid admin token' : 'invalid API token'];
    if (e.code === 'AccessDeniedException') return control ? ['AuthFailed', 'invalid admin token'] : ['Unauthorized', e.message];
    if ((type === 'Decrypt' || type === 'ReEncrypt') && (DECRYPTION_CODES.has(e.code) || (e.code === 'ValidationException' && !isShapeError(e)))) {
      // a blob that is empty, too long, malformed, tampered, of another group or context: one answer
      return ['DecryptionFailed', DECRYPTION_FAILED];
    }
    if (REGISTRY[e.code].fault === 'client') return ['InvalidRequest', e.message];
    if (e.code === 'SealedException' || e.code === 'NotInitializedException' || e.code === 'AuditUnavailableException' || e.code === 'DependencyTimeoutException') {
      return ['InternalError', `${e.code}: ${e.message}`];
    }
    this.log.error({ err: e, requestId, operation: type, code: e.code }, 'mini-kms request failed on the server side');
    return ['InternalError', `internal error (request id ${requestId})`];
  }
}

/** The answer, once the operation's result (plaintext Buffers) is zeroed: only the base64 copy lives on, until it is sent. */
function wiped(r: Result, answer: Result): Result {
  wipeResult(r);
  return answer;
}

function typeOfLine(line: string): RequestType | undefined {
  try {
    return typeOf(JSON.parse(line));
  } catch {
    return undefined;
  }
}

