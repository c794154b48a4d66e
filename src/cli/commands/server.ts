import type { Command } from 'commander';
import { loadConfig, type ConfigInput } from '../../config/index.js';
import { type RunningServer } from '../../server.js';
import { passphraseBytes, takeEnvSecret } from '../secrets.js';

export interface ServerFlags {
  readonly dataDir?: string;
  readonly store?: string;
  readonly listen?: string;
  readonly socket?: string;
  readonly grpcListen?: string;
  readonly grpcSocket?: string;
  readonly grpcSocketPrincipal?: string;
  readonly minikmsListen?: string;
  readonly minikmsSocket?: string;
  readonly k8sKmsSocket?: string;
  readonly k8sKmsKey?: string;
  readonly k8sKmsPrincipal?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
  readonly region?: string;
  readonly logLevel?: string;
  readonly config?: string;
  readonly passphraseFile?: string;
  readonly rootKeyFile?: string;
  readonly pkcs11Module?: string;
  readonly pkcs11TokenLabel?: string;
  readonly pkcs11Slot?: string;
  readonly pkcs11KeyLabel?: string;
  readonly pkcs11PinFile?: string;
  readonly pkcs11GenerateKey?: boolean;
  readonly transitEndpoint?: string;
  readonly transitKeyId?: string;
  readonly transitRegion?: string;
  readonly transitCredentialsFile?: string;
  readonly workers?: string;
}

/** Where the seal's key lives (static key file, HSM, outer KMS); secrets themselves come from env or files. */
export function sealFlags(cmd: Command): Command {
  return cmd
    .option('--root-key-file <file>', 'static seal: file with the 64-hex-character key (else env KEYWARD_ROOT_KEY)')
    .option('--pkcs11-module <path>', 'PKCS#11 seal: module path, e.g. /usr/lib/softhsm/libsofthsm2.so (env KEYWARD_PKCS11_MODULE)')
    .option('--pkcs11-token-label <label>', 'PKCS#11 seal: token label (or --pkcs11-slot)')
    .option('--pkcs11-slot <id>', 'PKCS#11 seal: slot id')
    .option('--pkcs11-key-label <label>', 'PKCS#11 seal: label of the AES key (default keyward-root-key)')
    .option('--pkcs11-pin-file <file>', 'PKCS#11 seal: file holding the PIN (else env KEYWARD_PKCS11_PIN)')
    .option('--pkcs11-generate-key', 'PKCS#11 seal: create the AES key in the HSM if missing (init and migration)')
    .option('--transit-endpoint <url>', 'transit seal: endpoint of the outer KMS')
    .option('--transit-key-id <id>', 'transit seal: key id, ARN or alias at the outer KMS')
    .option('--transit-region <region>', 'transit seal: region for signing (default us-east-1)')
    .option('--transit-credentials-file <file>', 'transit seal: JSON with access_key_id and secret_access_key (else env KEYWARD_TRANSIT_ACCESS_KEY_ID/_SECRET_ACCESS_KEY)');
}

