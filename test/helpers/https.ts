import { request, type Agent } from 'node:https';

export interface TlsClient {
  /** Trusted server certificate(s) (PEM). */
  readonly ca: string | Buffer;
  /** Client certificate chain and key (PEM) for mTLS. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Reuse connections (one handshake for many requests) or not (a handshake per request). */
  readonly agent?: Agent;
}

export interface HttpsResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One HTTPS request with Node's TLS client (server verified against `ca`, optional client certificate). */
export function httpsRequest(url: string, tls: TlsClient, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<HttpsResult> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: options.method ?? 'GET',
      headers: options.headers ?? {}, ca: tls.ca, servername: 'localhost',
      ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
      agent: tls.agent ?? false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error('HTTPS request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** An X-Amz-Target call over HTTPS; credentials are a bearer token, the client certificate, or both. */
export async function httpsTarget(url: string, target: string, body: unknown, tls: TlsClient, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const r = await httpsRequest(`${url}/`, tls, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: JSON.parse(r.body.toString('utf8')) as Record<string, unknown> };
}
