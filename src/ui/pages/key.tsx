import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { canControl, ConfirmDialog, ErrorBox, formatTime, inputValue, Notice, useAction, useConfirm, useLoad, type Confirmation, type Identity } from '../components.js';
import { allAliases, type Alias, type KeyMetadata } from './keys.js';

interface Version { Version: number; State: string; Primary: boolean; CreationDate: number; RotationType: string; DestructionDate?: number }
interface RotationStatus { KeyRotationEnabled: boolean; RotationPeriodInDays?: number; NextRotationDate?: number }
interface Tag { TagKey: string; TagValue: string }

const ASYMMETRIC = /^(RSA|ECC|SM2|ML_DSA)/;

/** One key: its metadata and every action on it, versions, rotation, aliases, tags, public key. */
export function KeyPage({ keyId, identity }: { keyId: string; identity: Identity }) {
  const control = canControl(identity);
  const key = useLoad(async () => {
    const { KeyMetadata } = await call<{ KeyMetadata: KeyMetadata }>('TrentService.DescribeKey', { KeyId: keyId });
    const aliases = await allAliases(KeyMetadata.KeyId);
    return { meta: KeyMetadata, aliases };
  }, [keyId]);
  const action = useAction();
  const [confirmation, confirm, closeConfirm] = useConfirm();
  const [refresh, setRefresh] = useState(0);
  const meta = key.data?.meta;
  const reloadAll = () => { key.reload(); setRefresh((n) => n + 1); };
  /** What the operator types to confirm: the key's first alias, else its id. */
  const name = key.data?.aliases[0]?.AliasName ?? meta?.KeyId ?? keyId;
  const ask = (c: Omit<Confirmation, 'expected'>) => confirm({ ...c, expected: name, run: async () => { await c.run(); reloadAll(); } });
  const act = (target: string, body: Record<string, unknown>, done: string) => void action.run(async () => { await call(target, { KeyId: meta!.KeyId, ...body }); reloadAll(); return done; });

  return (
    <>
      <p><a href="#/keys">All keys</a></p>
      <h1>Key <span class="mono">{name}</span></h1>
      <ErrorBox error={key.error} />
      {meta !== undefined ? (
        <>
          <section class="card" aria-labelledby="key-meta-title">
            <h2 id="key-meta-title">Details</h2>
            <dl class="facts">
              <dt>Key id</dt><dd class="mono">{meta.KeyId}</dd>
              <dt>ARN</dt><dd class="mono">{meta.Arn}</dd>
              <dt>State</dt><dd><span class={`badge ${meta.KeyState === 'Enabled' ? 'good' : 'bad'}`} data-testid="key-state">{meta.KeyState}</span></dd>
              <dt>Spec and usage</dt><dd>{meta.KeySpec}, {meta.KeyUsage}</dd>
              <dt>Origin</dt><dd>{meta.Origin}</dd>
              <dt>Description</dt><dd>{meta.Description === '' ? '(none)' : meta.Description}</dd>
              <dt>Created</dt><dd>{formatTime(meta.CreationDate)}</dd>
              {meta.DeletionDate !== undefined ? <><dt>Deletion date</dt><dd>{formatTime(meta.DeletionDate)}</dd></> : null}
            </dl>
            {control ? (
              <div class="actions wrap">
                {meta.KeyState === 'Disabled' ? <button type="button" onClick={() => act('TrentService.EnableKey', {}, 'Key enabled.')}>Enable key</button> : null}
                {meta.KeyState === 'Enabled' ? <button type="button" class="danger" onClick={() => ask({ title: 'Disable key', description: 'Every encryption and decryption with this key fails until it is enabled again.', action: 'Disable key', run: () => call('TrentService.DisableKey', { KeyId: meta.KeyId }).then(() => undefined) })}>Disable key</button> : null}
                {meta.KeyState === 'PendingDeletion'
                  ? <button type="button" onClick={() => act('TrentService.CancelKeyDeletion', {}, 'Deletion cancelled: the key is disabled; enable it to use it again.')}>Cancel deletion</button>
                  : <ScheduleDeletion onSchedule={(days) => ask({ title: 'Schedule key deletion', description: `After ${days} days the key and every version's material are deleted for good; ciphertexts made under it can never be decrypted again.`, action: 'Schedule deletion', run: () => call('TrentService.ScheduleKeyDeletion', { KeyId: meta.KeyId, PendingWindowInDays: days }).then(() => undefined) })} />}
                {meta.KeySpec === 'SYMMETRIC_DEFAULT' && meta.KeyState === 'Enabled' ? <button type="button" class="primary" onClick={() => act('TrentService.RotateKeyOnDemand', {}, 'Rotated: a new primary version was made.')}>Rotate now</button> : null}
              </div>
            ) : null}
            <ErrorBox error={action.error} />
            {action.done !== undefined ? <Notice>{action.done}</Notice> : null}
            {control ? <Description meta={meta} onSaved={reloadAll} /> : null}
          </section>
          <Versions keyId={meta.KeyId} control={control} refresh={refresh} ask={ask} onChange={reloadAll} />
          {meta.KeySpec === 'SYMMETRIC_DEFAULT' ? <Rotation keyId={meta.KeyId} control={control} refresh={refresh} /> : null}
          <Aliases keyId={meta.KeyId} aliases={key.data!.aliases} control={control} onChange={reloadAll} confirm={confirm} />
          <Tags keyId={meta.KeyId} control={control} confirm={confirm} name={name} />
          {ASYMMETRIC.test(meta.KeySpec) ? <PublicKey keyId={meta.KeyId} /> : null}
        </>
      ) : null}
      <ConfirmDialog confirmation={confirmation} onClose={closeConfirm} />
    </>
  );
}

