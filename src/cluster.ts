import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError, type Config } from './config/index.js';
import { openInstallation, startServer, unsealInstallation, type RunningServer } from './server.js';

/**
 * `keyward server --workers N`: one Node process uses one core, so N worker processes share the
 * listening port through node:cluster (the primary accepts and hands connections round-robin).
 * Every worker opens the same store (SQLite in WAL mode polls for the others' commits, PostgreSQL
 * notifies), keeps its own caches and unseals itself: the primary holds the passphrase and hands it
 * to each worker over the IPC channel (never argv or env). An unseal over HTTP would reach one
 * worker only, so a cluster must unseal itself at start.
 */

/** Messages between primary and workers. */
/** No passphrase: the worker's seal unseals itself (static, pkcs11, transit). */
type ToWorker = { readonly type: 'unseal'; readonly passphrase?: string };
type ToPrimary =
  | { readonly type: 'listening'; readonly url: string }
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'failed'; readonly message: string };

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

/**
 * The primary: checks the installation is initialised, forks the workers (which re-run this
 * command), unseals each, replaces a worker that dies and stops them all on SIGINT/SIGTERM.
 * Resolves with the URL once every worker is ready.
 */
export async function runClusterPrimary(config: Config, workers: number, passphrase: string | undefined, onReady: (url: string) => void): Promise<void> {
  if (config.socket !== undefined) throw new ConfigError('--socket is not supported with --workers above 1 yet: use the TCP listener');
  if (config.grpcListen !== undefined || config.grpcSocket !== undefined) throw new ConfigError('gRPC listeners are not supported with --workers above 1 yet: run gRPC on a --workers 1 node');
  if (config.minikmsListen !== undefined || config.minikmsSocket !== undefined || config.k8sKmsSocket !== undefined) {
    throw new ConfigError('the mini-kms protocol and the Kubernetes KMS plugin are not supported with --workers above 1 yet: serve them from a --workers 1 node');
  }
  const probe = openInstallation({ ...config, logLevel: 'silent' });
  const { initialized, type } = await probe.seal.status();
  await probe.close();
  if (!initialized) throw new ConfigError('not initialized: run `keyward init` against this data directory before starting workers');
  // auto-unseal seals (static, pkcs11, transit): each worker unseals itself from its own configuration
  const autoUnseal = type === 'static' || type === 'pkcs11' || type === 'transit';
  if (type === 'shamir') {
    throw new ConfigError('--workers above 1 cannot be unsealed with shamir shares (an unseal over HTTP reaches one worker only): use --workers 1 or an auto-unseal seal');
  }
  if (!autoUnseal && passphrase === undefined) {
    throw new ConfigError('--workers above 1 needs the server to unseal itself: set KEYWARD_PASSPHRASE or pass --passphrase-file');
  }
  let stopping = false;
  let announced = false;
  let url: string | undefined;
  const restarts: number[] = [];
  const ready = new Set<number>();

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (m: ToPrimary) => {
      if (m.type === 'listening') {
        worker.send((autoUnseal || passphrase === undefined ? { type: 'unseal' } : { type: 'unseal', passphrase }) satisfies ToWorker);
      } else if (m.type === 'ready') {
        url ??= m.url;
        ready.add(worker.id);
        if (!announced && ready.size >= workers) {
          announced = true;
          onReady(url);
        }
      } else if (m.type === 'failed') {
        console.error(`error: worker ${worker.process.pid} could not start: ${m.message}`);
        stopAll(1);
      }
    });
    return worker;
  };

  const stopAll = (code: number) => {
    if (stopping) return;
    stopping = true;
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (live.length === 0) process.exit(code);
    let left = live.length;
    for (const w of live) {
      w.once('exit', () => {
        if (--left === 0) process.exit(code);
      });
      w.process.kill('SIGTERM');
    }
  };

  cluster.on('exit', (worker, exitCode, signal) => {
    ready.delete(worker.id);
    if (stopping) return;
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      console.error(`error: ${restarts.length} workers exited within ${RESTART_WINDOW_MS / 1000} s; stopping`);
      stopAll(1);
      return;
    }
    console.error(`warning: worker ${worker.process.pid} exited (${signal ?? exitCode}); starting another`);
    fork();
  });

  // each worker drains on SIGTERM (see stopOnSignals); SIGHUP (audit file, TLS reload) is theirs too
  process.once('SIGINT', () => stopAll(0));
  process.once('SIGTERM', () => stopAll(0));
  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
  for (let i = 0; i < workers; i++) fork();
}

/** A worker: starts the listeners, waits for the passphrase from the primary, unseals and reports ready. */
export async function runClusterWorker(config: Config): Promise<RunningServer> {
  const send = (m: ToPrimary) => process.send?.(m);
  let server: RunningServer;
  try {
    server = await startServer(config);
  } catch (e) {
    send({ type: 'failed', message: (e as Error).message });
    throw e;
  }
  process.on('message', (m: ToWorker) => {
    if (m.type !== 'unseal') return;
    unsealInstallation(server.installation, m.passphrase ?? {}).then(
      () => send({ type: 'ready', url: server.url }),
      (e: unknown) => send({ type: 'failed', message: (e as Error).message }),
    );
  });
  // the primary is gone (killed): nobody will restart or stop this worker, so it stops itself
  process.once('disconnect', () => {
    void server.close().finally(() => process.exit(0));
  });
  send({ type: 'listening', url: server.url });
  return server;
}
