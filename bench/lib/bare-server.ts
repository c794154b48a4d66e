import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { stopProcess, waitForListening } from './keyward.js';
import { treeRssMiB } from './rss.js';

/**
 * The baseline: a bare node:http server that reads the request body and answers a fixed small
 * JSON body. Everything Keyward does beyond this (routing, auth, JSON, crypto) is the gap.
 * Run as its own process, like the server it is compared with.
 */
const FIXED_BODY = Buffer.from('{"KeyId":"baseline","CiphertextBlob":"AAAA"}');

function serve(): void {
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': FIXED_BODY.length });
      res.end(FIXED_BODY);
    });
  });
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

export async function startBareServer(): Promise<BareServer> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForListening(proc, 10_000);
  return { url, pid: proc.pid!, rssMiB: () => treeRssMiB(proc.pid!), stop: () => stopProcess(proc) };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--serve')) serve();
