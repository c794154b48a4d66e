import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256Hex } from '../crypto/index.js';

/** A record a chain is known to have held: its sequence number and hash. */
export interface AnchorPoint {
  readonly seq: number;
  readonly hash: string;
}

/**
 * What this node has seen of the store, kept outside it: the store epoch (advanced by every state
 * change) and, per audit chain, a record the chain held. The store may only move forward from here.
 */
export interface AnchorState {
  readonly v: 1;
  /** The store this anchor belongs to (its label: `sqlite`, a PostgreSQL URL without password). */
  readonly store: string;
  readonly epoch: number;
  readonly chains: Readonly<Record<string, AnchorPoint>>;
  readonly updated: string;
  /** Set by `keyward audit accept-rollback`: the node re-learns the store as it is at its next check. */
  readonly accepted?: { readonly at: string; readonly previousEpoch: number; readonly previousChains: number };
}

/** The anchor file of a data directory for one store (a data directory may serve several stores over time). */
export function anchorPath(dataDir: string, storeLabel: string): string {
  return join(dataDir, `anchor-${sha256Hex(storeLabel).slice(0, 16)}.json`);
}

/**
 * The node-local anchor file: 0600, written whole to a temporary file, fsynced and renamed (so a
 * crash leaves the old or the new one, never half), the directory fsynced after. Updates merge
 * monotonically (the highest epoch, the furthest point per chain), so processes of one node that
 * race can only leave it behind the store, never ahead of it.
 */
export class AnchorFile {
  constructor(readonly path: string, readonly storeLabel: string) {}

  /** The anchor, or undefined when there is none yet; throws when the file is not an anchor. */
  read(): AnchorState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const o = JSON.parse(text) as AnchorState;
    if (o === null || typeof o !== 'object' || o.v !== 1 || typeof o.epoch !== 'number' || o.chains === null || typeof o.chains !== 'object') {
      throw new Error(`${this.path} is not a Keyward anchor file`);
    }
    return o;
  }

  /**
   * Raises the anchor to `epoch` and the given chain points (never lowers anything). Writes go
   * one at a time per file, through the thread pool: the event loop keeps serving while the two
   * fsyncs run (the audit log calls this after every batch with a state change, where a
   * synchronous write was a fifth of an issuance's time on the event loop). Resolves when the
   * file and its directory are on disk.
   */
  advance(epoch: number, chains: Readonly<Record<string, AnchorPoint>>, now: Date): Promise<AnchorState> {
    const run = this.writing.then(async () => {
      const current = this.read();
      const next = this.raised(current, epoch, chains, now);
      if (next === undefined) return current!;
      await this.writeAsync(next);
      return next;
    });
    this.writing = run.then(() => undefined, () => undefined);
    return run;
  }

  private writing: Promise<void> = Promise.resolve();
  private writes = 0;

  /** The anchor raised to `epoch` and `chains`, or undefined when that changes nothing. */
  private raised(current: AnchorState | undefined, epoch: number, chains: Readonly<Record<string, AnchorPoint>>, now: Date): AnchorState | undefined {
    const merged: Record<string, AnchorPoint> = { ...(current?.chains ?? {}) };
    let changed = current === undefined;
    for (const [chain, p] of Object.entries(chains)) {
      const old = merged[chain];
      if (old === undefined || p.seq > old.seq) {
        merged[chain] = { seq: p.seq, hash: p.hash };
        changed = true;
      }
    }
    const nextEpoch = Math.max(current?.epoch ?? 0, epoch);
    if (nextEpoch !== current?.epoch) changed = true;
    if (!changed && current !== undefined) return undefined;
    return {
      v: 1, store: this.storeLabel, epoch: nextEpoch, chains: merged, updated: now.toISOString(),
      ...(current?.accepted !== undefined ? { accepted: current.accepted } : {}),
    };
  }

  /** Forgets what the node knew (after an operator accepted a restore); the next check re-learns the store. */
  accept(now: Date): AnchorState | undefined {
    const previous = this.read();
    this.write({
      v: 1, store: this.storeLabel, epoch: 0, chains: {}, updated: now.toISOString(),
      accepted: { at: now.toISOString(), previousEpoch: previous?.epoch ?? 0, previousChains: Object.keys(previous?.chains ?? {}).length },
    });
    return previous;
  }

  private write(state: AnchorState): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(state, null, 1)}\n`);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  /** write() through fs/promises, to its own temporary file (a synchronous write may run meanwhile). */
  private async writeAsync(state: AnchorState): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.a${++this.writes}.tmp`;
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(`${JSON.stringify(state, null, 1)}\n`);
      await file.sync();
    } catch (e) {
      await file.close();
      await rm(tmp, { force: true });
      throw e;
    }
    await file.close();
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
