import type { KeyObject } from 'node:crypto';
import { checkpointSignatureValid } from './audit-keys.js';
import { keySetOf, type CheckpointKeySet } from './checkpoint-keys.js';
import {
  GENESIS_HASH, parseEntry, recordHash, RESUME_OPERATION, type AuditCheckpoint, type AuditRecord,
} from './record.js';

export type AuditBreakKind =
  | 'malformed' | 'edited' | 'chain' | 'deleted' | 'reordered' | 'truncated' | 'forged-checkpoint'
  | 'checkpoint-mismatch' | 'appended' | 'unanchored' | 'missing-chain' | 'rolled-back' | 'unknown-checkpoint-key';

/** One place where the log is not what Keyward wrote. */
export interface AuditBreak {
  readonly chain: string;
  /** The sequence number where the break shows. */
  readonly seq: number;
  readonly kind: AuditBreakKind;
  /** Where it was found: a store path or `file:line`. */
  readonly where: string;
  readonly message: string;
}

export interface ChainReport {
  readonly chain: string;
  readonly ok: boolean;
  readonly records: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly checkpoints: number;
  readonly lastCheckpointSeq: number | null;
  /** Whether checkpoint signatures were checked (a public key was available). */
  readonly signaturesChecked: boolean;
  /** Records not yet covered by a signed checkpoint (normal for a running node, briefly). */
  readonly unanchored: { readonly from: number; readonly to: number } | null;
  readonly firstBreak: AuditBreak | null;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly chains: readonly ChainReport[];
  /** The first break of the first broken chain. */
  readonly firstBreak: AuditBreak | null;
  /** Every break found (capped), in chain then sequence order. */
  readonly breaks: readonly AuditBreak[];
}

/** One stored or shipped entry before parsing, with where it came from. */
export interface RawEntry {
  readonly where: string;
  readonly text: string;
  /** The sequence number the store path names (store sources only): a mismatch is a reorder. */
  readonly pathSeq?: number;
}

export interface VerifyOptions {
  /** Trust the chain from this sequence number on (earlier records are skipped). */
  readonly from?: number;
  /** Checkpoint signatures are checked only with public keys: one key (a single version) ... */
  readonly publicKey?: KeyObject;
  /** ... or every checkpoint key version's, by fingerprint (each checkpoint names the one that signed it). */
  readonly publicKeys?: CheckpointKeySet;
  readonly now: Date;
  /** Extra time allowed beyond the checkpoint interval before an unsigned tail is stale. */
  readonly graceMs?: number;
  /** A record this node's anchor saw on the chain: the chain must still hold it (not truncated or rewritten). */
  readonly anchor?: { readonly seq: number; readonly hash: string };
}

const MAX_BREAKS = 100;
const DEFAULT_GRACE_MS = 60_000;
/** Break kinds reported at the same sequence number: the more specific first. */
const PRIORITY: Record<AuditBreakKind, number> = {
  malformed: 0, reordered: 1, edited: 2, deleted: 3, chain: 4, 'unknown-checkpoint-key': 5, 'forged-checkpoint': 5, 'checkpoint-mismatch': 6,
  truncated: 7, appended: 8, unanchored: 9, 'missing-chain': 10, 'rolled-back': 11,
};

const short = (fingerprint: unknown) => (typeof fingerprint === 'string' ? fingerprint.slice(0, 16) : JSON.stringify(fingerprint));

/** The trusted keys of the options, by fingerprint (undefined: signatures are not checked). */
function trustedKeys(options: VerifyOptions): CheckpointKeySet | undefined {
  if (options.publicKeys !== undefined) return options.publicKeys;
  return options.publicKey === undefined ? undefined : keySetOf([{ version: 0, publicKey: options.publicKey }]);
}

/** Why a checkpoint's signature is not to be believed, or undefined when it verifies. */
function signatureProblem(c: AuditCheckpoint, keys: CheckpointKeySet): { kind: AuditBreakKind; message: string } | undefined {
  const trusted = keys.get(c.keyFingerprint);
  const version = typeof c.keyVersion === 'number' ? `version ${c.keyVersion}, ` : '';
  if (trusted === undefined) {
    const known = [...keys.entries()].map(([fp, k]) => (k.version > 0 ? `version ${k.version} ${short(fp)}` : short(fp))).join(', ');
    return {
      kind: 'unknown-checkpoint-key',
      message: `the checkpoint at record ${c.seq} is signed by checkpoint key ${version}fingerprint ${short(c.keyFingerprint)}, which is not among the public keys given (${known}): get every version's public key with \`keyward audit checkpoint-keys\`; a key nobody published is a forgery`,
    };
  }
  if (!checkpointSignatureValid(c, trusted.key)) {
    return { kind: 'forged-checkpoint', message: `the checkpoint at record ${c.seq} is forged: its signature does not verify with the checkpoint key it names (${version}fingerprint ${short(c.keyFingerprint)})` };
  }
  return undefined;
}

