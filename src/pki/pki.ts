import { createHash } from 'node:crypto';
import { KeywardError } from '../errors/index.js';
import {
  BoundedCache, DEFAULT_TENANT, StoreConflictError, checkPrincipalName, classifyPath, decodeRecord, encodeRecord, paths, withCasRetry,
  type CacheLimits, type Clock, type Keyring, type StoreChange, type Tenant,
} from '../keyring/index.js';
import type { CaKey } from './ca-key.js';
import type { SubjectKey } from './csr.js';
import { CA_ALGORITHM, OID, pem, randomSerial, toBuffer } from './names.js';
import type { CertificateState } from './ocsp.js';
import type { CaRecord, CertificateRecord, RevocationReason, RevocationRecord } from './types.js';
import type { Issuer, x509 as X509 } from './x509.js';

/** The X.509 and ASN.1 libraries, loaded when the PKI is first used (they are heavy to load). */
const engine = () => import('./engine.js');

const DAY_MS = 86_400_000;

export interface PkiOptions {
  /** Default validity periods, in days: root 10 years, tenant CA 5, member 1. */
  readonly rootDays: number;
  readonly tenantCaDays: number;
  readonly memberDays: number;
  /** CRLs are issued per period of this length (see crl.ts). */
  readonly crlPeriodMs: number;
  /** Public base URL of this installation: issued certificates then carry CRL and OCSP URLs. */
  readonly publicUrl?: string;
  /** The root client certificates must chain to (DER, from --tls-client-ca FILE); Keyward's own root when absent. */
  readonly clientTrustRoot?: Buffer;
  /** Certificate records and identities; CA keys follow the material cache's limits. */
  readonly records: CacheLimits;
  readonly keys: CacheLimits;
}

export interface NewCa {
  readonly commonName?: string;
  readonly validityDays?: number;
}

export interface IssueRequest {
  readonly principal: string;
  readonly role: string;
  readonly email?: string;
  /** A PKCS#10 request (PEM or DER): the private key never reaches Keyward. */
  readonly csr?: Buffer;
  readonly validityDays?: number;
}

export interface Issued {
  readonly record: CertificateRecord;
  readonly certificatePem: string;
  /** The member certificate followed by its tenant CA: what a client presents. */
  readonly chainPem: string;
  /** Only when Keyward generated the key pair: returned once, stored nowhere. */
  readonly privateKeyPem?: string;
}

export interface Crl {
  readonly der: Buffer;
  readonly number: number;
  readonly baseNumber?: number;
  readonly generation: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

/** Who a verified member certificate names. */
export interface CertificateIdentity {
  readonly tenantId: string;
  readonly principal: string;
  readonly role: string;
  readonly serialNumber: string;
  readonly caGeneration: number;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** What an issuing CA contributes to each certificate it signs (see issuerOf). */
interface IssuingCa {
  readonly issuer: Issuer;
  /** CRL distribution point and AIA extensions (DER), empty without a public URL. */
  readonly urls: readonly Buffer[];
  /** The CA certificate as PEM: the end of every chain it issues. */
  readonly chainTail: string;
}

interface Revocations {
  readonly list: readonly RevocationRecord[];
  readonly bySerial: ReadonlyMap<string, RevocationRecord>;
}

const ROLE = /^[A-Za-z0-9_-]{1,64}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,189}$/;
const denied = (message: string) => new KeywardError('AccessDeniedException', `Client certificate refused: ${message}`);

/**
 * Keyward's certificate authority: one root CA per installation signs one intermediate CA per
 * tenant (and its successors after rotation), which signs member certificates used for mTLS.
 * CA private keys are key material: made here, wrapped under the (system) tenant's master key,
 * stored through the barrier, held unwrapped only in a bounded cache that seal clears.
 */
export class Pki {
  private readonly cas: BoundedCache<{ list: CaRecord[] }>;
  private readonly rootCa: BoundedCache<{ record: CaRecord }>;
  private readonly caKeys: BoundedCache<CaKey>;
  private readonly revocations: BoundedCache<Revocations>;
  private readonly crls: BoundedCache<Crl>;
  private readonly identities: BoundedCache<CertificateIdentity>;
  /** Issuing CAs read from their certificates, by certificate (base64). */
  private readonly issuers: Map<string, IssuingCa>;
  private readonly unwatch: () => void;
  private readonly caListeners = new Set<() => void>();
  /** Certificate records waiting for the next group commit (storeCertificate). */
  private readonly unstored: Array<{ record: CertificateRecord; resolve: () => void; reject: (e: unknown) => void }> = [];
  private storing = false;

