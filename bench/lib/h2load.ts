import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LoadResult } from './load.js';

const execFileP = promisify(execFile);

/**
 * h2load (nghttp2's load generator, C): one tool drives both the HTTP/1.1 AWS JSON protocol and
 * gRPC over HTTP/2, so neither transport is measured with a heavier client than the other.
 * Debian: `apt-get install nghttp2-client`.
 */
export function requireH2load(): void {
  try {
    execFileSync('h2load', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('h2load is not installed (Debian: apt-get install nghttp2-client); the gRPC rows need it');
  }
}

export interface H2loadOptions {
  readonly url: string;
  /** HTTP/1.1 keep-alive (the AWS JSON protocol) instead of HTTP/2 (gRPC). */
  readonly h1?: boolean;
  readonly connections: number;
  /** Concurrent streams per connection (HTTP/2). */
  readonly streams?: number;
  readonly durationSec: number;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * gRPC answers errors with HTTP 200 and a trailers-only response (no message): every answer
   * must carry at least this many DATA bytes, or the round fails.
   */
  readonly minDataBytesPerResponse?: number;
  /** Where the body and the latency log are written. */
  readonly tmpDir: string;
}

/** Runs one h2load round; a round with any failed request, non-2xx answer or missing message throws. */
export async function runH2load(o: H2loadOptions): Promise<LoadResult> {
  const stamp = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const bodyFile = join(o.tmpDir, `h2load-body-${stamp}`);
  const logFile = join(o.tmpDir, `h2load-log-${stamp}`);
  writeFileSync(bodyFile, o.body);
  const args = [
    ...(o.h1 ? ['--h1'] : []), '-D', String(o.durationSec), '-c', String(o.connections), '-m', String(o.h1 ? 1 : o.streams ?? 1),
    '-d', bodyFile, `--log-file=${logFile}`, ...Object.entries(o.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), o.url,
  ];
  try {
    const { stdout } = await execFileP('h2load', args, { maxBuffer: 16 * 1024 * 1024 });
    const num = (re: RegExp, what: string): number => {
      const m = re.exec(stdout);
      if (!m) throw new Error(`h2load output has no ${what}:\n${stdout.slice(-2000)}`);
      return Number(m[1]);
    };
    const rps = num(/finished in [\d.]+s, ([\d.]+) req\/s/, 'req/s');
    const done = num(/requests: \d+ total, \d+ started, (\d+) done/, 'done count');
    const failed = num(/(\d+) failed/, 'failed count') + num(/(\d+) errored/, 'errored count') + num(/(\d+) timeout/, 'timeout count');
    const ok2xx = num(/status codes: (\d+) 2xx/, '2xx count');
    const data = num(/headers \(space savings [^)]*\), [\d.]+\w* \((\d+)\) data/, 'data bytes');
    if (failed > 0 || ok2xx < done) throw new Error(`load against ${o.url}: ${failed} failed requests, ${done - ok2xx} non-2xx answers of ${done}`);
    if (o.minDataBytesPerResponse !== undefined && data < done * o.minDataBytesPerResponse) {
      throw new Error(`load against ${o.url}: ${data} bytes of messages for ${done} answers; some calls failed (a gRPC error carries no message)`);
    }
    const latencies = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => Number(line.split('\t')[2]) / 1000).sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return { rps, p50Ms: Math.round(at(0.5) * 100) / 100, p99Ms: Math.round(at(0.99) * 100) / 100, requests: done };
  } finally {
    rmSync(bodyFile, { force: true });
    rmSync(logFile, { force: true });
  }
}

/** A gRPC request body: the 5-byte length prefix (uncompressed) and the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** The gRPC listener's address, once the server has announced it (after the HTTP one). */
export async function grpcAddress(output: () => string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const m = /keyward gRPC listening on (\S+)/.exec(output());
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no gRPC listener:\n${output()}`);
}
