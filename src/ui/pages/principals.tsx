import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { ConfirmDialog, ErrorBox, formatTime, inputValue, isSystemAdmin, useAction, useConfirm, useLoad, type Identity, Pager } from '../components.js';

interface Principal { Name: string; Tenant: string; Role: string; AccessKeyId: string; CreationDate: number }
interface NewCredentials { AccessKeyId: string; SecretAccessKey: string; Token: string }

/** Principals of a tenant: list, create (credentials shown once), delete. */
export function PrincipalsPage({ identity }: { identity: Identity }) {
  const [tenant, setTenant] = useState(identity.Tenant);
  const [markers, setMarkers] = useState<Array<string | undefined>>([undefined]);
  const marker = markers[markers.length - 1];
  const list = useLoad(() => call<{ Principals: Principal[]; NextMarker?: string; Truncated: boolean }>('Keyward.ListPrincipals', { Tenant: tenant, Limit: 50, ...(marker !== undefined ? { Marker: marker } : {}) }), [tenant, marker]);
  const [name, setName] = useState('');
  const [role, setRole] = useState('user');
  const [created, setCreated] = useState<{ name: string; credentials: NewCredentials } | undefined>(undefined);
  const action = useAction();
  const [confirmation, confirm, closeConfirm] = useConfirm();

  const create = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const r = await call<{ Principal: Principal; Credentials: NewCredentials }>('Keyward.CreatePrincipal', { Name: name.trim(), Role: role, Tenant: tenant });
      setCreated({ name: r.Principal.Name, credentials: r.Credentials });
      setName('');
      list.reload();
    });
  };

  return (
    <>
      <h1>Principals</h1>
      {isSystemAdmin(identity) ? (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); setMarkers([undefined]); list.reload(); }}>
          <label for="principal-tenant">Tenant</label>
          <input id="principal-tenant" value={tenant} onChange={(e) => { setTenant(inputValue(e)); setMarkers([undefined]); }} />
        </form>
      ) : null}
      <section class="card" aria-labelledby="create-principal-title">
        <h2 id="create-principal-title">Create a principal</h2>
        <form class="form-grid" onSubmit={create}>
          <div class="field">
            <label for="principal-name">Name</label>
            <input id="principal-name" required maxLength={64} value={name} onInput={(e) => setName(inputValue(e))} />
          </div>
          <div class="field">
            <label for="principal-role">Role</label>
            <select id="principal-role" value={role} onChange={(e) => setRole(inputValue(e))}>
              <option value="user">user (cryptography with keys)</option>
              <option value="admin">admin (manages keys and principals)</option>
            </select>
          </div>
          <div class="actions"><button type="submit" class="primary" disabled={action.busy}>Create principal</button></div>
        </form>
        <ErrorBox error={action.error} />
        {created !== undefined ? (
          <div class="secret-once" role="status" aria-live="polite">
            <h3>Credentials of {created.name}</h3>
            <p><strong>Shown once.</strong> Copy them now: Keyward keeps only their digests.</p>
            <dl class="facts">
              <dt>Access key id</dt><dd class="mono" data-testid="new-access-key-id">{created.credentials.AccessKeyId}</dd>
              <dt>Secret access key</dt><dd class="mono" data-testid="new-secret">{created.credentials.SecretAccessKey}</dd>
              <dt>Token</dt><dd class="mono" data-testid="new-token">{created.credentials.Token}</dd>
            </dl>
            <button type="button" onClick={() => setCreated(undefined)}>I have saved them: hide</button>
          </div>
        ) : null}
      </section>
      <section class="card" aria-labelledby="principals-title">
        <h2 id="principals-title">Principals of tenant {tenant}</h2>
        <ErrorBox error={list.error} />
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Principals</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Access key id</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
            <tbody>
              {(list.data?.Principals ?? []).map((p) => (
                <tr key={p.Name}>
                  <td>{p.Name}</td>
                  <td>{p.Role}</td>
                  <td class="mono">{p.AccessKeyId}</td>
                  <td>{formatTime(p.CreationDate)}</td>
                  <td>
                    {p.Name !== identity.Name || p.Tenant !== identity.Tenant ? (
                      <button type="button" class="danger small" onClick={() => confirm({
                        title: `Delete principal ${p.Name}`, description: 'Its access keys and token stop working at once.', expected: p.Name, action: 'Delete principal',
                        run: async () => { await call('Keyward.DeletePrincipal', { Name: p.Name, Tenant: p.Tenant }); list.reload(); },
                      })}>Delete</button>
                    ) : '(you)'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pager markers={markers} setMarkers={setMarkers} next={list.data?.Truncated === true ? list.data?.NextMarker : undefined} />
      </section>
      <ConfirmDialog confirmation={confirmation} onClose={closeConfirm} />
    </>
  );
}