function ScheduleDeletion({ onSchedule }: { onSchedule: (days: number) => void }) {
  const [days, setDays] = useState('30');
  return (
    <span class="inline-form">
      <label for="deletion-days">Waiting period (days, 7-30)</label>
      <input id="deletion-days" type="number" min={7} max={30} value={days} onInput={(e) => setDays(inputValue(e))} />
      <button type="button" class="danger" onClick={() => onSchedule(Number(days))}>Schedule deletion</button>
    </span>
  );
}

function Description({ meta, onSaved }: { meta: KeyMetadata; onSaved: () => void }) {
  const [text, setText] = useState(meta.Description);
  const action = useAction();
  return (
    <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void action.run(async () => { await call('TrentService.UpdateKeyDescription', { KeyId: meta.KeyId, Description: text }); onSaved(); return 'Description saved.'; }); }}>
      <label for="description-edit">Description</label>
      <input id="description-edit" value={text} maxLength={8192} onInput={(e) => setText(inputValue(e))} />
      <button type="submit" disabled={action.busy}>Save description</button>
      <ErrorBox error={action.error} />
    </form>
  );
}

function Versions({ keyId, control, refresh, ask, onChange }: { keyId: string; control: boolean; refresh: number; ask: (c: Omit<Confirmation, 'expected'>) => void; onChange: () => void }) {
  const versions = useLoad(() => call<{ Versions: Version[]; PrimaryVersion: number }>('Keyward.ListKeyVersions', { KeyId: keyId }), [keyId, refresh]);
  const action = useAction();
  return (
    <section class="card" aria-labelledby="versions-title">
      <h2 id="versions-title">Versions</h2>
      <ErrorBox error={versions.error ?? action.error} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Key versions</caption>
          <thead><tr><th scope="col">Version</th><th scope="col">State</th><th scope="col">Primary</th><th scope="col">Made by</th><th scope="col">Created</th>{control ? <th scope="col">Actions</th> : null}</tr></thead>
          <tbody>
            {(versions.data?.Versions ?? []).map((v) => (
              <tr key={v.Version} data-testid={`version-${v.Version}`}>
                <td>{v.Version}</td>
                <td>{v.State}{v.DestructionDate !== undefined ? ` (${formatTime(v.DestructionDate)})` : ''}</td>
                <td>{v.Primary ? 'primary' : ''}</td>
                <td>{v.RotationType}</td>
                <td>{formatTime(v.CreationDate)}</td>
                {control ? (
                  <td><div class="actions wrap">
                    {v.State === 'Enabled' && !v.Primary ? <button type="button" onClick={() => ask({ title: `Disable version ${v.Version}`, description: 'Ciphertexts made under this version cannot be decrypted until it is enabled again.', action: 'Disable version', run: () => call('Keyward.DisableKeyVersion', { KeyId: keyId, Version: v.Version }).then(() => undefined) })}>Disable</button> : null}
                    {v.State === 'Disabled' ? <button type="button" onClick={() => void action.run(async () => { await call('Keyward.EnableKeyVersion', { KeyId: keyId, Version: v.Version }); onChange(); })}>Enable</button> : null}
                    {v.State !== 'Destroyed' && !v.Primary ? <button type="button" class="danger" onClick={() => ask({ title: `Destroy version ${v.Version}`, description: 'The version\'s key material is deleted for good: ciphertexts made under it can never be decrypted again.', action: 'Destroy version', run: () => call('Keyward.DestroyKeyVersion', { KeyId: keyId, Version: v.Version }).then(() => undefined) })}>Destroy</button> : null}
                  </div></td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Rotation({ keyId, control, refresh }: { keyId: string; control: boolean; refresh: number }) {
  const status = useLoad(() => call<RotationStatus>('TrentService.GetKeyRotationStatus', { KeyId: keyId }), [keyId, refresh]);
  const rotations = useLoad(() => call<{ Rotations: Array<{ RotationDate: number; RotationType: string }> }>('TrentService.ListKeyRotations', { KeyId: keyId, Limit: 100 }), [keyId, refresh]);
  const [period, setPeriod] = useState('365');
  const action = useAction();
  const s = status.data;
  return (
    <section class="card" aria-labelledby="rotation-title">
      <h2 id="rotation-title">Rotation</h2>
      <ErrorBox error={status.error ?? action.error} />
      {s !== undefined ? (
        <dl class="facts">
          <dt>Automatic rotation</dt><dd>{s.KeyRotationEnabled ? `every ${s.RotationPeriodInDays} days` : 'off'}</dd>
          {s.NextRotationDate !== undefined ? <><dt>Next rotation</dt><dd>{formatTime(s.NextRotationDate)}</dd></> : null}
          <dt>Rotations so far</dt><dd>{rotations.data?.Rotations.length ?? ''}</dd>
        </dl>
      ) : null}
      {control && s !== undefined ? (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void action.run(async () => { await call('TrentService.EnableKeyRotation', { KeyId: keyId, RotationPeriodInDays: Number(period) }); status.reload(); return 'Rotation schedule saved.'; }); }}>
          <label for="rotation-period">Rotation period (days, 90-2560)</label>
          <input id="rotation-period" type="number" min={90} max={2560} value={period} onInput={(e) => setPeriod(inputValue(e))} />
          <button type="submit" disabled={action.busy}>{s.KeyRotationEnabled ? 'Change schedule' : 'Turn on automatic rotation'}</button>
          {s.KeyRotationEnabled ? <button type="button" disabled={action.busy} onClick={() => void action.run(async () => { await call('TrentService.DisableKeyRotation', { KeyId: keyId }); status.reload(); return 'Automatic rotation turned off.'; })}>Turn off automatic rotation</button> : null}
        </form>
      ) : null}
      {action.done !== undefined ? <Notice>{action.done}</Notice> : null}
    </section>
  );
}

function Aliases({ keyId, aliases, control, onChange, confirm }: { keyId: string; aliases: Alias[]; control: boolean; onChange: () => void; confirm: (c: Confirmation) => void }) {
  const [name, setName] = useState('');
  const action = useAction();
  return (
    <section class="card" aria-labelledby="aliases-title">
      <h2 id="aliases-title">Aliases</h2>
      {aliases.length === 0 ? <p>No aliases.</p> : (
        <ul class="plain">
          {aliases.map((a) => (
            <li key={a.AliasName}>
              <span class="mono">{a.AliasName}</span>{' '}
              {control ? <button type="button" class="danger small" onClick={() => confirm({ title: `Delete ${a.AliasName}`, description: 'Callers that name the key by this alias will fail.', expected: a.AliasName, action: 'Delete alias', run: async () => { await call('TrentService.DeleteAlias', { AliasName: a.AliasName }); onChange(); } })}>Delete alias</button> : null}
            </li>
          ))}
        </ul>
      )}
      {control ? (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void action.run(async () => { const n = name.trim().startsWith('alias/') ? name.trim() : `alias/${name.trim()}`; await call('TrentService.CreateAlias', { AliasName: n, TargetKeyId: keyId }); setName(''); onChange(); }); }}>
          <label for="alias-name">New alias</label>
          <input id="alias-name" placeholder="alias/name" required value={name} onInput={(e) => setName(inputValue(e))} />
          <button type="submit" disabled={action.busy}>Add alias</button>
        </form>
      ) : null}
      <ErrorBox error={action.error} />
    </section>
  );
}

function Tags({ keyId, control, confirm, name }: { keyId: string; control: boolean; confirm: (c: Confirmation) => void; name: string }) {
  const tags = useLoad(() => call<{ Tags: Tag[] }>('TrentService.ListResourceTags', { KeyId: keyId, Limit: 50 }), [keyId]);
  const [k, setK] = useState('');
  const [v, setV] = useState('');
  const action = useAction();
  return (
    <section class="card" aria-labelledby="tags-title">
      <h2 id="tags-title">Tags</h2>
      <ErrorBox error={tags.error ?? action.error} />
      {(tags.data?.Tags ?? []).length === 0 ? <p>No tags.</p> : (
        <ul class="plain">
          {tags.data!.Tags.map((t) => (
            <li key={t.TagKey}>
              <span class="mono">{t.TagKey} = {t.TagValue}</span>{' '}
              {control ? <button type="button" class="danger small" onClick={() => confirm({ title: `Remove tag ${t.TagKey}`, description: 'The tag is removed from the key.', expected: name, action: 'Remove tag', run: async () => { await call('TrentService.UntagResource', { KeyId: keyId, TagKeys: [t.TagKey] }); tags.reload(); } })}>Remove tag</button> : null}
            </li>
          ))}
        </ul>
      )}
      {control ? (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void action.run(async () => { await call('TrentService.TagResource', { KeyId: keyId, Tags: [{ TagKey: k, TagValue: v }] }); setK(''); setV(''); tags.reload(); }); }}>
          <label for="tag-key">Tag key</label>
          <input id="tag-key" required value={k} onInput={(e) => setK(inputValue(e))} />
          <label for="tag-value">Tag value</label>
          <input id="tag-value" value={v} onInput={(e) => setV(inputValue(e))} />
          <button type="submit" disabled={action.busy}>Add tag</button>
        </form>
      ) : null}
    </section>
  );
}

function PublicKey({ keyId }: { keyId: string }) {
  const pk = useLoad(() => call<{ PublicKey: string; KeySpec: string; SigningAlgorithms?: string[]; EncryptionAlgorithms?: string[]; KeyAgreementAlgorithms?: string[] }>('TrentService.GetPublicKey', { KeyId: keyId }), [keyId]);
  const pem = pk.data === undefined ? '' : `-----BEGIN PUBLIC KEY-----\n${(pk.data.PublicKey.match(/.{1,64}/g) ?? []).join('\n')}\n-----END PUBLIC KEY-----\n`;
  const algorithms = [...(pk.data?.SigningAlgorithms ?? []), ...(pk.data?.EncryptionAlgorithms ?? []), ...(pk.data?.KeyAgreementAlgorithms ?? [])];
  return (
    <section class="card" aria-labelledby="public-key-title">
      <h2 id="public-key-title">Public key</h2>
      <ErrorBox error={pk.error} />
      {pk.data !== undefined ? (
        <>
          <p>Algorithms: {algorithms.join(', ')}</p>
          <label for="public-key-pem">Public key (PEM, SubjectPublicKeyInfo)</label>
          <textarea id="public-key-pem" readOnly rows={8} class="mono" value={pem} />
        </>
      ) : null}
    </section>
  );
}
