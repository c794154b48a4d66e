import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Runs openssl; answers its exit code and output (verify and ocsp report through both). */
export async function openssl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  try {
    const child = execFileP('openssl', args, { timeout: 30_000 });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    const r = await child;
    return { code: 0, out: `${r.stdout}${r.stderr}` };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/** A server certificate for 127.0.0.1/localhost made by openssl: { cert, key } paths. */
export function serverCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'server.pem');
  const key = join(dir, 'server-key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  return { cert, key };
}

/** A key pair and PKCS#10 request made by openssl (the private key stays in `dir`). */
export function csrFromOpenssl(dir: string, name: string, keyArgs: string[] = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']): { key: string; csr: string } {
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`], { stdio: 'ignore' });
  return { key, csr };
}

export function writeText(dir: string, name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
