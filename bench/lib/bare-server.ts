import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { toJson } from '../../src/api/http/serialize.js';
import { sealBlob } from '../../src/format/index.js';
import { stopProcess, waitForListening } from './keyward.js';
import { treeRssMiB } from './rss.js';

/**
 * The baseline: a bare node:http server that reads the request body and answers a fixed small
 * JSON body. Everything Keyward does beyond this (routing, auth, JSON, crypto) is the gap.
 * Run as its own process, like the server it is compared with.
 */
const FIXED_BODY = Buffer.from('{"KeyId":"baseline","CiphertextBlob":"AAAA"}');

function fixedBody(req: IncomingMessage, res: ServerResponse): void {
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': FIXED_BODY.length });
    res.end(FIXED_BODY);
  });
}

/**
 * The reference for "the work an Encrypt cannot avoid": parse the JSON body, decode the base64
 * plaintext, seal it as Keyward does (HKDF per message, AES-256-GCM, the blob format) under one
 * in-memory key, answer JSON. No routing, no authentication, no key lookup, no metrics.
 */
function encryptOnly(): (req: IncomingMessage, res: ServerResponse) => void {
  const key = randomBytes(32);
  const ref = { tenantId: 'bench', keyId: randomUUID(), version: 1 };
  const arn = `arn:aws:kms:us-east-1:000000000000:key/${ref.keyId}`;
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Plaintext: string };
      const blob = sealBlob(ref, key, Buffer.from(input.Plaintext, 'base64'));
      const body = toJson({ CiphertextBlob: blob, KeyId: arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

function serve(mode: BareMode): void {
  const server = createServer(mode === 'encrypt' ? encryptOnly() : fixedBody);
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    if (a !== null && typeof a === 'object') process.stderr.write(`bare node:http listening on http://127.0.0.1:${a.port}\n`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

export interface BareServer {
  readonly url: string;
  readonly pid: number;
  rssMiB(): number;
  stop(): Promise<void>;
}

/** `fixed`: the fixed small body; `encrypt`: also does the JSON and crypto work of an Encrypt. */
export type BareMode = 'fixed' | 'encrypt';

export async function startBareServer(mode: BareMode = 'fixed'): Promise<BareServer> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForListening(proc, 10_000);
  return { url, pid: proc.pid!, rssMiB: () => treeRssMiB(proc.pid!), stop: () => stopProcess(proc) };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--serve') serve(process.argv[3] === 'encrypt' ? 'encrypt' : 'fixed');