export function serverFlags(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data directory (env KEYWARD_DATA_DIR, default ./.keyward)')
    .option('--store <store>', 'sqlite (default), sqlite:PATH, postgres://USER@HOST:PORT/DB or memory (env KEYWARD_STORE)')
    .option('--listen <host:port>', 'TCP listener (env KEYWARD_LISTEN, default 127.0.0.1:9123)')
    .option('--socket <path>', 'also listen on this Unix socket (0600, in a 0700 directory)')
    .option('--grpc-listen <host:port>', 'also serve gRPC (Keyward and miniKMS services) here (env KEYWARD_GRPC_LISTEN)')
    .option('--grpc-socket <path>', 'also serve gRPC on this Unix socket (0600, in a 0700 directory)')
    .option('--grpc-socket-principal <name>', 'calls on --grpc-socket without a token act as this principal (NAME or TENANT/NAME)')
    .option('--minikms-listen <host:port>', "also serve mini-kms's NDJSON protocol here (loopback, or TLS with --tls-cert)")
    .option('--minikms-socket <path>', "also serve mini-kms's NDJSON protocol on this Unix socket (0600, in a 0700 directory)")
    .option('--k8s-kms-socket <path>', 'serve the Kubernetes KMS v2 plugin API on this Unix socket (0600, in a 0700 directory)')
    .option('--k8s-kms-key <alias/NAME>', 'the key the Kubernetes KMS plugin encrypts under')
    .option('--k8s-kms-principal <name>', 'the principal the Kubernetes KMS plugin acts as (NAME or TENANT/NAME; default k8s-kms)')
    .option('--tls-cert <file>', 'TLS certificate (PEM), for HTTPS and gRPC; required for a non-loopback --listen or --grpc-listen')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--tls-client-ca <auto|file>', 'mTLS: accept member certificates chaining to Keyward\'s root CA (auto) or to this root (PEM)')
    .option('--region <region>', 'region in key ARNs (default us-east-1)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--config <file>', 'JSON configuration file (env KEYWARD_CONFIG)');
}

export function configFrom(flags: ServerFlags, extra: ConfigInput = {}) {
  return loadConfig({
    dataDir: flags.dataDir, store: flags.store, listen: flags.listen, socket: flags.socket, tlsCert: flags.tlsCert,
    grpcListen: flags.grpcListen, grpcSocket: flags.grpcSocket, grpcSocketPrincipal: flags.grpcSocketPrincipal,
    minikmsListen: flags.minikmsListen, minikmsSocket: flags.minikmsSocket,
    k8sKmsSocket: flags.k8sKmsSocket, k8sKmsKey: flags.k8sKmsKey, k8sKmsPrincipal: flags.k8sKmsPrincipal,
    tlsKey: flags.tlsKey, tlsClientCa: flags.tlsClientCa, region: flags.region, logLevel: flags.logLevel,
    rootKeyFile: flags.rootKeyFile, pkcs11Module: flags.pkcs11Module, pkcs11TokenLabel: flags.pkcs11TokenLabel,
    pkcs11Slot: flags.pkcs11Slot, pkcs11KeyLabel: flags.pkcs11KeyLabel, pkcs11PinFile: flags.pkcs11PinFile,
    pkcs11GenerateKey: flags.pkcs11GenerateKey === true ? 'true' : undefined, transitEndpoint: flags.transitEndpoint,
    transitKeyId: flags.transitKeyId, transitRegion: flags.transitRegion, transitCredentialsFile: flags.transitCredentialsFile, ...extra,
  }, process.env, flags.config);
}

/**
 * SIGINT/SIGTERM drain (health 503, no new connections, requests in flight finish within
 * shutdownGraceMs), then cached keys are zeroized and the store is closed; a second signal stops
 * at once. SIGHUP reopens the audit file (logrotate) and reloads the TLS certificate and key.
 */
export function stopOnSignals(server: RunningServer): void {
  const { log } = server.installation;
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    server.drain().then(() => process.exit(0), (e: unknown) => {
      console.error(`error during shutdown: ${(e as Error).message}`);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reopening the audit file and reloading the TLS certificate');
    server.installation.audit.reopenSinks();
    try {
      server.reloadTls();
    } catch (e) {
      log.error({ reason: (e as Error).message }, 'TLS reload failed; the previous certificate stays in use');
    }
  });
}

/** The gRPC listeners, on their own line (tools and tests read the HTTP one). */
export function announceGrpc(server: RunningServer): void {
  const where = [server.grpcAddress, server.grpcSocketPath].filter((x) => x !== undefined);
  if (where.length > 0) process.stderr.write(`keyward gRPC listening on ${where.join(' and ')}\n`);
  const minikms = [server.minikmsAddress, server.minikmsSocketPath].filter((x) => x !== undefined);
  if (minikms.length > 0) process.stderr.write(`keyward mini-kms protocol listening on ${minikms.join(' and ')}\n`);
  if (server.k8sKmsSocketPath !== undefined) process.stderr.write(`keyward Kubernetes KMS v2 plugin listening on ${server.k8sKmsSocketPath}\n`);
}