  constructor(private readonly keyring: Keyring, private readonly clock: Clock, private readonly options: PkiOptions) {
    this.cas = new BoundedCache(options.records);
    this.rootCa = new BoundedCache({ max: 1, ttlMs: options.records.ttlMs });
    this.caKeys = new BoundedCache(options.keys);
    this.revocations = new BoundedCache(options.records);
    this.crls = new BoundedCache({ max: 1000, ttlMs: options.records.ttlMs });
    this.identities = new BoundedCache(options.records);
    this.issuers = new Map();
    this.unwatch = keyring.barrier.watch((change) => this.onChange(change));
  }

  // --- the root CA ---------------------------------------------------------------------------

  async createRoot(input: NewCa): Promise<CaRecord> {
    const { x509, caKeyRef, generateCaKey } = await engine();
    const now = this.clock();
    const system = await this.keyring.tenants.require(DEFAULT_TENANT);
    const ref = caKeyRef(system.id, 1, true);
    const { keys, wrapped } = await generateCaKey(() => this.keyring.tenants.masterKey(system), ref);
    const notAfter = new Date(now.getTime() + (input.validityDays ?? this.options.rootDays) * DAY_MS);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: [{ O: ['Keyward'] }, { CN: [input.commonName ?? 'Keyward Root CA'] }],
      keys,
      signingAlgorithm: CA_ALGORITHM,
      notBefore: now,
      notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const record = caRecord(cert, undefined, 1, wrapped, now);
    try {
      await this.keyring.barrier.put(paths.pkiRoot(), encodeRecord(record), { ifVersion: 0 });
    } catch (e) {
      if (e instanceof StoreConflictError) throw new KeywardError('AlreadyExistsException', 'The root CA already exists; an installation has exactly one.');
      throw e;
    }
    this.rootCa.delete('root');
    return record;
  }

  async root(): Promise<CaRecord | undefined> {
    const r = await this.rootCa.get('root', async () => {
      const entry = await this.keyring.barrier.get(paths.pkiRoot());
      return entry === undefined ? undefined : { record: decodeRecord<CaRecord>(entry) };
    });
    return r?.record;
  }

  async requireRoot(): Promise<CaRecord> {
    const root = await this.root();
    if (root === undefined) throw new KeywardError('NotFoundException', 'The root CA does not exist yet: create it first (keyward pki create-root, Keyward.CreateRootCA).');
    return root;
  }

  // --- tenant CAs ----------------------------------------------------------------------------

  /** The tenant's CAs, oldest generation first (the last one is active). */
  async tenantCas(tenantId: string): Promise<readonly CaRecord[]> {
    const r = await this.cas.get(tenantId, async () => ({ list: await this.listAll<CaRecord>(paths.pkiCas(tenantId)) }));
    return r?.list ?? [];
  }

  async activeCa(tenantId: string): Promise<CaRecord> {
    const list = await this.tenantCas(tenantId);
    const active = list.at(-1);
    if (active === undefined) throw new KeywardError('NotFoundException', `Tenant ${tenantId} has no CA yet: create it first (keyward pki create-tenant-ca, Keyward.CreateTenantCA).`);
    return active;
  }

  async tenantCa(tenantId: string, generation?: number): Promise<CaRecord> {
    if (generation === undefined) return this.activeCa(tenantId);
    const ca = (await this.tenantCas(tenantId)).find((c) => c.generation === generation);
    if (ca === undefined) throw new KeywardError('NotFoundException', `Tenant ${tenantId} has no CA of generation ${generation}.`);
    return ca;
  }

