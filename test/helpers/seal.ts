import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface SysResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** Calls /v1/sys/<path> with an optional bearer token. */
export async function sysCall(url: string, method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<SysResponse> {
  const res = await fetch(`${url}/v1/sys/${path}`, {
    method,
    headers: { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
  });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

/**
 * A digest of every row (key, version, value) but the audit log's of a data directory's SQLite store: equal digests
 * mean a failed operation left the store untouched. Opened read-only beside a running server (WAL).
 */
export function storeDigest(dataDir: string): string {
  const db = new Database(join(dataDir, 'keyward.db'), { readonly: true, fileMustExist: true });
  try {
    const h = createHash('sha256');
    // The audit log grows with every request (refusals included) by design: compare everything else.
    const rows = db.prepare("SELECT key, version, value FROM kv WHERE key NOT LIKE 'audit/%' AND key NOT LIKE 'audit-chains/%' ORDER BY key").iterate();
    for (const row of rows as Iterable<{ key: string; version: number; value: Buffer }>) {
      h.update(`${row.key}\0${row.version}\0`).update(row.value);
    }
    return h.digest('hex');
  } finally {
    db.close();
  }
}

/** Init body fields of an admin's credentials. */
export function adminOf(body: Record<string, unknown>): { accessKeyId: string; secretAccessKey: string; token: string } {
  const c = body.credentials as { access_key_id: string; secret_access_key: string; token: string };
  return { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key, token: c.token };
}

/** Whether any file of the data directory (database, WAL) holds these bytes. */
export function dataDirContains(dataDir: string, needle: Buffer): boolean {
  return readdirSync(dataDir).some((f) => {
    const p = join(dataDir, f);
    return statSync(p).isFile() && readFileSync(p).includes(needle);
  });
}

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** A fresh SoftHSM2 token in its own directory (SOFTHSM2_CONF), so tests never share HSM state. */
export function softHsmToken(dir: string, label = 'keyward', pin = '12345678'): { env: NodeJS.ProcessEnv; label: string; pin: string } {
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { recursive: true });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf };
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '87654321'], { env: { ...process.env, ...env }, stdio: 'pipe' });
  return { env, label, pin };
}
