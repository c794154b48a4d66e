import type { Command } from 'commander';
import { withDataClient, withDataConnection, type DataConnectionFlags } from '../connection.js';
import { collect, keyValues, printJson, readInput, UsageError, writeOutput } from '../io.js';

interface DataFlags extends DataConnectionFlags {
  readonly key?: string;
  readonly context?: string[];
  readonly in?: string;
  readonly out?: string;
}

/** A ciphertext given as raw bytes (a blob starts with its version byte 0x01) or as base64 text. */
export function blobFrom(bytes: Buffer): Buffer {
  if (bytes.length > 0 && bytes[0] === 0x01) return bytes;
  const text = bytes.toString('utf8').trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) return Buffer.from(text.replace(/\s+/g, ''), 'base64');
  return bytes;
}

function requireKey(f: DataFlags): string {
  if (f.key === undefined) throw new UsageError('--key is required');
  return f.key;
}

export function registerData(program: Command): void {
  withDataConnection(program.command('encrypt'))
    .description('encrypt up to 4096 bytes from --in (or stdin); prints the ciphertext as base64, or writes raw bytes to --out')
    .requiredOption('--key <key>', 'key id, ARN or alias')
    .option('--context <key=value>', 'encryption context (repeatable; required again to decrypt)', collect)
    .option('--in <file>', 'plaintext file (default stdin)')
    .option('--out <file>', 'write the raw ciphertext blob here')
    .action((f: DataFlags) => withDataClient(f, async (c) => {
      const plaintext = await readInput(f.in);
      const ctx = keyValues(f.context, '--context');
      const r = await c.encrypt({ keyId: requireKey(f), plaintext, ...(ctx ? { context: ctx } : {}) });
      plaintext.fill(0);
      if (f.out !== undefined) writeOutput(f.out, r.ciphertextBlob);
      else process.stdout.write(`${r.ciphertextBlob.toString('base64')}\n`);
    }));

  withDataConnection(program.command('decrypt'))
    .description('decrypt a ciphertext (raw or base64) from --in (or stdin); writes the plaintext to --out (or stdout)')
    .option('--key <key>', 'expected key (optional, as in AWS)')
    .option('--context <key=value>', 'encryption context (repeatable)', collect)
    .option('--in <file>', 'ciphertext file (default stdin)')
    .option('--out <file>', 'plaintext file (default stdout)')
    .action((f: DataFlags) => withDataClient(f, async (c) => {
      const ctx = keyValues(f.context, '--context');
      const r = await c.decrypt({ ciphertextBlob: blobFrom(await readInput(f.in)), ...(ctx ? { context: ctx } : {}), ...(f.key ? { keyId: f.key } : {}) });
      writeOutput(f.out, r.plaintext);
      r.plaintext.fill(0);
    }));

  withDataConnection(program.command('re-encrypt'))
    .description('re-encrypt a ciphertext under another key (or the same key\'s new primary) inside Keyward')
    .requiredOption('--destination-key <key>', 'key to re-encrypt under')
    .option('--source-key <key>', 'expected source key')
    .option('--source-context <key=value>', 'source encryption context (repeatable)', collect)
    .option('--destination-context <key=value>', 'destination encryption context (repeatable)', collect)
    .option('--in <file>', 'ciphertext file (default stdin)')
    .option('--out <file>', 'write the raw new ciphertext here (default: base64 on stdout)')
    .action((f: DataFlags & { destinationKey: string; sourceKey?: string; sourceContext?: string[]; destinationContext?: string[] }) => withDataClient(f, async (c) => {
      const src = keyValues(f.sourceContext, '--source-context');
      const dst = keyValues(f.destinationContext, '--destination-context');
      const r = await c.reEncrypt({
        ciphertextBlob: blobFrom(await readInput(f.in)), destinationKeyId: f.destinationKey,
        ...(src ? { sourceContext: src } : {}), ...(dst ? { destinationContext: dst } : {}), ...(f.sourceKey ? { sourceKeyId: f.sourceKey } : {}),
      });
      if (f.out !== undefined) writeOutput(f.out, r.ciphertextBlob);
      else process.stdout.write(`${r.ciphertextBlob.toString('base64')}\n`);
    }));

  withDataConnection(program.command('generate-data-key'))
    .description('generate a data key: prints the plaintext key and its encrypted copy (base64 JSON)')
    .requiredOption('--key <key>', 'key id, ARN or alias')
    .option('--context <key=value>', 'encryption context (repeatable)', collect)
    .option('--bytes <n>', 'key length in bytes (1-1024; default: AES_256)', (v) => Number(v))
    .option('--without-plaintext', 'only the encrypted copy')
    .action((f: DataFlags & { bytes?: number; withoutPlaintext?: boolean }) => withDataClient(f, async (c) => {
      const ctx = keyValues(f.context, '--context');
      const input = { keyId: requireKey(f), ...(ctx ? { context: ctx } : {}), ...(f.bytes !== undefined ? { numberOfBytes: f.bytes } : {}) };
      if (f.withoutPlaintext) {
        const r = await c.generateDataKeyWithoutPlaintext(input);
        printJson({ CiphertextBlob: r.ciphertextBlob.toString('base64'), KeyId: r.keyId });
      } else {
        const r = await c.generateDataKey(input);
        printJson({ Plaintext: r.plaintext.toString('base64'), CiphertextBlob: r.ciphertextBlob.toString('base64'), KeyId: r.keyId });
        r.plaintext.fill(0);
      }
    }));
}