  /** The tenant's first CA; AlreadyExistsException if it has one (RotateTenantCA makes the next). */
  async createTenantCa(tenant: Tenant, input: NewCa): Promise<CaRecord> {
    if ((await this.tenantCas(tenant.id)).length > 0) {
      throw new KeywardError('AlreadyExistsException', `Tenant ${tenant.id} already has a CA; use RotateTenantCA for a new one.`);
    }
    return this.addTenantCa(tenant, 1, input);
  }

  /**
   * A new intermediate for the tenant: it issues from now on; the previous one is retired and
   * keeps signing CRLs and OCSP answers for the certificates it issued until they expire.
   */
  async rotateTenantCa(tenant: Tenant, input: NewCa): Promise<{ current: CaRecord; previous: CaRecord }> {
    const previous = await this.activeCa(tenant.id);
    const current = await this.addTenantCa(tenant, previous.generation + 1, input, previous);
    return { current, previous };
  }

  private async addTenantCa(tenant: Tenant, generation: number, input: NewCa, previous?: CaRecord): Promise<CaRecord> {
    const { x509, caKeyRef, generateCaKey, stringExtension } = await engine();
    const root = await this.requireRoot();
    const rootCert = new x509.X509Certificate(Buffer.from(root.certificate, 'base64'));
    const now = this.clock();
    const ref = caKeyRef(tenant.id, generation, false);
    const { keys, wrapped } = await generateCaKey(() => this.keyring.tenants.masterKey(tenant), ref);
    const notAfter = earliest(new Date(now.getTime() + (input.validityDays ?? this.options.tenantCaDays) * DAY_MS), rootCert.notAfter);
    const name = input.commonName ?? `${tenant.id} Intermediate CA`;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: [{ O: ['Keyward'] }, { OU: [tenant.id] }, { CN: [generation > 1 ? `${name} G${generation}` : name] }],
      issuer: rootCert.subjectName,
      publicKey: keys.publicKey,
      signingKey: (await this.rootKey(root)).signing,
      signingAlgorithm: CA_ALGORITHM,
      notBefore: now,
      notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(rootCert.publicKey),
        stringExtension(OID.tenant, tenant.id),
        ...this.publicUrls(x509, undefined, 1),
      ],
    });
    const record = caRecord(cert, tenant.id, generation, wrapped, now);
    await withCasRetry(() => this.keyring.barrier.transaction(async (tx) => {
      try {
        await tx.put(paths.pkiCa(tenant.id, generation), encodeRecord(record), { ifVersion: 0 });
      } catch (e) {
        if (e instanceof StoreConflictError) {
          throw new KeywardError(previous ? 'ConflictException' : 'AlreadyExistsException', `Tenant ${tenant.id} already has a CA of generation ${generation}; another request made it.`);
        }
        throw e;
      }
      if (previous !== undefined) {
        const entry = await tx.get(paths.pkiCa(tenant.id, previous.generation));
        if (entry === undefined) throw new KeywardError('ConflictException', `The CA of generation ${previous.generation} of tenant ${tenant.id} disappeared; retry.`);
        const old = decodeRecord<CaRecord>(entry);
        await tx.put(entry.path, encodeRecord({ ...old, state: 'retired', retiredAt: now.toISOString() } satisfies CaRecord), { ifVersion: entry.version });
      }
    }));
    this.cas.delete(tenant.id);
    return record;
  }

  // --- member certificates -------------------------------------------------------------------

  async issue(tenant: Tenant, request: IssueRequest): Promise<Issued> {
    const { generateMemberKey, memberName, memberTbs, readCsr, signTbs } = await engine();
    checkPrincipalName(request.principal);
    if (!ROLE.test(request.role)) throw new KeywardError('ValidationException', 'Role must be 1-64 characters of A-Z, a-z, 0-9, _ and - (admin or user to authenticate to Keyward).');
    if (request.email !== undefined && !EMAIL.test(request.email)) throw new KeywardError('ValidationException', 'Email must be an e-mail address.');
    const subjectKey: SubjectKey & { privateKeyPem?: string } = request.csr !== undefined ? await readCsr(request.csr) : await generateMemberKey();
    const ca = await this.activeCa(tenant.id);
    const { issuer, urls, chainTail } = await this.issuerOf(tenant.id, ca);
    const caCert = issuer.certificate;
    const now = this.clock();
    if (caCert.notAfter.getTime() <= now.getTime()) {
      throw new KeywardError('KMSInvalidStateException', `The CA of tenant ${tenant.id} has expired; rotate it (RotateTenantCA).`);
    }
    // X.509 times are whole seconds: the record says what the certificate says
    const notBefore = wholeSeconds(now);
    const notAfter = wholeSeconds(earliest(new Date(now.getTime() + (request.validityDays ?? this.options.memberDays) * DAY_MS), caCert.notAfter));
    const serialNumber = randomSerial();
    const key = await this.caKey(tenant, ca);
    const subject = memberName(tenant.id, request.principal);
    const certificate = signTbs(memberTbs(issuer, {
      serialNumber,
      subject,
      publicKey: subjectKey.spki,
      keyEncipherment: subjectKey.keySpec.startsWith('RSA'),
      notBefore,
      notAfter,
      ...(request.email !== undefined ? { email: request.email } : {}),
      principal: request.principal,
      tenantId: tenant.id,
      role: request.role,
      trailing: urls,
    }), key.keyObject);
    const record: CertificateRecord = {
      tenantId: tenant.id,
      serialNumber,
      caGeneration: ca.generation,
      subject: subject.text,
      principal: request.principal,
      role: request.role,
      ...(request.email !== undefined ? { email: request.email } : {}),
      keySource: request.csr !== undefined ? 'CSR' : 'GENERATED',
      keySpec: subjectKey.keySpec,
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      certificate: certificate.toString('base64'),
      createdAt: now.toISOString(),
    };
    await this.storeCertificate(record);
    const certificatePem = pem(certificate, 'CERTIFICATE');
    return {
      record,
      certificatePem,
      chainPem: `${certificatePem}${chainTail}`,
      ...(subjectKey.privateKeyPem !== undefined ? { privateKeyPem: subjectKey.privateKeyPem } : {}),
    };
  }

  /**
   * An issuing CA read from its certificate, with the DER of the URL extensions its certificates
   * carry and its PEM: a CA's certificate never changes (a rotation makes a new one), so this is
   * read once per CA (a handful kept).
   */
  private async issuerOf(tenantId: string, ca: CaRecord): Promise<IssuingCa> {
    const cached = this.issuers.get(ca.certificate);
    if (cached !== undefined) return cached;
    const { x509, readIssuer } = await engine();
    const der = Buffer.from(ca.certificate, 'base64');
    const entry: IssuingCa = {
      issuer: readIssuer(der),
      urls: this.publicUrls(x509, tenantId, ca.generation).map((e) => Buffer.from(e.rawData)),
      chainTail: pem(der, 'CERTIFICATE'),
    };
    if (this.issuers.size >= 64) this.issuers.clear();
    this.issuers.set(ca.certificate, entry);
    return entry;
  }

  /**
   * Stores a new certificate record; resolves once it is committed. Records of issuances that
   * run at the same time share one commit (group commit), written as a write-only batch (on
   * SQLite in a worker thread): a commit's fsync on the event loop was the largest single cost
   * of an issuance under concurrent load. No cache holds certificate records (find() reads the
   * store), so they need no change notification. The first record after a quiet spell is written
   * at once; those that arrive while it commits go together next.
   */
  private storeCertificate(record: CertificateRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.unstored.push({ record, resolve, reject });
      if (!this.storing) void this.storeUnstored();
    });
  }

  private async storeUnstored(): Promise<void> {
    this.storing = true;
    try {
      while (this.unstored.length > 0) {
        const batch = this.unstored.splice(0, 256);
        const op = (r: CertificateRecord) => ({ path: paths.pkiCertificate(r.tenantId, r.serialNumber), value: encodeRecord(r), ifVersion: 0 });
        try {
          await this.keyring.barrier.writeBatch(batch.map((p) => op(p.record)));
          for (const p of batch) p.resolve();
        } catch (e) {
          if (batch.length === 1) batch[0]!.reject(e);
          // one record that cannot be stored (a serial number taken) must not fail the others
          else await Promise.all(batch.map((p) => this.keyring.barrier.writeBatch([op(p.record)]).then(() => p.resolve(), p.reject)));
        }
      }
    } finally {
      this.storing = false;
    }
  }

  async list(tenantId: string, after: string | undefined, limit: number): Promise<{ certificates: CertificateRecord[]; next?: string }> {
    const page = await this.keyring.barrier.list(paths.pkiCertificates(tenantId), { ...(after !== undefined ? { after } : {}), limit });
    const certificates = page.entries.map((e) => decodeRecord<CertificateRecord>(e));
    return page.next === undefined ? { certificates } : { certificates, next: page.next };
  }

  async find(tenantId: string, serialNumber: string): Promise<CertificateRecord | undefined> {
    const entry = await this.keyring.barrier.get(paths.pkiCertificate(tenantId, serialNumber));
    return entry === undefined ? undefined : decodeRecord<CertificateRecord>(entry);
  }

  async certificate(tenantId: string, serialNumber: string): Promise<CertificateRecord> {
    const record = await this.find(tenantId, serialNumber);
    if (record === undefined) throw new KeywardError('NotFoundException', `Tenant ${tenantId} has no certificate with serial number ${serialNumber}.`);
    return record;
  }

  /**
   * Revokes a certificate: its record, the revocation index every node reads, and the issuing
   * CA's revision (CRL numbering) change in one transaction. Revoking twice is refused.
   */
  async revoke(tenant: Tenant, serialNumber: string, reason: RevocationReason): Promise<CertificateRecord> {
    const revoked = await withCasRetry(() => this.keyring.barrier.transaction(async (tx) => {
      const entry = await tx.get(paths.pkiCertificate(tenant.id, serialNumber));
      if (entry === undefined) throw new KeywardError('NotFoundException', `Tenant ${tenant.id} has no certificate with serial number ${serialNumber}.`);
      const cert = decodeRecord<CertificateRecord>(entry);
      if (cert.revoked !== undefined) {
        throw new KeywardError('KMSInvalidStateException', `Certificate ${serialNumber} is already revoked (since ${cert.revoked.revokedAt}, reason ${cert.revoked.reason}).`);
      }
      const caEntry = await tx.get(paths.pkiCa(tenant.id, cert.caGeneration));
      if (caEntry === undefined) throw new KeywardError('IntegrityException', `the CA of generation ${cert.caGeneration} of tenant ${tenant.id} is missing`);
      const ca = decodeRecord<CaRecord>(caEntry);
      // revocation times of one CA strictly increase: CRL numbers derive from them
      const at = new Date(Math.max(this.clock().getTime(), Date.parse(ca.revisedAt) + 1)).toISOString();
      const next: CertificateRecord = { ...cert, revoked: { revokedAt: at, reason } };
      const index: RevocationRecord = { serialNumber, caGeneration: cert.caGeneration, notAfter: cert.notAfter, revokedAt: at, reason };
      await tx.put(entry.path, encodeRecord(next), { ifVersion: entry.version });
      await tx.put(paths.pkiRevocation(tenant.id, serialNumber), encodeRecord(index), { ifVersion: 0 });
      await tx.put(caEntry.path, encodeRecord({ ...ca, revisedAt: at } satisfies CaRecord), { ifVersion: caEntry.version });
      return next;
    }));
    this.revocations.delete(tenant.id);
    this.cas.delete(tenant.id);
    return revoked;
  }

  /** good, revoked or unknown, from the revocation state every node keeps in memory. */
  async status(tenantId: string, serialNumber: string, generation?: number): Promise<CertificateState> {
    const revocation = (await this.revocationsOf(tenantId)).bySerial.get(serialNumber);
    if (revocation !== undefined && (generation === undefined || revocation.caGeneration === generation)) {
      return { status: 'revoked', revocation };
    }
    const record = await this.find(tenantId, serialNumber);
    if (record === undefined || (generation !== undefined && record.caGeneration !== generation)) return { status: 'unknown' };
    return record.revoked !== undefined ? { status: 'revoked', revocation: record.revoked } : { status: 'good' };
  }

  // --- CRLs and OCSP -------------------------------------------------------------------------

  /** A complete or delta CRL of a tenant CA (the active one unless a generation is named), or of the root. */
  async crl(tenantId: string | undefined, options: { generation?: number; delta?: boolean } = {}): Promise<Crl> {
    const delta = options.delta === true;
    const ca = tenantId === undefined ? await this.requireRoot() : await this.tenantCa(tenantId, options.generation);
    const revocations = tenantId === undefined ? [] : (await this.revocationsOf(tenantId)).list.filter((r) => r.caGeneration === ca.generation);
    const { planCrl } = await engine();
    const plan = planCrl(Date.parse(ca.revisedAt), this.clock().getTime(), this.options.crlPeriodMs, delta, revocations);
    const cacheKey = `${tenantId ?? ''}/${ca.generation}/${plan.number}`;
    const crl = await this.crls.get(cacheKey, async () => {
      const { x509, signCrl } = await engine();
      const caCert = new x509.X509Certificate(Buffer.from(ca.certificate, 'base64'));
      const key = tenantId === undefined ? await this.rootKey(ca) : await this.caKey(await this.keyring.tenants.require(tenantId), ca);
      const der = await signCrl(caCert, key, plan);
      return {
        der, number: plan.number, generation: ca.generation, thisUpdate: plan.thisUpdate, nextUpdate: plan.nextUpdate,
        ...(plan.baseNumber !== undefined ? { baseNumber: plan.baseNumber } : {}),
      };
    });
    if (crl === undefined) throw new Error('unreachable');
    return crl;
  }

  /** Answers a DER OCSP request about certificates of the tenant's CAs (any generation). */
  async ocsp(tenantId: string, requestDer: Buffer): Promise<Buffer> {
    const { respondOcsp } = await engine();
    const tenant = await this.keyring.tenants.find(tenantId);
    const cas = tenant === undefined ? [] : await this.tenantCas(tenantId);
    return respondOcsp(
      requestDer,
      cas.map((c) => ({ certificate: Buffer.from(c.certificate, 'base64'), generation: c.generation })),
      (q) => this.status(tenantId, q.serialNumber, q.generation),
      async (issuer) => {
        const ca = cas.find((c) => c.generation === issuer.generation);
        if (ca === undefined || tenant === undefined) throw new Error('unreachable');
        return this.caKey(tenant, ca);
      },
      this.clock(),
    );
  }

  // --- mTLS ----------------------------------------------------------------------------------

  /**
   * Who a client certificate (DER, its key already proven by the TLS handshake) names: it must be
   * a member certificate issued by a CA of the tenant it names, that CA must chain to the trusted
   * root (clientTrustRoot, else Keyward's own), and it must be within its validity and not revoked.
   * Revocation is read from the in-memory state, which follows revocations on every node.
   */
  async identify(leaf: Buffer): Promise<CertificateIdentity> {
    const cacheKey = createHash('sha256').update(leaf).digest('hex');
    const identity = await this.identities.get(cacheKey, () => this.verifyChain(leaf, this.options.clientTrustRoot));
    if (identity === undefined) throw new Error('unreachable');
    const now = this.clock().getTime();
    if (now < identity.notBefore) throw denied(`certificate ${identity.serialNumber} is not valid yet`);
    if (now > identity.notAfter) throw denied(`certificate ${identity.serialNumber} has expired`);
    const revocation = (await this.revocationsOf(identity.tenantId)).bySerial.get(identity.serialNumber);
    if (revocation !== undefined) throw denied(`certificate ${identity.serialNumber} was revoked at ${revocation.revokedAt} (${revocation.reason})`);
    return identity;
  }

  private async verifyChain(leafDer: Buffer, trustRoot: Buffer | undefined): Promise<CertificateIdentity> {
    const { x509, readStringExtension } = await engine();
    let leaf: X509.X509Certificate;
    try {
      leaf = new x509.X509Certificate(leafDer);
    } catch {
      throw denied('it is not an X.509 certificate');
    }
    const tenantId = readStringExtension(leaf, OID.tenant);
    const principal = readStringExtension(leaf, OID.member);
    const role = readStringExtension(leaf, OID.role);
    if (tenantId === undefined || principal === undefined || role === undefined) {
      throw denied('it is not a Keyward member certificate (the tenant, member and role extensions are missing)');
    }
    const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
    if (eku === null || !eku.usages.includes(x509.ExtendedKeyUsage.clientAuth)) throw denied('it is not for client authentication (extendedKeyUsage)');
    if (leaf.getExtension(x509.BasicConstraintsExtension)?.ca === true) throw denied('it is a CA certificate');
    let issuer: CaRecord | undefined;
    // a CA another node made a moment ago may not be in this node's list yet (its change
    // notification still on the way): on no match, the list is read from the store once more
    let cas = await this.tenantCas(tenantId);
    if (!cas.some((ca) => ca.subject === leaf.issuer)) {
      this.cas.delete(tenantId);
      cas = await this.tenantCas(tenantId);
    }
    for (const ca of cas) {
      const caCert = new x509.X509Certificate(Buffer.from(ca.certificate, 'base64'));
      if (caCert.subject === leaf.issuer && await leaf.verify({ publicKey: caCert.publicKey, signatureOnly: true })) {
        issuer = ca;
        const root = trustRoot ?? Buffer.from((await this.requireRoot()).certificate, 'base64');
        const rootCert = new x509.X509Certificate(root);
        if (!await caCert.verify({ publicKey: rootCert.publicKey, signatureOnly: true })) throw denied('its CA does not chain to the trusted root');
        break;
      }
    }
    if (issuer === undefined) throw denied(`it was not issued by a CA of tenant ${tenantId}`);
    return {
      tenantId, principal, role,
      serialNumber: leaf.serialNumber.toLowerCase(),
      caGeneration: issuer.generation,
      notBefore: leaf.notBefore.getTime(),
      notAfter: leaf.notAfter.getTime(),
    };
  }

  /**
   * What a TLS stack should trust for client certificates: the root (the configured one, else
   * Keyward's) and every tenant CA (so clients need not send their intermediate), as DER.
   */
  async trustAnchors(): Promise<Buffer[]> {
    const out: Buffer[] = [];
    const root = this.options.clientTrustRoot ?? (await this.root())?.certificate;
    if (root !== undefined) out.push(typeof root === 'string' ? Buffer.from(root, 'base64') : root);
    for (const ca of await this.listAll<CaRecord>('pki-cas/')) out.push(Buffer.from(ca.certificate, 'base64'));
    return out.map((der) => Buffer.from(pem(der, 'CERTIFICATE')));
  }

  /** Calls `listener` when a CA (root or tenant) is added or changes, here or on another node. */
  onCaChange(listener: () => void): void {
    this.caListeners.add(listener);
  }

  // --- caches --------------------------------------------------------------------------------

  /** Drops every cached CA key and record (on seal and shutdown). */
  clear(): void {
    this.cas.clear();
    this.rootCa.clear();
    this.caKeys.clear();
    this.revocations.clear();
    this.crls.clear();
    this.identities.clear();
  }

  close(): void {
    this.unwatch();
    this.caListeners.clear();
    this.clear();
  }

  private async revocationsOf(tenantId: string): Promise<Revocations> {
    const r = await this.revocations.get(tenantId, async () => {
      const list = await this.listAll<RevocationRecord>(paths.pkiRevocations(tenantId));
      return { list, bySerial: new Map(list.map((x) => [x.serialNumber, x])) };
    });
    if (r === undefined) throw new Error('unreachable');
    return r;
  }

  /** Every record under a prefix, page by page. */
  private async listAll<T>(prefix: string): Promise<T[]> {
    const out: T[] = [];
    for (let after: string | undefined; ;) {
      const page = await this.keyring.barrier.list(prefix, { ...(after !== undefined ? { after } : {}), limit: 1000 });
      out.push(...page.entries.map((e) => decodeRecord<T>(e)));
      if (page.next === undefined) return out;
      after = page.next;
    }
  }

  private async caKey(tenant: Tenant, ca: CaRecord): Promise<CaKey> {
    const { caKeyRef, openCaKey } = await engine();
    const key = await this.caKeys.get(`${tenant.id}/${ca.generation}`, () =>
      openCaKey(() => this.keyring.tenants.masterKey(tenant), caKeyRef(tenant.id, ca.generation, false), ca.wrappedKey));
    if (key === undefined) throw new Error('unreachable');
    return key;
  }

  private async rootKey(root: CaRecord): Promise<CaKey> {
    const { caKeyRef, openCaKey } = await engine();
    const system = await this.keyring.tenants.require(DEFAULT_TENANT);
    const key = await this.caKeys.get(`*root/${root.generation}`, () =>
      openCaKey(() => this.keyring.tenants.masterKey(system), caKeyRef(system.id, root.generation, true), root.wrappedKey));
    if (key === undefined) throw new Error('unreachable');
    return key;
  }

  /** CRL distribution point and AIA (OCSP, issuer) extensions, when a public URL is configured. */
  private publicUrls(x509: typeof X509, tenantId: string | undefined, generation: number): X509.Extension[] {
    const base = this.options.publicUrl?.replace(/\/+$/, '');
    if (base === undefined) return [];
    if (tenantId === undefined) {
      return [
        new x509.CRLDistributionPointsExtension([`${base}/v1/pki/root/crl`]),
        new x509.AuthorityInfoAccessExtension({ caIssuers: `${base}/v1/pki/root?format=der` }),
      ];
    }
    const t = encodeURIComponent(tenantId);
    return [
      new x509.CRLDistributionPointsExtension([`${base}/v1/pki/${t}/crl?generation=${generation}`]),
      new x509.AuthorityInfoAccessExtension({ ocsp: `${base}/v1/pki/${t}/ocsp`, caIssuers: `${base}/v1/pki/${t}/ca?generation=${generation}&format=der` }),
    ];
  }

  private onChange(change: StoreChange): void {
    if ('all' in change) {
      this.clear();
      for (const l of this.caListeners) l();
      return;
    }
    let caChanged = false;
    for (const path of change.keys) {
      const c = classifyPath(path);
      if (c.kind !== 'pki') continue;
      if (c.tenantId === undefined || path.startsWith('pki-cas/')) caChanged = true;
      if (c.tenantId === undefined) {
        this.rootCa.clear();
        this.identities.clear();
      } else if (path.startsWith('pki-cas/')) {
        this.cas.delete(c.tenantId);
        this.identities.clear();
      } else if (path.startsWith('pki-revoked/')) {
        this.revocations.delete(c.tenantId);
      }
    }
    if (caChanged) for (const l of this.caListeners) l();
  }
}

function caRecord(cert: X509.X509Certificate, tenantId: string | undefined, generation: number, wrappedKey: string, now: Date): CaRecord {
  return {
    ...(tenantId !== undefined ? { tenantId } : {}),
    generation,
    state: 'active',
    certificate: toBuffer(cert.rawData).toString('base64'),
    serialNumber: cert.serialNumber.toLowerCase(),
    subject: cert.subject,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    wrappedKey,
    createdAt: now.toISOString(),
    revisedAt: now.toISOString(),
  };
}

function earliest(a: Date, b: Date): Date {
  return a.getTime() <= b.getTime() ? a : b;
}


function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

