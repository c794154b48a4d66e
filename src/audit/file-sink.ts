import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditSink } from './audit-log.js';
import { encodeEntry, type AuditCheckpoint, type AuditRecord } from './record.js';
import { combineReports, verifyChain, type RawEntry, type VerifyOptions, type VerifyReport } from './verify.js';

/**
 * always: fsync after every batch, before the requests in it are answered (nothing acknowledged
 * is lost); interval: fsync at most every `fsyncIntervalMs` (a crash may lose the last moments of
 * the file, never of the store); never: leave it to the OS.
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface FileSinkOptions {
  readonly path: string;
  readonly fsync: FsyncPolicy;
  readonly fsyncIntervalMs?: number;
}

/**
 * Appends every entry as one JSON line (the same canonical encoding, hashes and checkpoints as
 * the store) for shipping to a SIEM. Rotation-safe: when the file was moved or removed (logrotate
 * without copytruncate) the next write reopens the path; reopen() does it on demand (SIGHUP).
 */
export class FileAuditSink implements AuditSink {
  readonly name: string;
  private fd: number | undefined;
  private inode = 0;
  private lastSync = 0;
  private dirty = false;
  /** Nothing written to the open file yet (it gets an anchor checkpoint first). */
  private fresh = true;

  constructor(private readonly options: FileSinkOptions) {
    this.name = `file ${options.path}`;
    this.open();
  }

  async write(entries: readonly (AuditRecord | AuditCheckpoint)[]): Promise<void> {
    if (entries.length === 0) return;
    if (this.moved()) this.reopen();
    const fd = this.fd ?? this.open();
    const text = entries.map((e) => `${encodeEntry(e)}\n`).join('');
    const bytes = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    this.dirty = true;
    this.fresh = false;
    const now = Date.now();
    if (this.options.fsync === 'always' || (this.options.fsync === 'interval' && now - this.lastSync >= (this.options.fsyncIntervalMs ?? 1000))) {
      fsyncSync(fd);
      this.lastSync = now;
      this.dirty = false;
    }
  }

  startsFile(): boolean {
    if (this.moved()) this.reopen();
    return this.fresh;
  }

  /** Closes and reopens the path (after rotation: a new file is started). */
  reopen(): void {
    this.closeFd();
    this.open();
  }

  async close(): Promise<void> {
    this.closeFd();
  }

  private open(): number {
    mkdirSync(dirname(this.options.path), { recursive: true, mode: 0o700 });
    const fd = openSync(this.options.path, 'a', 0o600);
    this.fd = fd;
    this.fresh = true;
    this.inode = fstatSync(fd).ino;
    return fd;
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      if (this.dirty && this.options.fsync !== 'never') fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.dirty = false;
  }

  /** Whether the path no longer names the file we hold open. */
  private moved(): boolean {
    try {
      return statSync(this.options.path).ino !== this.inode;
    } catch {
      return true;
    }
  }
}

/** Verifies a JSON-lines audit file (a sink's file or an export), every chain in it. */
export function verifyFile(path: string, options: VerifyOptions): VerifyReport {
  const text = readFileSync(path, 'utf8');
  const byChain = new Map<string, RawEntry[]>();
  const lines = text.split('\n');
  const unknown: RawEntry[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const entry: RawEntry = { where: `${path}:${i + 1}`, text: line };
    let chain: string | undefined;
    try {
      const o = JSON.parse(line) as { chain?: unknown };
      if (typeof o.chain === 'string') chain = o.chain;
    } catch {
      // reported as malformed below
    }
    if (chain === undefined) {
      unknown.push(entry);
      return;
    }
    const list = byChain.get(chain) ?? [];
    list.push(entry);
    byChain.set(chain, list);
  });
  const results = [...byChain].map(([chain, entries]) => verifyChain(chain, entries, options));
  if (unknown.length > 0) results.unshift(verifyChain('(unknown)', unknown, options));
  return combineReports(results);
}
