import { mayUse, principalArn } from '../../authz/index.js';
import { KeywardError, quote } from '../../errors/index.js';
import { readBlobHeader } from '../../format/index.js';
import type { KeyRecord } from '../../keyring/index.js';
import type { CallerContext } from '../context.js';
import { decryptBlob } from './ciphertext.js';
import { invalid, type Input } from './input.js';

/**
 * Scopes (miniKMS's model): a named key inside a tenant that callers use by name, created on
 * first use. Underneath it is an ordinary key (visible to ListKeys) behind the alias
 * `alias/scope/<scope id>`, with usage-bounded rotation (`maxEncryptions` per version).
 */
export const SCOPE_ALIAS_PREFIX = 'alias/scope/';
/** An alias name is at most 256 characters, so a scope id is at most 256 - 12. */
export const MAX_SCOPE_ID = 256 - SCOPE_ALIAS_PREFIX.length;
const SCOPE_ID = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;
const KEY_VERSION_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([1-9][0-9]{0,9})$/;

export interface ScopeRequest {
  /** The tenant the caller names (it must be its own); undefined: the caller's. */
  readonly tenantId: string | undefined;
  readonly scopeId: string;
}

/** TenantId (optional, but not empty) and ScopeId of a scope request. */
export function readScope(input: Input): ScopeRequest {
  const tenantId = input.string('TenantId', { min: 1, max: 63 });
  const scopeId = input.requiredString('ScopeId', {
    min: 1, max: MAX_SCOPE_ID, pattern: SCOPE_ID, patternText: `1-${MAX_SCOPE_ID} characters of A-Z, a-z, 0-9, '_', '-' and '/' (not at either end, not doubled)`,
  });
  return { tenantId, scopeId };
}

/** A data-plane principal uses scopes of its own tenant only (another tenant's look the same whether they exist or not). */
export function checkScopeTenant(ctx: CallerContext, req: ScopeRequest): void {
  if (req.tenantId !== undefined && req.tenantId !== ctx.caller.tenant.id) {
    throw new KeywardError('AccessDeniedException', `User: ${principalArn(ctx.caller)} may use the scopes of its own tenant (${ctx.caller.tenant.id}) only, not of tenant ${req.tenantId}.`);
  }
}

/** `<key id>:<version>`: names the exact key version a ciphertext was made with. */
export function keyVersionId(key: KeyRecord, version: number): string {
  return `${key.keyId}:${version}`;
}

export function parseKeyVersionId(value: string, field: string): { keyId: string; version: number } {
  const m = KEY_VERSION_ID.exec(value);
  if (!m) throw invalid(field, 'Member must be a key version id as Keyward answers it (<key id>:<version>)');
  return { keyId: m[1]!, version: Number(m[2]) };
}

/** The scope's key, or undefined if the scope does not exist (yet). */
export async function findScope(ctx: CallerContext, req: ScopeRequest): Promise<KeyRecord | undefined> {
  checkScopeTenant(ctx, req);
  const { keyring } = ctx.services;
  const alias = await keyring.aliases.find(ctx.caller.tenant, SCOPE_ALIAS_PREFIX + req.scopeId);
  if (alias === undefined) return undefined;
  ctx.audit.keyId = alias.targetKeyId;
  return keyring.keys.find(ctx.caller.tenant, alias.targetKeyId);
}

export async function requireScope(ctx: CallerContext, req: ScopeRequest): Promise<KeyRecord> {
  const key = await findScope(ctx, req);
  if (key === undefined) throw new KeywardError('NotFoundException', `Scope ${quote(req.scopeId)} does not exist in tenant ${ctx.caller.tenant.id}.`);
  return key;
}

/**
 * The scope's key, created on first use (key and alias in one transaction: of two requests that
 * create it at once, on any nodes, one wins and both use its key). Creating is a data-plane right
 * unless the tenant turned implicit creation off; then only admins create scopes.
 */
export async function provisionScope(ctx: CallerContext, req: ScopeRequest): Promise<{ key: KeyRecord; created: boolean }> {
  const existing = await findScope(ctx, req);
  if (existing !== undefined) return { key: existing, created: false };
  const tenant = ctx.caller.tenant;
  if (tenant.scopes?.implicitCreate === false && !mayUse(ctx.caller, 'control')) {
    throw new KeywardError('AccessDeniedException', `Scope ${quote(req.scopeId)} does not exist and tenant ${tenant.id} does not let data-plane principals create scopes; an admin must create it (CreateScope).`);
  }
  const { keyring } = ctx.services;
  const aliasName = SCOPE_ALIAS_PREFIX + req.scopeId;
  try {
    const key = await keyring.keys.create(tenant, {
      description: `Scope ${req.scopeId}`, tags: {}, maxEncryptions: ctx.services.scopeMaxEncryptions,
    }, (tx, k) => keyring.aliases.create(tenant, aliasName, k.keyId, tx));
    keyring.aliases.invalidate(tenant.id, aliasName);
    ctx.audit.keyId = key.keyId;
    return { key, created: true };
  } catch (e) {
    if (!(e instanceof KeywardError) || e.code !== 'AlreadyExistsException') throw e;
    // another request created it first: use that one
    keyring.aliases.invalidate(tenant.id, aliasName);
    return { key: await requireScope(ctx, req), created: false };
  }
}

/**
 * Decrypts a ciphertext of the scope: made by the scope's key (else IncorrectKeyException, as
 * Decrypt with a KeyId), and by the version `keyVersionId` names when one is given. Every
 * cryptographic failure stays the one InvalidCiphertextException.
 */
export async function decryptInScope(ctx: CallerContext, key: KeyRecord, blob: Buffer, context: Record<string, string> | undefined, keyVersionIdParam: { value: string | undefined; field: string }): Promise<{ plaintext: Buffer; version: number }> {
  const named = keyVersionIdParam.value === undefined ? undefined : parseKeyVersionId(keyVersionIdParam.value, keyVersionIdParam.field);
  if (named !== undefined && named.keyId !== key.keyId) {
    throw new KeywardError('IncorrectKeyException', `${keyVersionIdParam.field} names a version of another key, not of this scope's key.`);
  }
  const { plaintext } = await decryptBlob(ctx, blob, context, key.keyId, 'Decrypt');
  const version = readBlobHeader(blob).version;
  if (named !== undefined && named.version !== version) {
    plaintext.fill(0);
    throw new KeywardError('IncorrectKeyException', `${keyVersionIdParam.field} names version ${named.version}, not the version that made this ciphertext.`);
  }
  return { plaintext, version };
}

/** The version of the key a fresh ciphertext names. */
export function versionOf(blob: Buffer): number {
  return readBlobHeader(blob).version;
}