/** A failed unseal at start leaves the server up and sealed, with the reason on stderr and in the log. */
function reportUnsealFailure(log: { error(obj: object, msg: string): void }, type: string, e: unknown, retrying = false): void {
  const err = e as { code?: string; message?: string };
  const then = retrying ? 'sealed, retrying with backoff' : 'staying sealed (retry with `keyward unseal`)';
  log.error({ code: err.code, reason: err.message }, `unseal at start (${type}) failed; ${then}`);
  process.stderr.write(`unseal at start (${type}) failed: ${err.code ?? 'error'}: ${err.message ?? String(e)}${retrying ? ' (retrying)' : ''}\n`);
}

export function registerServer(program: Command): void {
  sealFlags(serverFlags(program.command('server')))
    .description('run the Keyward server; unseals itself (auto-unseal seals; passphrase from KEYWARD_PASSPHRASE, --passphrase-file or a TTY prompt), else starts sealed')
    .option('--passphrase-file <file>', 'file holding the unseal passphrase')
    .option('--workers <n>', 'worker processes sharing the port (node:cluster), or auto for one per core; above 1 the server must unseal itself (default 1)')
    .action(async (flags: ServerFlags) => {
      // the server modules load only for commands that run one (data commands stay quick to start)
      const { autoUnsealWithRetries, startServer, unsealInstallation } = await import('../../server.js');
      // the passphrase leaves the environment at once, whatever the seal (never inherited, never in /proc/PID/environ)
      const fromEnv = { env: takeEnvSecret('KEYWARD_PASSPHRASE') };
      const config = configFrom(flags);
      const { isClusterWorker, parseWorkers, runClusterPrimary, runClusterWorker } = await import('../../cluster.js');
      const workers = parseWorkers(flags.workers);
      if (isClusterWorker()) {
        stopOnSignals(await runClusterWorker(config));
        return;
      }
      if (workers > 1) {
        await runClusterPrimary(config, workers, await passphraseBytes(flags, fromEnv), (url) => {
          process.stderr.write(`keyward listening on ${url} (${workers} workers)\n`);
        });
        return;
      }
      let server: RunningServer;
      try {
        server = await startServer(config);
      } catch (e) {
        fromEnv.env?.fill(0);
        throw e;
      }
      stopOnSignals(server);
      const { installation } = server;
      const status = await installation.seal.status();
      if (!status.initialized) {
        fromEnv.env?.fill(0);
        installation.log.warn('not initialized: run `keyward init` against this data directory, or POST /v1/sys/init');
      } else if (status.type === 'passphrase') {
        const secret = await passphraseBytes(flags, fromEnv);
        if (secret !== undefined) {
          try {
            await unsealInstallation(installation, secret).catch((e: unknown) => reportUnsealFailure(installation.log, 'passphrase', e));
          } finally {
            secret.fill(0);
          }
        } else {
          installation.log.warn('sealed: unseal with `keyward unseal` or POST /v1/sys/unseal');
        }
      } else if (status.type === 'shamir') {
        fromEnv.env?.fill(0);
        const hint = `sealed: ${status.threshold ?? '?'} unseal shares are needed, one at a time, with \`keyward unseal\` or POST /v1/sys/unseal {"share": ...}`;
        installation.log.warn(hint);
        process.stderr.write(`${hint}\n`);
      } else {
        // auto-unseal: a failure (HSM or outer KMS down, wrong PIN, missing key) leaves the server up
        // and sealed, retrying with backoff until it works or an operator seals
        fromEnv.env?.fill(0);
        const first = await autoUnsealWithRetries(installation);
        if (!first.ok) reportUnsealFailure(installation.log, status.type ?? 'auto', first.error, config.autoUnsealRetryMaxMs > 0);
      }
      process.stderr.write(`keyward listening on ${server.url}${server.socketPath ? ` and ${server.socketPath}` : ''}\n`);
      announceGrpc(server);
    });
}
