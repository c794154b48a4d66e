import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac } from 'node:crypto';

/**
 * Calls an X-Amz-Target operation with raw JSON (Keyward.* targets have no AWS SDK command).
 * `clockOffsetMs` signs as of that far from now (for servers whose clock a test has moved).
 */
export async function callTarget(url: string, target: string, body: unknown, auth: { token: string } | { accessKeyId: string; secretAccessKey: string }, clockOffsetMs = 0): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = JSON.stringify(body);
  const u = new URL(url);
  let headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target, host: u.host };
  if ('token' in auth) {
    headers.authorization = `Bearer ${auth.token}`;
  } else {
    const signer = new SignatureV4({ service: 'kms', region: 'us-east-1', credentials: auth, sha256: Sha256 });
    const signed = await signer.sign(
      { method: 'POST', protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: '/', headers, body: payload },
      { signingDate: new Date(Date.now() + clockOffsetMs) },
    );
    headers = signed.headers as Record<string, string>;
  }
  const res = await fetch(`${url}/`, { method: 'POST', headers, body: payload });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

class Sha256 {
  private readonly h;
  constructor(secret?: unknown) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as Buffer);
  }
  update(d: string | Uint8Array): void { this.h.update(d); }
  async digest(): Promise<Uint8Array> { return this.h.digest(); }
  reset(): void { /* unused */ }
}
