import { KeywardError, MAX_QUOTED } from '../errors/index.js';
import type { Tenant } from './types.js';

/** What a KeyId parameter names: a key (by id or ARN) or an alias (by name or ARN). */
export type KeyRef = { readonly kind: 'key'; readonly keyId: string } | { readonly kind: 'alias'; readonly aliasName: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ARN = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key\/.+|alias\/.+)$/;

export function isKeyId(s: string): boolean {
  return UUID.test(s);
}

export function keyArn(region: string, tenant: Tenant, keyId: string): string {
  return `arn:aws:kms:${region}:${tenant.accountId}:key/${keyId}`;
}

export function aliasArn(region: string, tenant: Tenant, aliasName: string): string {
  return `arn:aws:kms:${region}:${tenant.accountId}:${aliasName}`;
}

/**
 * The caller's text inside AWS's single quotes: a key ARN whole (a fixed shape), anything else at
 * most MAX_QUOTED characters, escaped.
 */
function shown(input: string): string {
  if (KEY_ARN.test(input)) return input;
  const cut = input.length > MAX_QUOTED;
  return `${JSON.stringify(cut ? input.slice(0, MAX_QUOTED) : input).slice(1, -1)}${cut ? '...' : ''}`;
}

/**
 * Parses a KeyId parameter. An ARN of another region or another tenant's account names nothing
 * here: NotFoundException, the same answer as for a key that does not exist.
 */
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]{1,32}:\d{12}:key\/[0-9a-f-]{36}$/;

export function parseKeyRef(input: string, region: string, tenant: Tenant): KeyRef {
  if (UUID.test(input)) return { kind: 'key', keyId: input };
  if (input.startsWith('alias/')) return { kind: 'alias', aliasName: input };
  const m = ARN.exec(input);
  if (m) {
    const [, arnRegion, account, resource = ''] = m;
    if (arnRegion !== region || account !== tenant.accountId) {
      throw new KeywardError('NotFoundException', `Key '${shown(input)}' does not exist`);
    }
    if (resource.startsWith('alias/')) return { kind: 'alias', aliasName: resource };
    const id = resource.slice('key/'.length);
    if (UUID.test(id)) return { kind: 'key', keyId: id };
  }
  throw new KeywardError('NotFoundException', `Invalid keyId '${shown(input)}'`);
}
