import type { Command } from 'commander';
import { withDataClient, withDataConnection, type DataConnectionFlags } from '../connection.js';
import { collect, keyValues, printJson, readInput, writeOutput } from '../io.js';
import { blobFrom } from './data.js';

interface ScopeFlags extends DataConnectionFlags {
  readonly tenant?: string;
  readonly scope: string;
  readonly context?: string[];
  readonly in?: string;
  readonly out?: string;
  readonly keyVersionId?: string;
  readonly json?: boolean;
}

function scopeCommand(parent: Command, name: string): Command {
  return withDataConnection(parent.command(name))
    .requiredOption('--scope <id>', 'scope id (created on first use by encrypt)')
    .option('--tenant <id>', 'tenant of the scope (default: the caller\'s; it must be the caller\'s own)');
}

const scopeName = (f: ScopeFlags) => ({ ...(f.tenant !== undefined ? { tenantId: f.tenant } : {}), scopeId: f.scope });

/** `keyward scope encrypt|decrypt|rotate|info`: scopes, named keys inside a tenant (miniKMS's model). */
export function registerScope(program: Command): void {
  const scope = program.command('scope').description('scopes: named keys inside a tenant, created on first use and rotated by usage');

  scopeCommand(scope, 'encrypt')
    .description('encrypt up to 4096 bytes from --in (or stdin) under a scope; prints the ciphertext as base64 (or raw bytes to --out)')
    .option('--context <key=value>', 'encryption context (repeatable; required again to decrypt)', collect)
    .option('--in <file>', 'plaintext file (default stdin)')
    .option('--out <file>', 'write the raw ciphertext blob here')
    .option('--json', 'print {CiphertextBlob, KeyVersionId, KeyId} instead')
    .action((f: ScopeFlags) => withDataClient(f, async (c) => {
      const plaintext = await readInput(f.in);
      const context = keyValues(f.context, '--context');
      const r = await c.scopeEncrypt({ ...scopeName(f), plaintext, ...(context ? { context } : {}) });
      plaintext.fill(0);
      if (f.json) printJson({ CiphertextBlob: r.ciphertextBlob.toString('base64'), KeyVersionId: r.keyVersionId, KeyId: r.keyId });
      else if (f.out !== undefined) writeOutput(f.out, r.ciphertextBlob);
      else process.stdout.write(`${r.ciphertextBlob.toString('base64')}\n`);
    }));

  scopeCommand(scope, 'decrypt')
    .description('decrypt a scope ciphertext (raw or base64) from --in (or stdin); writes the plaintext to --out (or stdout)')
    .option('--context <key=value>', 'encryption context (repeatable)', collect)
    .option('--key-version-id <id>', 'expected key version (<key id>:<version>)')
    .option('--in <file>', 'ciphertext file (default stdin)')
    .option('--out <file>', 'plaintext file (default stdout)')
    .action((f: ScopeFlags) => withDataClient(f, async (c) => {
      const context = keyValues(f.context, '--context');
      const r = await c.scopeDecrypt({
        ...scopeName(f), ciphertextBlob: blobFrom(await readInput(f.in)), ...(context ? { context } : {}), ...(f.keyVersionId !== undefined ? { keyVersionId: f.keyVersionId } : {}),
      });
      writeOutput(f.out, r.plaintext);
      r.plaintext.fill(0);
    }));

  scopeCommand(scope, 'rotate')
    .description('a new version of the scope\'s key (admin); older versions keep decrypting')
    .action((f: ScopeFlags) => withDataClient(f, async (c) => {
      const r = await c.rotateScope(scopeName(f));
      printJson({ KeyId: r.keyId, KeyVersionId: r.keyVersionId, Version: r.version });
    }));

  scopeCommand(scope, 'info')
    .description('the scope\'s current version, its encryption count and maximum')
    .action((f: ScopeFlags) => withDataClient(f, async (c) => {
      const r = await c.describeScope(scopeName(f));
      printJson({
        KeyId: r.keyId, KeyVersionId: r.keyVersionId, Version: r.version, EncryptionCount: r.encryptionCount,
        MaxEncryptions: r.maxEncryptions, Status: r.status, KeyState: r.keyState,
      });
    }));
}
