import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError, type Config } from './config/index.js';
import type { NodeCoordinator, SealType } from './seal/index.js';
import { autoUnsealWithRetries, openInstallation, startServer, type Installation, type RunningServer } from './server.js';

/**
 * `keyward server --workers N`: one Node process uses one core, so N worker processes share the
 * listening port through node:cluster (the primary accepts and hands connections round-robin).
 * Every worker opens the same store (SQLite in WAL mode polls for the others' commits, PostgreSQL
 * notifies) and keeps its own caches, but the workers are one node: seal and unseal are the
 * node's. An operator's seal on any worker seals every worker before it is answered, and the
 * primary forgets the passphrase (a worker started after that stays sealed until an operator
 * unseals again); an unseal on any worker unseals the others. The primary holds the passphrase
 * (bytes, zeroed on seal) only while the node is unsealed, to unseal a worker that replaces one
 * that died; it reaches workers over the IPC channel, never argv or env. A worker unseals before
 * it starts accepting connections, so a replacement never answers sealed for an unsealed node.
 */

/** A Buffer as the JSON IPC channel carries it. */
type Bytes = Buffer | { readonly type: 'Buffer'; readonly data: number[] };
/** Messages between primary and workers. `id` pairs a node-wide seal or unseal with its answer. */
type ToWorker =
  | { readonly type: 'start'; readonly unseal: boolean; readonly passphrase?: Bytes }
  | { readonly type: 'unseal'; readonly id: number; readonly passphrase?: Bytes }
  | { readonly type: 'seal'; readonly id: number }
  | { readonly type: 'done'; readonly id: number };
type ToPrimary =
  | { readonly type: 'opened' }
  | { readonly type: 'ready'; readonly url: string; readonly sealed: boolean }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'unseal-failed'; readonly message: string }
  | { readonly type: 'sealed'; readonly id: number }
  | { readonly type: 'unsealed'; readonly id: number; readonly passphrase?: Bytes }
  | { readonly type: 'resealed'; readonly sealType: SealType; readonly passphrase?: Bytes }
  | { readonly type: 'root-replaced' }
  | { readonly type: 'followed'; readonly id: number };

/** How long a node-wide seal or unseal waits for the other workers before answering anyway. */
const FOLLOW_TIMEOUT_MS = 10_000;

/** Bytes received over IPC as a Buffer; the received copy is zeroed. */
function bytesOf(b: Bytes | undefined): Buffer | undefined {
  if (b === undefined) return undefined;
  if (Buffer.isBuffer(b)) return Buffer.from(b);
  const out = Buffer.from(b.data);
  b.data.fill(0);
  return out;
}

/** `--workers`: a count, or `auto` for one per core. */
export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new ConfigError(`--workers must be a whole number from 1 to 256 or auto, got ${JSON.stringify(value)}`);
  return n;
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** How many unexpected worker exits within RESTART_WINDOW_MS make the primary give up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 30_000;

const AUTO_SEALS: readonly SealType[] = ['static', 'pkcs11', 'transit'];

/**
 * The primary: checks the installation is initialised, forks the workers (which re-run this
 * command), tells each whether to unseal, carries node-wide seals and unseals between them,
 * replaces a worker that dies and stops them all on SIGINT/SIGTERM. Resolves once every worker
 * has been forked; `onReady` gets the URL when they are all ready. `passphrase` becomes the
 * primary's to zero.
 */
