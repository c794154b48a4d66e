import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { callTarget } from './keyward-api.js';

/** What VerifyAudit and `keyward audit verify` answer. */
export interface VerifyReportJson {
  ok: boolean;
  firstBreak: { chain: string; seq: number; kind: string; where: string; message: string } | null;
  breaks: Array<{ chain: string; seq: number; kind: string; message: string }>;
  chains: Array<{ chain: string; ok: boolean; records: number; lastSeq: number | null; lastCheckpointSeq: number | null; signaturesChecked: boolean; unanchored: { from: number; to: number } | null }>;
}

export type Auth = { token: string } | { accessKeyId: string; secretAccessKey: string };

export async function verifyAudit(url: string, auth: Auth, body: Record<string, unknown> = {}): Promise<VerifyReportJson> {
  const r = await callTarget(url, 'Keyward.VerifyAudit', body, auth);
  if (r.status !== 200) throw new Error(`VerifyAudit failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as unknown as VerifyReportJson;
}

/** Canonical JSON as Keyward writes it (sorted keys): what an attacker re-computing hashes uses. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The hash a record claims, recomputed as an attacker with the format (not the keys) would. */
export function rehash(record: Record<string, unknown>): Record<string, unknown> {
  const { hash: _h, ...rest } = record;
  return { ...rest, hash: sha256Hex(canonical(rest)) };
}

/** A checkpoint signed with a key that is not Keyward's (the attacker's). */
export function forgeCheckpoint(cp: Record<string, unknown>, head: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const { sig: _s, ...rest } = { ...cp, head } as Record<string, unknown>;
  return { ...rest, sig: sign(null, Buffer.from(canonical(rest)), privateKey).toString('base64') };
}
