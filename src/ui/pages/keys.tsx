import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { canControl, ErrorBox, formatTime, inputValue, Notice, useAction, useLoad, type Identity, Pager } from '../components.js';

export interface KeyMetadata {
  KeyId: string;
  Arn: string;
  KeyState: string;
  Enabled: boolean;
  Description: string;
  KeySpec: string;
  KeyUsage: string;
  Origin: string;
  CreationDate: number;
  DeletionDate?: number;
  PendingDeletionWindowInDays?: number;
  CurrentKeyMaterialId?: string;
}

export interface Alias { AliasName: string; AliasArn: string; TargetKeyId?: string }

const PAGE = 25;
const SPECS: ReadonlyArray<[string, string[]]> = [
  ['SYMMETRIC_DEFAULT', ['ENCRYPT_DECRYPT']],
  ['HMAC_256', ['GENERATE_VERIFY_MAC']],
  ['HMAC_384', ['GENERATE_VERIFY_MAC']],
  ['HMAC_512', ['GENERATE_VERIFY_MAC']],
  ['RSA_2048', ['ENCRYPT_DECRYPT', 'SIGN_VERIFY']],
  ['RSA_3072', ['ENCRYPT_DECRYPT', 'SIGN_VERIFY']],
  ['RSA_4096', ['ENCRYPT_DECRYPT', 'SIGN_VERIFY']],
  ['ECC_NIST_P256', ['SIGN_VERIFY', 'KEY_AGREEMENT']],
  ['ECC_NIST_P384', ['SIGN_VERIFY', 'KEY_AGREEMENT']],
  ['ECC_NIST_P521', ['SIGN_VERIFY', 'KEY_AGREEMENT']],
  ['ECC_SECG_P256K1', ['SIGN_VERIFY']],
];

/** Every alias of the caller's tenant (ListAliases pages of 100). */
export async function allAliases(keyId?: string): Promise<Alias[]> {
  const out: Alias[] = [];
  let marker: string | undefined;
  do {
    const page = await call<{ Aliases: Alias[]; NextMarker?: string; Truncated: boolean }>('TrentService.ListAliases', { Limit: 100, ...(keyId !== undefined ? { KeyId: keyId } : {}), ...(marker !== undefined ? { Marker: marker } : {}) });
    out.push(...page.Aliases);
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker !== undefined && out.length < 10_000);
  return out;
}

