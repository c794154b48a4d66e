/**
 * Where the audit log lives in the store. Entries are stored in the clear (they hold no secret:
 * sensitive values are digests), so anyone with the public key can verify an export; their
 * integrity comes from the hash chain and the signed checkpoints, not from the barrier.
 */
export const AUDIT_PREFIX = 'audit/';
export const CHAIN_INDEX_PREFIX = 'audit-chains/';
/** The store epoch: advanced, with a signed checkpoint, by every state change (see anchor.ts). */
export const EPOCH_PATH = 'audit-state/epoch';
const SEQ_DIGITS = 15;

export function chainPrefix(chain: string): string {
  return `${AUDIT_PREFIX}${encodeURIComponent(chain)}/`;
}

export function recordPrefix(chain: string): string {
  return `${chainPrefix(chain)}r/`;
}

export function checkpointPrefix(chain: string): string {
  return `${chainPrefix(chain)}c/`;
}

export function recordPath(chain: string, seq: number): string {
  return recordPrefix(chain) + padSeq(seq);
}

export function checkpointPath(chain: string, seq: number): string {
  return checkpointPrefix(chain) + padSeq(seq);
}

/** The chain's head: `{seq, hash}` of its last record, advanced by compare-and-set. */
export function headPath(chain: string): string {
  return `${chainPrefix(chain)}head`;
}

export function chainIndexPath(chain: string): string {
  return CHAIN_INDEX_PREFIX + encodeURIComponent(chain);
}

export function chainFromIndexPath(path: string): string {
  return decodeURIComponent(path.slice(CHAIN_INDEX_PREFIX.length));
}

export function padSeq(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0');
}

/** The sequence number a record or checkpoint path names (NaN if it names none). */
export function seqOfPath(path: string): number {
  const last = path.slice(path.lastIndexOf('/') + 1);
  return /^\d+$/.test(last) ? Number(last) : Number.NaN;
}
