import type { Command } from 'commander';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { printJson, readText, UsageError, writeOutput } from '../io.js';
import { allPages } from './key.js';

type Flags = ConnectionFlags & Record<string, unknown>;

const keyward = (op: string) => `Keyward.${op}`;

function days(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--validity-days must be a positive whole number, got ${JSON.stringify(v)}`);
  return n;
}

function generation(v: unknown): Record<string, number> {
  if (v === undefined) return {};
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--generation must be a positive whole number, got ${JSON.stringify(v)}`);
  return { Generation: n };
}

const opt = (name: string, value: unknown): Record<string, unknown> => (value === undefined ? {} : { [name]: value });

/** `keyward pki ...`: the CA hierarchy, certificates and revocation. */
export function registerPki(program: Command): void {
  const pki = program.command('pki').description('certificate authority: root and tenant CAs, member certificates, revocation, CRLs');
  const sub = (name: string, description: string) => withConnection(pki.command(name)).description(description);

  sub('create-root', 'create the root CA, once (system admin)')
    .option('--common-name <cn>', 'subject common name (default "Keyward Root CA")')
    .option('--validity-days <n>', 'validity in days (default 3650)')
    .action((f: Flags) => withClient(f, async (c) => printJson(await c.send(keyward('CreateRootCA'), {
      ...opt('CommonName', f.commonName), ...opt('ValidityDays', days(f.validityDays)),
    }))));
  sub('root', 'print the root CA certificate (PEM)')
    .option('--out <file>', 'write it to a file')
    .action((f: Flags) => withClient(f, async (c) => {
      const r = await c.send<{ RootCA: { Certificate: string } }>(keyward('GetRootCA'));
      writeOutput(f.out as string | undefined, r.RootCA.Certificate);
    }));
  sub('create-tenant-ca', 'create a tenant\'s intermediate CA (tenant admin, or system admin for any tenant)')
    .option('--tenant <tenant>', 'tenant (default: your own)')
    .option('--common-name <cn>', 'subject common name')
    .option('--validity-days <n>', 'validity in days (default 1825, never beyond the root)')
    .action((f: Flags) => withClient(f, async (c) => printJson(await c.send(keyward('CreateTenantCA'), {
      ...opt('Tenant', f.tenant), ...opt('CommonName', f.commonName), ...opt('ValidityDays', days(f.validityDays)),
    }))));
  sub('rotate-tenant-ca', 'a new intermediate CA for the tenant; the old one keeps signing CRLs for what it issued')
    .option('--tenant <tenant>', 'tenant (default: your own)')
    .option('--validity-days <n>', 'validity in days')
    .action((f: Flags) => withClient(f, async (c) => printJson(await c.send(keyward('RotateTenantCA'), {
      ...opt('Tenant', f.tenant), ...opt('ValidityDays', days(f.validityDays)),
    }))));
  sub('tenant-ca', 'print a tenant CA certificate (PEM)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--generation <n>', 'an older CA generation (default: the active one)')
    .option('--out <file>', 'write it to a file')
    .action((f: Flags) => withClient(f, async (c) => {
      const r = await c.send<{ TenantCA: { Certificate: string } }>(keyward('GetTenantCA'), { Tenant: f.tenant, ...generation(f.generation) });
      writeOutput(f.out as string | undefined, r.TenantCA.Certificate);
    }));
  sub('issue', 'issue a member certificate: from a CSR (--csr, preferred), or with a key pair made by Keyward and shown once')
    .argument('<principal>', 'the principal the certificate authenticates')
    .option('--tenant <tenant>', 'tenant (default: your own)')
    .option('--role <role>', 'role the certificate carries: user or admin', 'user')
    .option('--email <address>', 'an e-mail address for the subject alternative name')
    .option('--csr <file>', 'PKCS#10 request (PEM); the private key stays with you')
    .option('--validity-days <n>', 'validity in days (default 365, never beyond the CA)')
    .option('--out <file>', 'write the certificate chain (member, then tenant CA) here instead of printing JSON')
    .option('--key-out <file>', 'without --csr: write the generated private key here (0600)')
    .action((principal: string, f: Flags) => withClient(f, async (c) => {
      const csr = f.csr !== undefined ? await readText(f.csr as string) : undefined;
      const r = await c.send<{ CertificateChain: string; PrivateKey?: string } & Record<string, unknown>>(keyward('IssueCertificate'), {
        Principal: principal, Role: f.role, ...opt('Tenant', f.tenant), ...opt('Email', f.email), ...opt('Csr', csr),
        ...opt('ValidityDays', days(f.validityDays)),
      });
      if (r.PrivateKey !== undefined && f.keyOut !== undefined) {
        writeOutput(f.keyOut as string, r.PrivateKey);
        delete r.PrivateKey;
      }
      if (f.out !== undefined) {
        writeOutput(f.out as string, r.CertificateChain);
        printJson({ SerialNumber: r.SerialNumber, CertificateMetadata: r.CertificateMetadata, ...opt('PrivateKey', r.PrivateKey) });
      } else {
        printJson(r);
      }
    }));
  sub('list', 'list certificates of a tenant')
    .option('--tenant <tenant>', 'tenant (default: your own)')
    .action((f: Flags) => withClient(f, async (c) =>
      printJson(await allPages((m) => c.send(keyward('ListCertificates'), { ...opt('Tenant', f.tenant), ...opt('Marker', m) }), 'Certificates'))));
  sub('get', 'show one certificate').argument('<serial>', 'serial number (hex)')
    .option('--tenant <tenant>', 'tenant (default: your own)')
    .action((serial: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(keyward('GetCertificate'), { SerialNumber: serial, ...opt('Tenant', f.tenant) }))));
  sub('revoke', 'revoke a certificate (every node refuses it within a second)').argument('<serial>', 'serial number (hex)')
    .option('--tenant <tenant>', 'tenant (default: your own)')
    .option('--reason <reason>', 'RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, ...')
    .action((serial: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(keyward('RevokeCertificate'), {
      SerialNumber: serial, ...opt('Tenant', f.tenant), ...opt('Reason', f.reason),
    }))));
  sub('status', 'GOOD, REVOKED or UNKNOWN').argument('<serial>', 'serial number (hex)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .action((serial: string, f: Flags) => withClient(f, async (c) => printJson(await c.send(keyward('GetCertificateStatus'), { SerialNumber: serial, Tenant: f.tenant }))));
  sub('crl', 'write a CRL (DER; --pem for PEM): of a tenant CA, or of the root without --tenant')
    .option('--tenant <tenant>', 'tenant')
    .option('--generation <n>', 'an older CA generation')
    .option('--delta', 'a delta CRL (changes since the base CRL)')
    .option('--pem', 'PEM (labelled X509 CRL) instead of DER')
    .option('--out <file>', 'write it to a file (default stdout)')
    .action((f: Flags) => withClient(f, async (c) => {
      const r = await c.send<{ Crl: string }>(keyward('GetCRL'), { ...opt('Tenant', f.tenant), ...generation(f.generation), ...(f.delta === true ? { Delta: true } : {}) });
      const der = Buffer.from(r.Crl, 'base64');
      const body = f.pem === true ? `-----BEGIN X509 CRL-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END X509 CRL-----\n` : der;
      writeOutput(f.out as string | undefined, body);
    }));
}
