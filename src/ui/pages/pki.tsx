import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api.js';
import { canControl, ConfirmDialog, ErrorBox, formatTime, inputValue, isSystemAdmin, useConfirm, useLoad, type Identity, Pager } from '../components.js';

interface Ca { Certificate: string; SerialNumber: string; Subject: string; Generation: number; State: string; NotBefore: number; NotAfter: number; Tenant?: string }
interface Certificate {
  SerialNumber: string; Tenant: string; Principal: string; Role: string; Subject: string; Email?: string; KeySpec: string; KeySource: string;
  CaGeneration: number; NotBefore: number; NotAfter: number; CreationDate: number; Status: string; RevocationDate?: number; RevocationReason?: string;
}
interface Crl { CrlNumber: number; IsDelta: boolean; Generation: number; ThisUpdate: number; NextUpdate: number; Crl: string }

const REASONS = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise'];

/** A PKI object that may not exist yet (no CA made): NotFoundException shows as "none". */
async function optional<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiError && (e.code === 'NotFoundException' || e.code === 'KMSInvalidStateException')) return undefined;
    throw e;
  }
}

/** The tenant's CA, its certificates (revoke with typed confirmation) and CRLs. */
export function PkiPage({ identity }: { identity: Identity }) {
  const [tenant, setTenant] = useState(identity.Tenant);
  const [markers, setMarkers] = useState<Array<string | undefined>>([undefined]);
  const marker = markers[markers.length - 1];
  const cas = useLoad(async () => ({
    root: await optional(call<{ RootCA: Ca }>('Keyward.GetRootCA').then((r) => r.RootCA)),
    tenant: await optional(call<{ TenantCA: Ca }>('Keyward.GetTenantCA', { Tenant: tenant }).then((r) => r.TenantCA)),
  }), [tenant]);
  const crls = useLoad(async () => ({
    complete: await optional(call<Crl>('Keyward.GetCRL', { Tenant: tenant })),
    delta: await optional(call<Crl>('Keyward.GetCRL', { Tenant: tenant, Delta: true })),
  }), [tenant]);
  const certs = useLoad(() => canControl(identity)
    ? call<{ Certificates: Certificate[]; Truncated: boolean; NextMarker?: string }>('Keyward.ListCertificates', { Tenant: tenant, Limit: 50, ...(marker !== undefined ? { Marker: marker } : {}) })
    : Promise.resolve(undefined), [tenant, marker]);
  const [reason, setReason] = useState('unspecified');
  const [confirmation, confirm, closeConfirm] = useConfirm();

  return (
    <>
      <h1>PKI</h1>
      {isSystemAdmin(identity) ? (
        <form class="inline-form" onSubmit={(e) => e.preventDefault()}>
          <label for="pki-tenant">Tenant</label>
          <input id="pki-tenant" value={tenant} onChange={(e) => { setTenant(inputValue(e)); setMarkers([undefined]); }} />
        </form>
      ) : null}
      <section class="card" aria-labelledby="ca-title">
        <h2 id="ca-title">Certificate authorities</h2>
        <ErrorBox error={cas.error} />
        {cas.data !== undefined ? (
          <div class="grid">
            <CaView title="Root CA" ca={cas.data.root} id="root-ca" />
            <CaView title={`CA of tenant ${tenant}`} ca={cas.data.tenant} id="tenant-ca" />
          </div>
        ) : null}
      </section>
      <section class="card" aria-labelledby="crl-title">
        <h2 id="crl-title">Certificate revocation lists</h2>
        <ErrorBox error={crls.error} />
        {crls.data !== undefined ? (
          <dl class="facts">
            {([['Complete CRL', crls.data.complete], ['Delta CRL', crls.data.delta]] as const).map(([label, c]) => (
              <Fragment key={label}>
                <dt>{label}</dt>
                <dd>{c === undefined ? 'none (no CA yet)' : `number ${c.CrlNumber}, generation ${c.Generation}, this update ${formatTime(c.ThisUpdate)}, next update ${formatTime(c.NextUpdate)}`}</dd>
              </Fragment>
            ))}
            <dt>Download</dt>
            <dd><a href={`/v1/pki/${encodeURIComponent(tenant)}/crl?format=pem`}>CRL (PEM)</a>, <a href={`/v1/pki/${encodeURIComponent(tenant)}/crl?delta=true&format=pem`}>delta CRL (PEM)</a>, <a href={`/v1/pki/${encodeURIComponent(tenant)}/ca`}>tenant CA (PEM)</a></dd>
          </dl>
        ) : null}
      </section>
      {canControl(identity) ? (
        <section class="card" aria-labelledby="certs-title">
          <h2 id="certs-title">Issued certificates</h2>
          <div class="field">
            <label for="revoke-reason">Revocation reason</label>
            <select id="revoke-reason" value={reason} onChange={(e) => setReason(inputValue(e))}>
              {REASONS.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          </div>
          <ErrorBox error={certs.error} />
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Certificates</caption>
              <thead><tr><th scope="col">Serial</th><th scope="col">Subject</th><th scope="col">Principal</th><th scope="col">Status</th><th scope="col">Valid until</th><th scope="col">Actions</th></tr></thead>
              <tbody>
                {(certs.data?.Certificates ?? []).map((c) => (
                  <tr key={c.SerialNumber}>
                    <td class="mono">{c.SerialNumber}</td>
                    <td>{c.Subject}</td>
                    <td>{c.Principal} ({c.Role})</td>
                    <td>{c.Status}{c.RevocationReason !== undefined ? ` (${c.RevocationReason}, ${formatTime(c.RevocationDate)})` : ''}</td>
                    <td>{formatTime(c.NotAfter)}</td>
                    <td>{c.Status === 'GOOD' ? <button type="button" class="danger small" onClick={() => confirm({
                      title: `Revoke certificate ${c.SerialNumber}`, description: `The certificate of ${c.Subject} is listed on the next CRL and OCSP answers "revoked"; this cannot be undone.`,
                      expected: c.SerialNumber, action: 'Revoke',
                      run: async () => { await call('Keyward.RevokeCertificate', { Tenant: tenant, SerialNumber: c.SerialNumber, Reason: reason }); certs.reload(); crls.reload(); },
                    })}>Revoke</button> : null}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {certs.data !== undefined && certs.data.Certificates.length === 0 ? <p>No certificates issued.</p> : null}
          <Pager markers={markers} setMarkers={setMarkers} next={certs.data?.Truncated === true ? certs.data?.NextMarker : undefined} />
        </section>
      ) : null}
      <ConfirmDialog confirmation={confirmation} onClose={closeConfirm} />
    </>
  );
}

function CaView({ title, ca, id }: { title: string; ca: Ca | undefined; id: string }) {
  return (
    <div>
      <h3>{title}</h3>
      {ca === undefined ? <p>None yet.</p> : (
        <>
          <dl class="facts">
            <dt>Subject</dt><dd>{ca.Subject}</dd>
            <dt>Serial</dt><dd class="mono">{ca.SerialNumber}</dd>
            <dt>Generation</dt><dd>{ca.Generation} ({ca.State})</dd>
            <dt>Valid</dt><dd>{formatTime(ca.NotBefore)} to {formatTime(ca.NotAfter)}</dd>
          </dl>
          <label for={`${id}-pem`}>Certificate (PEM)</label>
          <textarea id={`${id}-pem`} readOnly rows={6} class="mono" value={ca.Certificate} />
        </>
      )}
    </div>
  );
}