export async function runClusterPrimary(config: Config, workers: number, passphrase: Buffer | undefined, onReady: (url: string) => void): Promise<void> {
  let secret = passphrase;
  const forget = () => {
    secret?.fill(0);
    secret = undefined;
  };
  try {
    if (config.socket !== undefined) throw new ConfigError('--socket is not supported with --workers above 1 yet: use the TCP listener');
    if (config.grpcListen !== undefined || config.grpcSocket !== undefined) throw new ConfigError('gRPC listeners are not supported with --workers above 1 yet: run gRPC on a --workers 1 node');
    if (config.minikmsListen !== undefined || config.minikmsSocket !== undefined || config.k8sKmsSocket !== undefined) {
      throw new ConfigError('the mini-kms protocol and the Kubernetes KMS plugin are not supported with --workers above 1 yet: serve them from a --workers 1 node');
    }
  } catch (e) {
    forget();
    throw e;
  }
  const probe = openInstallation({ ...config, logLevel: 'silent' });
  const { initialized, type } = await probe.seal.status().finally(() => probe.close());
  if (!initialized) {
    forget();
    throw new ConfigError('not initialized: run `keyward init` against this data directory before starting workers');
  }
  let sealType: SealType = type!;
  if (sealType === 'shamir') {
    forget();
    throw new ConfigError('--workers above 1 cannot be unsealed with shamir shares (an unseal over HTTP reaches one worker only): use --workers 1 or an auto-unseal seal');
  }
  if (!AUTO_SEALS.includes(sealType) && secret === undefined) {
    throw new ConfigError('--workers above 1 needs the server to unseal itself: set KEYWARD_PASSPHRASE or pass --passphrase-file');
  }
  // auto-unseal seals: each worker unseals itself from its own configuration, so no secret is kept
  if (AUTO_SEALS.includes(sealType)) forget();
  let nodeSealed = false;
  let stopping = false;
  let announced = false;
  let url: string | undefined;
  const restarts: number[] = [];
  const ready = new Set<number>();
  /** Workers told the node's state: the others learn it when they start. */
  const started = new Set<number>();
  /** Node-wide seals and unseals waiting for the other workers to follow. */
  const following = new Map<string, { waiting: Set<number>; finish: () => void }>();

  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  /** Tells every other started worker to follow; answers `origin` once they have (or FOLLOW_TIMEOUT_MS passed). */
  const follow = (origin: Worker, id: number, message: (id: number) => ToWorker) => {
    const key = `${origin.id}/${id}`;
    const others = live().filter((w) => w.id !== origin.id && started.has(w.id));
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      following.delete(key);
      if (!origin.isDead()) origin.send({ type: 'done', id } satisfies ToWorker);
    };
    const timer = setTimeout(() => {
      console.error(`warning: ${following.get(key)?.waiting.size ?? 0} worker(s) did not follow the node's ${message(0).type} within ${FOLLOW_TIMEOUT_MS / 1000} s`);
      finish();
    }, FOLLOW_TIMEOUT_MS);
    following.set(key, { waiting: new Set(others.map((w) => w.id)), finish });
    if (others.length === 0) {
      finish();
      return;
    }
    for (const w of others) w.send(message(origin.id * 1_000_000 + id));
  };
  const followed = (worker: Worker, fid: number) => {
    const key = `${Math.floor(fid / 1_000_000)}/${fid % 1_000_000}`;
    const entry = following.get(key);
    if (entry === undefined) return;
    entry.waiting.delete(worker.id);
    if (entry.waiting.size === 0) entry.finish();
  };

  const unsealMessage = (id: number): ToWorker => (secret !== undefined ? { type: 'unseal', id, passphrase: secret } : { type: 'unseal', id });

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (m: ToPrimary) => {
      switch (m.type) {
        case 'opened': {
          started.add(worker.id);
          const unseal = !nodeSealed && (secret !== undefined || AUTO_SEALS.includes(sealType));
          worker.send((unseal && secret !== undefined ? { type: 'start', unseal, passphrase: secret } : { type: 'start', unseal }) satisfies ToWorker);
          break;
        }
        case 'ready':
          url ??= m.url;
          ready.add(worker.id);
          if (!announced && ready.size >= workers) {
            announced = true;
            onReady(url);
          }
          break;
        case 'failed':
          console.error(`error: worker ${worker.process.pid} could not start: ${m.message}`);
          stopAll(1);
          break;
        case 'unseal-failed':
          console.error(`error: worker ${worker.process.pid} could not unseal: ${m.message}`);
          // at start this is fatal, as for a single process; later the worker stays sealed
          if (!announced) stopAll(1);
          break;
        case 'sealed':
          // an operator sealed one worker: the node seals and forgets how to unseal
          nodeSealed = true;
          forget();
          follow(worker, m.id, (id) => ({ type: 'seal', id }));
          break;
        case 'unsealed': {
          nodeSealed = false;
          const given = bytesOf(m.passphrase);
          if (given !== undefined) {
            forget();
            secret = given;
          }
          follow(worker, m.id, unsealMessage);
          break;
        }
        case 'resealed': {
          sealType = m.sealType;
          forget();
          secret = bytesOf(m.passphrase);
          if (sealType === 'shamir') console.error('warning: the node now uses the shamir seal: a worker that replaces one that died stays sealed until it is given shares');
          break;
        }
        case 'root-replaced':
          // this worker fell behind another's root rotation: it unseals again (the seal is unchanged)
          if (!nodeSealed) worker.send(unsealMessage(0));
          break;
        case 'followed':
          followed(worker, m.id);
          break;
      }
    });
    return worker;
  };

  const stopAll = (code: number) => {
    if (stopping) return;
    stopping = true;
    forget();
    const running = live();
    if (running.length === 0) process.exit(code);
    let left = running.length;
    for (const w of running) {
      w.once('exit', () => {
        if (--left === 0) process.exit(code);
      });
      w.process.kill('SIGTERM');
    }
  };

  cluster.on('exit', (worker, exitCode, signal) => {
    ready.delete(worker.id);
    started.delete(worker.id);
    for (const [, entry] of following) {
      entry.waiting.delete(worker.id);
      if (entry.waiting.size === 0) entry.finish();
    }
    if (stopping) return;
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      console.error(`error: ${restarts.length} workers exited within ${RESTART_WINDOW_MS / 1000} s; stopping`);
      stopAll(1);
      return;
    }
    console.error(`warning: worker ${worker.process.pid} exited (${signal ?? exitCode}); starting another${nodeSealed ? ' (it stays sealed: the node is sealed)' : ''}`);
    fork();
  });

  // each worker drains on SIGTERM (see stopOnSignals); SIGHUP (audit file, TLS reload) is theirs too
  process.once('SIGINT', () => stopAll(0));
  process.once('SIGTERM', () => stopAll(0));
  process.on('SIGHUP', () => {
    for (const w of live()) w.process.kill('SIGHUP');
  });
  for (let i = 0; i < workers; i++) fork();
}