/**
 * Verifies one chain: every record's hash, each record's link to the one before, sequence
 * continuity, every checkpoint's signature and that it signed the record at its sequence, and
 * that nothing follows the last checkpoint that should not. Entries come in stored order.
 */
export function verifyChain(chain: string, entries: Iterable<RawEntry>, options: VerifyOptions): ChainVerification {
  const breaks: AuditBreak[] = [];
  const add = (b: Omit<AuditBreak, 'chain'>) => {
    if (breaks.length < MAX_BREAKS) breaks.push({ chain, ...b });
  };
  const from = options.from ?? 1;
  const records: Array<{ r: AuditRecord; where: string }> = [];
  const checkpoints: Array<{ c: AuditCheckpoint; where: string }> = [];
  for (const raw of entries) {
    let entry;
    try {
      entry = parseEntry(raw.text);
    } catch (e) {
      add({ seq: raw.pathSeq ?? 0, kind: 'malformed', where: raw.where, message: `${raw.where} is not an audit entry: ${(e as Error).message}` });
      continue;
    }
    if (entry.chain !== chain) {
      add({ seq: entry.seq, kind: 'malformed', where: raw.where, message: `${raw.where} belongs to chain ${JSON.stringify(entry.chain)}, not ${JSON.stringify(chain)}` });
      continue;
    }
    if (entry.seq < from && !(entry.type === 'checkpoint' && entry.seq === from - 1)) continue;
    if (entry.type === 'checkpoint') {
      checkpoints.push({ c: entry, where: raw.where });
      continue;
    }
    if (raw.pathSeq !== undefined && raw.pathSeq !== entry.seq) {
      add({ seq: raw.pathSeq, kind: 'reordered', where: raw.where, message: `the record stored as seq ${raw.pathSeq} is record ${entry.seq}: records were reordered (moved between positions)` });
    }
    records.push({ r: entry, where: raw.where });
  }

  // The chain itself.
  const bySeq = new Map<number, AuditRecord>();
  let prev: AuditRecord | undefined;
  for (const { r, where } of records) {
    if (recordHash(r) !== r.hash) {
      add({ seq: r.seq, kind: 'edited', where, message: `record ${r.seq} was edited: its content does not match its hash` });
    }
    if (prev === undefined) {
      if (r.seq === 1) {
        if (r.prev !== GENESIS_HASH) add({ seq: 1, kind: 'chain', where, message: 'record 1 does not start the chain (its previous hash is not the genesis value)' });
      } else if (options.from === undefined) {
        const anchor = checkpoints.find((x) => x.c.seq === r.seq - 1 && x.c.kind === 'anchor');
        if (anchor === undefined) {
          add({ seq: 1, kind: 'deleted', where, message: `records 1..${r.seq - 1} are missing (deleted): the log starts at ${r.seq} without a retention anchor checkpoint at ${r.seq - 1}` });
        } else if (anchor.c.head !== r.prev) {
          add({ seq: r.seq, kind: 'chain', where, message: `record ${r.seq} does not chain to the retention anchor checkpoint at ${r.seq - 1}` });
        }
      }
    } else if (r.seq === prev.seq + 1) {
      if (r.prev !== prev.hash) {
        add({ seq: r.seq, kind: 'chain', where, message: `record ${r.seq} does not chain to record ${prev.seq}: record ${prev.seq} was replaced or record ${r.seq} rewritten` });
      }
    } else if (r.seq <= prev.seq && bySeq.get(r.seq)?.hash === r.hash && recordHash(r) === r.hash) {
      // The same record shipped twice (a sink retried a batch it had partly written): harmless.
      continue;
    } else if (r.seq <= prev.seq) {
      add({ seq: r.seq, kind: 'reordered', where, message: `record ${r.seq} appears after record ${prev.seq}: records were reordered` });
    } else {
      add({ seq: prev.seq + 1, kind: 'deleted', where, message: `records ${prev.seq + 1}..${r.seq - 1} are missing (deleted): record ${r.seq} follows record ${prev.seq}` });
    }
    if (!bySeq.has(r.seq)) bySeq.set(r.seq, r);
    if (prev === undefined || r.seq > prev.seq) prev = r;
  }
  const firstSeq = records[0]?.r.seq ?? null;
  const lastSeq = prev?.seq ?? null;

  // The checkpoints.
  checkpoints.sort((a, b) => a.c.seq - b.c.seq);
  let lastValid: AuditCheckpoint | undefined;
  const keys = trustedKeys(options);
  for (const { c, where } of checkpoints) {
    const problem = keys === undefined ? undefined : signatureProblem(c, keys);
    if (problem !== undefined) {
      add({ seq: c.seq, where, ...problem });
      continue;
    }
    const r = bySeq.get(c.seq);
    if (r === undefined) {
      if (lastSeq === null || c.seq > lastSeq) {
        const end = lastSeq ?? 0;
        add({ seq: end + 1, kind: 'truncated', where, message: `the log was truncated: it ends at record ${end}, but a signed checkpoint covers records up to ${c.seq} (records ${end + 1}..${c.seq} were removed)` });
      } else if (c.kind !== 'anchor' || c.seq !== (firstSeq ?? 0) - 1) {
        add({ seq: c.seq, kind: 'deleted', where, message: `record ${c.seq}, signed by a checkpoint, is missing (deleted)` });
      }
    } else if (r.hash !== c.head) {
      add({ seq: c.seq, kind: 'checkpoint-mismatch', where, message: `record ${c.seq} is not the record its signed checkpoint covers: the chain up to ${c.seq} was rewritten after it was signed` });
    }
    // at one sequence number a final or periodic checkpoint says more than a file's anchor
    if (lastValid === undefined || c.seq > lastValid.seq || (c.seq === lastValid.seq && c.kind !== 'anchor')) lastValid = c;
  }

  // What follows the last checkpoint.
  let unanchored: ChainReport['unanchored'] = null;
  if (lastSeq !== null && (lastValid === undefined || lastSeq > lastValid.seq)) {
    const tailFrom = lastValid === undefined ? (firstSeq ?? 1) : lastValid.seq + 1;
    unanchored = { from: tailFrom, to: lastSeq };
    const first = bySeq.get(tailFrom);
    const last = bySeq.get(lastSeq);
    if (lastValid?.kind === 'final' && first !== undefined && first.op !== RESUME_OPERATION) {
      add({ seq: tailFrom, kind: 'appended', where: `record ${tailFrom}`, message: `record ${tailFrom} was appended after the final checkpoint at ${lastValid.seq} (a node continuing its chain writes ${RESUME_OPERATION} first)` });
    } else if (lastValid !== undefined && last !== undefined) {
      const limitMs = lastValid.everyMs + (options.graceMs ?? DEFAULT_GRACE_MS);
      const age = options.now.getTime() - Date.parse(first?.time ?? last.time);
      if (age > limitMs) {
        add({ seq: tailFrom, kind: 'unanchored', where: `record ${tailFrom}`, message: `records ${tailFrom}..${lastSeq} are not covered by a signed checkpoint although the policy (every ${lastValid.everyRecords} records or ${lastValid.everyMs} ms) would have signed them: they were appended, or the node stopped (or stayed sealed) before signing` });
      }
    }
  }

  // What the node-local anchor saw of this chain.
  const seen = options.anchor;
  if (seen !== undefined) {
    const r = bySeq.get(seen.seq);
    if (lastSeq === null && checkpoints.length === 0) {
      add({ seq: seen.seq, kind: 'missing-chain', where: `chain ${chain}`, message: `the chain ${chain} is missing (deleted): this node's anchor saw it up to record ${seen.seq}` });
    } else if (lastSeq === null || lastSeq < seen.seq) {
      const end = lastSeq ?? 0;
      add({ seq: end + 1, kind: 'rolled-back', where: `chain ${chain}`, message: `the log was rolled back: it ends at record ${end}, but this node's anchor saw record ${seen.seq} (records ${end + 1}..${seen.seq} were removed and the head reset)` });
    } else if (r !== undefined && r.hash !== seen.hash) {
      add({ seq: seen.seq, kind: 'rolled-back', where: `chain ${chain}`, message: `record ${seen.seq} is not the record this node's anchor saw there: the chain was cut back (or rewritten) and has been continued since` });
    }
  }

  breaks.sort((a, b) => a.seq - b.seq || PRIORITY[a.kind] - PRIORITY[b.kind]);
  const report: ChainReport = {
    chain,
    ok: breaks.length === 0,
    records: records.length,
    firstSeq,
    lastSeq,
    checkpoints: checkpoints.length,
    lastCheckpointSeq: lastValid?.seq ?? null,
    signaturesChecked: keys !== undefined,
    unanchored,
    firstBreak: breaks[0] ?? null,
  };
  return { report, breaks };
}

export interface ChainVerification {
  readonly report: ChainReport;
  readonly breaks: readonly AuditBreak[];
}

export function combineReports(results: readonly ChainVerification[]): VerifyReport {
  const breaks = results.flatMap((r) => r.breaks).slice(0, MAX_BREAKS);
  return { ok: results.every((r) => r.report.ok), chains: results.map((r) => r.report), firstBreak: breaks[0] ?? null, breaks };
}
