import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { type AdminCredentialsFile } from '../../server.js';
import { announceGrpc, configFrom, serverFlags, stopOnSignals, type ServerFlags } from './server.js';

/**
 * `npm start`: a development server in ./.keyward that initialises itself on first start and
 * keeps its passphrase in .keyward/dev-passphrase (0600). Convenient, not for production: the
 * passphrase sits next to the data it protects.
 */
export function registerDev(program: Command): void {
  serverFlags(program.command('dev'))
    .description('development server: initialises ./.keyward on first start, unseals itself, prints how to use it')
    .action(async (flags: ServerFlags) => {
      // the server modules load only for commands that run one (data commands stay quick to start)
      const { credentialsPath, initializeInstallation, startServer, unsealInstallation, writeCredentialsFile, writePrivateFile } = await import('../../server.js');
      const config = configFrom(flags);
      const dataDir = resolve(config.dataDir);
      const passphraseFile = join(dataDir, 'dev-passphrase');
      const server = await startServer(config);
      stopOnSignals(server);
      const { installation } = server;
      const credsFile = credentialsPath(config);
      if (!(await installation.seal.status()).initialized) {
        const secret = randomBytes(24).toString('base64url');
        const creds = await initializeInstallation(installation, secret);
        writePrivateFile(passphraseFile, `${secret}\n`);
        writeCredentialsFile(credsFile, { ...creds, endpoint: server.url });
      } else if (installation.seal.sealed) {
        if (!existsSync(passphraseFile)) throw new Error(`${dataDir} was not initialised by the dev server (no dev-passphrase); use \`keyward server\``);
        await unsealInstallation(installation, readFileSync(passphraseFile, 'utf8').trim());
      }
      const creds = JSON.parse(readFileSync(credsFile, 'utf8')) as AdminCredentialsFile;
      process.stdout.write(banner(server.url, credsFile, creds));
      process.stderr.write(`keyward listening on ${server.url}\n`);
      announceGrpc(server);
    });
}

function banner(url: string, credsFile: string, c: AdminCredentialsFile): string {
  return `
Keyward is running (development mode, embedded SQLite store).

  endpoint:     ${url}
  web console:  ${url}/ui/   (sign in with the token in the credentials file)
  region:       ${c.region}
  credentials:  ${credsFile}   (admin of tenant '${c.tenant}', mode 0600)

AWS CLI:
  export AWS_ACCESS_KEY_ID=$(node -p "require('${credsFile}').access_key_id")
  export AWS_SECRET_ACCESS_KEY=$(node -p "require('${credsFile}').secret_access_key")
  export AWS_REGION=${c.region}
  KEY=$(aws kms create-key --endpoint-url ${url} --query KeyMetadata.KeyId --output text)
  aws kms encrypt --endpoint-url ${url} --key-id $KEY --plaintext $(printf hello | base64) --query CiphertextBlob --output text

AWS SDK for JavaScript v3:
  import { KMSClient, EncryptCommand } from '@aws-sdk/client-kms';
  const kms = new KMSClient({ endpoint: '${url}', region: '${c.region}' }); // credentials from the env above
  const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: KEY, Plaintext: Buffer.from('hello') }));

Keyward CLI (same env):  npx keyward key create --description demo --endpoint ${url}

Stop with Ctrl-C. Data and the dev passphrase live in ${resolve(credsFile, '..')}.
`;
}
