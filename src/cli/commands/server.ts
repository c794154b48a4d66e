import type { Command } from 'commander';
import { loadConfig, type ConfigInput } from '../../config/index.js';
import { type RunningServer } from '../../server.js';
import { passphrase } from '../secrets.js';

export interface ServerFlags {
  readonly dataDir?: string;
  readonly store?: string;
  readonly listen?: string;
  readonly socket?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly region?: string;
  readonly logLevel?: string;
  readonly config?: string;
  readonly passphraseFile?: string;
  readonly workers?: string;
}

export function serverFlags(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data directory (env KEYWARD_DATA_DIR, default ./.keyward)')
    .option('--store <store>', 'sqlite (default), sqlite:PATH or memory (env KEYWARD_STORE)')
    .option('--listen <host:port>', 'TCP listener (env KEYWARD_LISTEN, default 127.0.0.1:9123)')
    .option('--socket <path>', 'also listen on this Unix socket (0600, in a 0700 directory)')
    .option('--tls-cert <file>', 'TLS certificate (PEM); required for a non-loopback --listen')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--region <region>', 'region in key ARNs (default us-east-1)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--config <file>', 'JSON configuration file (env KEYWARD_CONFIG)');
}

export function configFrom(flags: ServerFlags, extra: ConfigInput = {}) {
  return loadConfig({
    dataDir: flags.dataDir, store: flags.store, listen: flags.listen, socket: flags.socket, tlsCert: flags.tlsCert,
    tlsKey: flags.tlsKey, region: flags.region, logLevel: flags.logLevel, ...extra,
  }, process.env, flags.config);
}

/** Stops on SIGINT/SIGTERM: listeners close, cached keys are zeroized, the store is closed. */
export function stopOnSignals(server: RunningServer): void {
  const stop = (signal: string) => {
    server.installation.log.info({ signal }, 'shutting down');
    server.close().then(() => process.exit(0), (e: unknown) => {
      console.error(`error during shutdown: ${(e as Error).message}`);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

export function registerServer(program: Command): void {
  serverFlags(program.command('server'))
    .description('run the Keyward server; unseals itself from KEYWARD_PASSPHRASE or --passphrase-file, else prompts on a TTY, else starts sealed')
    .option('--passphrase-file <file>', 'file holding the unseal passphrase')
    .option('--workers <n>', 'worker processes sharing the port (node:cluster), or auto for one per core; above 1 the server must unseal itself (default 1)')
    .action(async (flags: ServerFlags) => {
      // the server modules load only for commands that run one (data commands stay quick to start)
      const { startServer, unsealInstallation } = await import('../../server.js');
      const config = configFrom(flags);
      const { isClusterWorker, parseWorkers, runClusterPrimary, runClusterWorker } = await import('../../cluster.js');
      const workers = parseWorkers(flags.workers);
      if (isClusterWorker()) {
        stopOnSignals(await runClusterWorker(config));
        return;
      }
      if (workers > 1) {
        await runClusterPrimary(config, workers, await passphrase(flags), (url) => {
          process.stderr.write(`keyward listening on ${url} (${workers} workers)\n`);
        });
        return;
      }
      const server = await startServer(config);
      stopOnSignals(server);
      const { installation } = server;
      const status = await installation.seal.status();
      if (!status.initialized) {
        installation.log.warn('not initialized: run `keyward init` against this data directory, or POST /v1/sys/init');
      } else {
        const secret = await passphrase(flags);
        if (secret !== undefined) {
          await unsealInstallation(installation, secret);
        } else {
          installation.log.warn('sealed: unseal with `keyward unseal` or POST /v1/sys/unseal');
        }
      }
      process.stderr.write(`keyward listening on ${server.url}${server.socketPath ? ` and ${server.socketPath}` : ''}\n`);
    });
}
