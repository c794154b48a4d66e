import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { ConfirmDialog, ErrorBox, formatTime, inputValue, Notice, SYSTEM_TENANT, useAction, useConfirm, useLoad, Pager } from '../components.js';

interface Tenant {
  TenantId: string;
  AccountId: string;
  CreationDate: number;
  TenantState: string;
  DeletionDate?: number;
  SuspensionReason?: string;
  Quotas: { MaxKeys: number; MaxPrincipals: number; RequestsPerSecond: number; Burst: number };
  Usage: { Keys: number; Principals: number };
}

/** Tenants (system admins): list, create, suspend/resume, schedule/cancel deletion. */
export function TenantsPage() {
  const [markers, setMarkers] = useState<Array<string | undefined>>([undefined]);
  const marker = markers[markers.length - 1];
  const list = useLoad(() => call<{ Tenants: Tenant[]; NextMarker?: string; Truncated: boolean }>('Keyward.ListTenants', { Limit: 50, ...(marker !== undefined ? { Marker: marker } : {}) }), [marker]);
  const [id, setId] = useState('');
  const [reason, setReason] = useState('');
  const action = useAction();
  const [confirmation, confirm, closeConfirm] = useConfirm();
  const simple = (target: string, body: Record<string, unknown>, done: string) => void action.run(async () => { await call(target, body); list.reload(); return done; });

  return (
    <>
      <h1>Tenants</h1>
      <section class="card" aria-labelledby="create-tenant-title">
        <h2 id="create-tenant-title">Create a tenant</h2>
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); simple('Keyward.CreateTenant', { TenantId: id.trim() }, `Created tenant ${id.trim()}.`); setId(''); }}>
          <label for="tenant-id">Tenant id</label>
          <input id="tenant-id" required maxLength={63} value={id} onInput={(e) => setId(inputValue(e))} />
          <button type="submit" class="primary" disabled={action.busy}>Create tenant</button>
        </form>
        <div class="field">
          <label for="tenant-reason">Reason (for suspend and resume)</label>
          <input id="tenant-reason" value={reason} maxLength={256} onInput={(e) => setReason(inputValue(e))} />
        </div>
        <ErrorBox error={action.error} />
        {action.done !== undefined ? <Notice>{action.done}</Notice> : null}
      </section>
      <section class="card" aria-labelledby="tenants-title">
        <h2 id="tenants-title">All tenants</h2>
        <ErrorBox error={list.error} />
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Tenants</caption>
            <thead><tr><th scope="col">Tenant</th><th scope="col">Account</th><th scope="col">State</th><th scope="col">Keys</th><th scope="col">Principals</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
            <tbody>
              {(list.data?.Tenants ?? []).map((t) => (
                <tr key={t.TenantId}>
                  <td>{t.TenantId}</td>
                  <td class="mono">{t.AccountId}</td>
                  <td>{t.TenantState}{t.DeletionDate !== undefined ? ` (deleted ${formatTime(t.DeletionDate)})` : ''}{t.SuspensionReason !== undefined ? `: ${t.SuspensionReason}` : ''}</td>
                  <td>{t.Usage.Keys} / {t.Quotas.MaxKeys}</td>
                  <td>{t.Usage.Principals} / {t.Quotas.MaxPrincipals}</td>
                  <td>{formatTime(t.CreationDate)}</td>
                  <td class="actions wrap">
                    {t.TenantId === SYSTEM_TENANT ? '(system)' : (
                      <>
                        {t.TenantState === 'Active' ? <button type="button" class="small" onClick={() => confirm({ title: `Suspend ${t.TenantId}`, description: 'Every request of the tenant\'s principals is refused until it is resumed.', expected: t.TenantId, action: 'Suspend', run: async () => { await call('Keyward.SuspendTenant', { TenantId: t.TenantId, Reason: reason.trim() === '' ? 'suspended from the console' : reason.trim() }); list.reload(); } })}>Suspend</button> : null}
                        {t.TenantState === 'Suspended' ? <button type="button" class="small" onClick={() => simple('Keyward.ResumeTenant', { TenantId: t.TenantId, ...(reason.trim() !== '' ? { Reason: reason.trim() } : {}) }, `Resumed ${t.TenantId}.`)}>Resume</button> : null}
                        {t.TenantState === 'PendingDeletion'
                          ? <button type="button" class="small" onClick={() => simple('Keyward.CancelTenantDeletion', { TenantId: t.TenantId }, `Deletion of ${t.TenantId} cancelled.`)}>Cancel deletion</button>
                          : <button type="button" class="danger small" onClick={() => confirm({ title: `Delete tenant ${t.TenantId}`, description: 'After 30 days the tenant, its keys and principals are deleted and its data crypto-shredded.', expected: t.TenantId, action: 'Schedule deletion', run: async () => { await call('Keyward.DeleteTenant', { TenantId: t.TenantId, PendingWindowInDays: 30 }); list.reload(); } })}>Delete</button>}
                      </>
                    )}
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