/** Keys of the tenant: a page at a time (ListKeys markers), filtered by id, alias or description. */
export function KeysPage({ identity }: { identity: Identity }) {
  const [markers, setMarkers] = useState<Array<string | undefined>>([undefined]);
  const marker = markers[markers.length - 1];
  const [search, setSearch] = useState('');
  const list = useLoad(async () => {
    const page = await call<{ Keys: Array<{ KeyId: string; KeyArn: string }>; NextMarker?: string; Truncated: boolean }>('TrentService.ListKeys', { Limit: PAGE, ...(marker !== undefined ? { Marker: marker } : {}) });
    const [metadata, aliases] = await Promise.all([
      Promise.all(page.Keys.map((k) => call<{ KeyMetadata: KeyMetadata }>('TrentService.DescribeKey', { KeyId: k.KeyId }).then((r) => r.KeyMetadata))),
      allAliases(),
    ]);
    return { keys: metadata, aliases, next: page.Truncated ? page.NextMarker : undefined };
  }, [marker]);
  const q = search.trim().toLowerCase();
  const aliasesOf = (id: string) => (list.data?.aliases ?? []).filter((a) => a.TargetKeyId === id).map((a) => a.AliasName);
  const rows = (list.data?.keys ?? []).filter((k) => q === '' || k.KeyId.includes(q) || k.Description.toLowerCase().includes(q) || aliasesOf(k.KeyId).some((a) => a.toLowerCase().includes(q)));

  return (
    <>
      <h1>Keys</h1>
      {canControl(identity) ? <CreateKey onCreated={() => { setMarkers([undefined]); list.reload(); }} /> : null}
      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">Keys of tenant {identity.Tenant}</h2>
        <div class="field">
          <label for="key-search">Search this page by id, alias or description</label>
          <input id="key-search" type="search" value={search} onInput={(e) => setSearch(inputValue(e))} />
        </div>
        <ErrorBox error={list.error} />
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Keys</caption>
            <thead><tr><th scope="col">Key</th><th scope="col">State</th><th scope="col" class="wide-only">Spec</th><th scope="col" class="wide-only">Description</th><th scope="col" class="wide-only">Created</th></tr></thead>
            <tbody>
              {rows.map((k) => (
                <tr key={k.KeyId}>
                  <td>
                    <a href={`#/keys/${encodeURIComponent(k.KeyId)}`} class="mono">{aliasesOf(k.KeyId)[0] ?? k.KeyId}</a>
                    {aliasesOf(k.KeyId).length > 1 ? <div class="mono">{aliasesOf(k.KeyId).slice(1).join(', ')}</div> : null}
                    {aliasesOf(k.KeyId).length > 0 ? <div class="mono id">{k.KeyId}</div> : null}
                  </td>
                  <td><span class={`badge ${k.KeyState === 'Enabled' ? 'good' : 'bad'}`}>{k.KeyState}</span></td>
                  <td class="wide-only">{k.KeySpec}</td>
                  <td class="wide-only">{k.Description}</td>
                  <td class="wide-only">{formatTime(k.CreationDate)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {!list.loading && rows.length === 0 ? <p>No keys{q !== '' ? ' match the search' : ''}.</p> : null}
        <Pager markers={markers} setMarkers={setMarkers} next={list.data?.next} />
      </section>
    </>
  );
}

function CreateKey({ onCreated }: { onCreated: () => void }) {
  const [spec, setSpec] = useState('SYMMETRIC_DEFAULT');
  const [usage, setUsage] = useState('ENCRYPT_DECRYPT');
  const [description, setDescription] = useState('');
  const [alias, setAlias] = useState('');
  const [origin, setOrigin] = useState('AWS_KMS');
  const action = useAction();
  const usages = SPECS.find(([s]) => s === spec)?.[1] ?? ['ENCRYPT_DECRYPT'];
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const { KeyMetadata } = await call<{ KeyMetadata: KeyMetadata }>('TrentService.CreateKey', { KeySpec: spec, KeyUsage: usage, Description: description, Origin: origin });
      const name = alias.trim() === '' ? undefined : alias.trim().startsWith('alias/') ? alias.trim() : `alias/${alias.trim()}`;
      if (name !== undefined) await call('TrentService.CreateAlias', { AliasName: name, TargetKeyId: KeyMetadata.KeyId });
      setDescription('');
      setAlias('');
      onCreated();
      return `Created key ${KeyMetadata.KeyId}${name !== undefined ? ` (${name})` : ''}.`;
    });
  };
  return (
    <section class="card" aria-labelledby="create-key-title">
      <h2 id="create-key-title">Create a key</h2>
      <form onSubmit={submit} class="form-grid">
        <div class="field">
          <label for="key-spec">Key spec</label>
          <select id="key-spec" value={spec} onChange={(e) => { const s = inputValue(e); setSpec(s); setUsage(SPECS.find(([x]) => x === s)?.[1][0] ?? 'ENCRYPT_DECRYPT'); }}>
            {SPECS.map(([s]) => <option key={s} value={s}>{s}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="key-usage">Key usage</label>
          <select id="key-usage" value={usage} onChange={(e) => setUsage(inputValue(e))}>
            {usages.map((u) => <option key={u} value={u}>{u}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="key-origin">Key material</label>
          <select id="key-origin" value={origin} onChange={(e) => setOrigin(inputValue(e))}>
            <option value="AWS_KMS">Generated by Keyward</option>
            <option value="EXTERNAL">Imported (EXTERNAL)</option>
          </select>
        </div>
        <div class="field">
          <label for="key-description">Description</label>
          <input id="key-description" value={description} maxLength={8192} onInput={(e) => setDescription(inputValue(e))} />
        </div>
        <div class="field">
          <label for="key-alias">Alias (optional)</label>
          <input id="key-alias" placeholder="alias/my-app" value={alias} onInput={(e) => setAlias(inputValue(e))} />
        </div>
        <div class="actions"><button type="submit" class="primary" disabled={action.busy}>Create key</button></div>
      </form>
      <ErrorBox error={action.error} />
      {action.done !== undefined ? <Notice>{action.done}</Notice> : null}
    </section>
  );
}