/**
 * A worker: opens the installation, learns the node's state from the primary and unseals (or
 * stays sealed) before it listens, then reports ready. Its seal manager tells the primary about
 * an operator's seal or unseal so the node follows.
 */
export async function runClusterWorker(config: Config): Promise<RunningServer> {
  const send = (m: ToPrimary) => process.send?.(m);
  let nextId = 1;
  const answers = new Map<number, () => void>();
  /** Tells the primary and waits for the node to follow (bounded: the primary answers within FOLLOW_TIMEOUT_MS). */
  const tell = (m: (id: number) => ToPrimary) => new Promise<void>((resolve) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      answers.delete(id);
      resolve();
    }, FOLLOW_TIMEOUT_MS + 2000);
    answers.set(id, () => {
      clearTimeout(timer);
      resolve();
    });
    send(m(id));
  });
  const coordinator: NodeCoordinator = {
    sealed: () => tell((id) => ({ type: 'sealed', id })),
    // send() serialises at once: the caller may zero the passphrase when this returns
    unsealed: (passphrase) => tell((id) => (passphrase !== undefined ? { type: 'unsealed', id, passphrase } : { type: 'unsealed', id })),
    resealed: (sealType, passphrase) => {
      send(passphrase !== undefined ? { type: 'resealed', sealType, passphrase } : { type: 'resealed', sealType });
    },
    rootReplaced: () => {
      send({ type: 'root-replaced' });
    },
  };

  let installation: Installation | undefined;
  let started: (m: Extract<ToWorker, { type: 'start' }>) => void = () => undefined;
  const start = new Promise<Extract<ToWorker, { type: 'start' }>>((resolve) => { started = resolve; });

  /** Follows the node's unseal: the passphrase it was given, or this worker's auto-unseal seal (with retries). */
  const unsealHere = async (given: Bytes | undefined, atStart: boolean): Promise<void> => {
    const inst = installation!;
    const passphrase = bytesOf(given);
    try {
      const type = await inst.seal.sealType();
      if (type !== undefined && AUTO_SEALS.includes(type)) {
        const first = await autoUnsealWithRetries(inst);
        if (!first.ok) inst.log.error({ reason: (first.error as Error).message }, 'auto-unseal failed; retrying with backoff');
        return;
      }
      if (passphrase === undefined) {
        inst.log.warn('the node is unsealed but this worker was given no passphrase: it stays sealed');
        return;
      }
      await inst.seal.unseal({ passphrase }, 'node');
    } catch (e) {
      inst.log.error({ reason: (e as Error).message }, 'unseal failed; this worker stays sealed');
      if (atStart) send({ type: 'unseal-failed', message: (e as Error).message });
    } finally {
      passphrase?.fill(0);
    }
  };

  process.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'start':
        started(m);
        break;
      case 'seal':
        void installation?.seal.seal('node').catch(() => undefined).finally(() => send({ type: 'followed', id: m.id }));
        break;
      case 'unseal':
        void unsealHere(m.passphrase, false).finally(() => send({ type: 'followed', id: m.id }));
        break;
      case 'done':
        answers.get(m.id)?.();
        answers.delete(m.id);
        break;
    }
  });

  let server: RunningServer;
  try {
    server = await startServer(config, {
      beforeListen: async (inst) => {
        installation = inst;
        inst.seal.coordinate(coordinator);
        send({ type: 'opened' });
        const m = await start;
        if (m.unseal) await unsealHere(m.passphrase, true);
      },
    });
  } catch (e) {
    send({ type: 'failed', message: (e as Error).message });
    throw e;
  }
  // the primary is gone (killed): nobody will restart or stop this worker, so it stops itself
  process.once('disconnect', () => {
    void server.close().finally(() => process.exit(0));
  });
  send({ type: 'ready', url: server.url, sealed: server.installation.seal.sealed });
  return server;
}
