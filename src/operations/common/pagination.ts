import { KeywardError } from '../../errors/index.js';
import type { Input } from './input.js';

/**
 * Markers are opaque to callers: base64url of the position Keyward resumes after, bound to the
 * listing it came from (a marker of one listing is refused by another).
 */
export function encodeMarker(scope: string, position: string): string {
  return Buffer.from(`${scope}\n${position}`, 'utf8').toString('base64url');
}

export function decodeMarker(scope: string, marker: string | undefined): string | undefined {
  if (marker === undefined) return undefined;
  const text = /^[A-Za-z0-9_-]+$/.test(marker) ? Buffer.from(marker, 'base64url').toString('utf8') : '';
  const nl = text.indexOf('\n');
  if (nl < 0 || text.slice(0, nl) !== scope) throw new KeywardError('InvalidMarkerException', 'The Marker is not valid for this request.');
  return text.slice(nl + 1);
}

export interface PageRequest {
  readonly limit: number;
  readonly marker: string | undefined;
}

export function readPage(input: Input, max = 1000, fallback = 100): PageRequest {
  return {
    limit: input.integer('Limit', { min: 1, max }) ?? fallback,
    marker: input.string('Marker', { min: 1, max: 1024 }),
  };
}

export function pageResult<K extends string, T>(field: K, items: T[], scope: string, next: string | undefined): Record<K, T[]> & { Truncated: boolean; NextMarker?: string } {
  const out = { [field]: items, Truncated: next !== undefined } as Record<K, T[]> & { Truncated: boolean; NextMarker?: string };
  if (next !== undefined) out.NextMarker = encodeMarker(scope, next);
  return out;
}
