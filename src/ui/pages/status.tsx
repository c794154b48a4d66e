import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { sys } from '../api.js';
import { ConfirmDialog, ErrorBox, formatTime, inputValue, isSystemAdmin, Notice, useAction, useConfirm, useLoad, type Identity } from '../components.js';

interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  type?: string;
  initialized_at?: string;
  share_count?: number;
  threshold?: number;
  progress?: number;
  /** The ceremony's nonce, answered to the first share: every later share and a reset carry it. */
  nonce?: string;
  barrier?: { active_term: number; terms: number[]; encryptions: number; rotate_after: number; rewrap: { running: boolean; scanned: number; rewrapped: number } };
  version?: string;
  node?: string;
}

interface Health {
  initialized: boolean;
  sealed: boolean;
  store?: string;
  version: string;
  node: string;
  server_time_utc: number;
  draining?: boolean;
}

/** Seal status, unseal (a passphrase, or Shamir shares one at a time), node and store health. */
export function StatusPage({ identity, pending, onUnsealed, signIn }: { identity: Identity | undefined; pending: boolean; onUnsealed: () => Promise<void>; signIn: ComponentChildren }) {
  const status = useLoad(() => sys<SealStatus>('GET', 'seal-status'), []);
  const health = useLoad(() => sys<Health>('GET', 'health'), [status.data]);
  const [confirmation, confirm, closeConfirm] = useConfirm();
  const s = status.data;

  const afterUnseal = async (next: SealStatus) => {
    status.reload();
    if (!next.sealed && pending) await onUnsealed();
  };

  return (
    <>
      <h1>Status</h1>
      <div class="grid">
        <section class="card" aria-labelledby="seal-title">
          <h2 id="seal-title">Seal</h2>
          <ErrorBox error={status.error} />
          {s !== undefined ? (
            <dl class="facts">
              <dt>State</dt>
              <dd><span class={`badge ${s.sealed ? 'bad' : 'good'}`} data-testid="seal-state">{!s.initialized ? 'Not initialised' : s.sealed ? 'Sealed' : 'Unsealed'}</span></dd>
              {s.type !== undefined ? <><dt>Seal type</dt><dd>{s.type}</dd></> : null}
              {s.threshold !== undefined ? <><dt>Shares</dt><dd>{s.threshold} of {s.share_count} needed</dd></> : null}
              {s.initialized_at !== undefined ? <><dt>Initialised</dt><dd>{formatTime(s.initialized_at)}</dd></> : null}
              {s.barrier !== undefined ? (
                <>
                  <dt>Barrier term</dt><dd>{s.barrier.active_term} (terms {s.barrier.terms.join(', ')})</dd>
                  <dt>Barrier encryptions</dt><dd>{s.barrier.encryptions.toLocaleString('en')} (rotates after {s.barrier.rotate_after.toLocaleString('en')})</dd>
                  <dt>Re-wrap</dt><dd>{s.barrier.rewrap.running ? `running: ${s.barrier.rewrap.rewrapped}/${s.barrier.rewrap.scanned}` : 'idle'}</dd>
                </>
              ) : null}
            </dl>
          ) : null}
          {s !== undefined && s.initialized && s.sealed ? <UnsealForm status={s} onChange={afterUnseal} /> : null}
          {s !== undefined && !s.initialized ? <Notice>Initialise this installation with <code>keyward init</code>: the shares or recovery credentials it prints are shown only once.</Notice> : null}
          {s !== undefined && !s.sealed && isSystemAdmin(identity) ? (
            <button type="button" class="danger" onClick={() => confirm({
              title: 'Seal this node',
              description: 'Every key operation on this node fails until it is unsealed again.',
              expected: s.node ?? 'seal',
              action: 'Seal',
              run: async () => { await sys('POST', 'seal', {}, true); status.reload(); },
            })}>Seal this node</button>
          ) : null}
        </section>
        <section class="card" aria-labelledby="health-title">
          <h2 id="health-title">Node and store health</h2>
          <ErrorBox error={health.error} />
          {health.data !== undefined ? (
            <dl class="facts">
              <dt>Node</dt><dd>{health.data.node}</dd>
              <dt>Version</dt><dd>{health.data.version}</dd>
              <dt>Store</dt><dd><span class={`badge ${health.data.store === undefined ? 'good' : 'bad'}`}>{health.data.store ?? 'reachable'}</span></dd>
              <dt>Serving</dt><dd>{health.data.draining === true ? 'draining' : health.data.sealed ? 'no (sealed)' : 'yes'}</dd>
              <dt>Server time</dt><dd>{formatTime(health.data.server_time_utc)}</dd>
            </dl>
          ) : null}
          <button type="button" onClick={status.reload}>Refresh</button>
        </section>
      </div>
      {pending ? <Notice>Your credentials are checked once the node is unsealed.</Notice> : null}
      {signIn}
      <ConfirmDialog confirmation={confirmation} onClose={closeConfirm} />
    </>
  );
}

function UnsealForm({ status, onChange }: { status: SealStatus; onChange: (s: SealStatus) => Promise<void> }) {
  const [secret, setSecret] = useState('');
  const [nonce, setNonce] = useState('');
  const action = useAction();
  const shamir = status.threshold !== undefined;
  const auto = !shamir && status.type !== 'passphrase';
  const withNonce = nonce.trim() !== '' ? { nonce: nonce.trim() } : {};
  const submit = (e: Event) => {
    e.preventDefault();
    const body = auto ? {} : shamir ? { share: secret.trim(), ...withNonce } : { passphrase: secret };
    void action.run(async () => {
      try {
        const next = await sys<SealStatus>('POST', 'unseal', body);
        setNonce(next.sealed ? next.nonce ?? nonce : '');
        await onChange(next);
        return next.sealed ? `Share accepted: ${next.progress} of ${next.threshold}.` : 'Unsealed.';
      } finally {
        setSecret('');
      }
    });
  };
  const reset = () => void action.run(async () => {
    await onChange(await sys<SealStatus>('POST', 'unseal', { reset: true, ...withNonce }));
    setNonce('');
    return 'Shares given so far were forgotten.';
  });
  return (
    <form onSubmit={submit} class="unseal" autocomplete="off">
      <h3>Unseal</h3>
      {shamir ? (
        <>
          <label for="unseal-progress">Shares given</label>
          <progress id="unseal-progress" max={status.threshold} value={status.progress ?? 0}>{status.progress} of {status.threshold}</progress>
          <p data-testid="unseal-progress">{status.progress ?? 0} of {status.threshold} shares</p>
          {(status.progress ?? 0) > 0 || nonce !== '' ? (
            <div class="field">
              <label for="unseal-nonce">Ceremony nonce (give it to the next operator; paste it if another operator started)</label>
              <input id="unseal-nonce" type="text" autocomplete="off" spellcheck={false} value={nonce} onInput={(e) => setNonce(inputValue(e))} />
            </div>
          ) : null}
        </>
      ) : null}
      {!auto ? (
        <div class="field">
          <label for="unseal-secret">{shamir ? 'Unseal share (one at a time)' : 'Passphrase'}</label>
          <input id="unseal-secret" type="password" autocomplete="off" required value={secret} onInput={(e) => setSecret(inputValue(e))} />
        </div>
      ) : <p>This seal ({status.type}) unseals itself; retry if it failed.</p>}
      <ErrorBox error={action.error} />
      {action.done !== undefined ? <Notice>{action.done}</Notice> : null}
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>{shamir ? 'Submit share' : 'Unseal'}</button>
        {shamir ? <button type="button" onClick={reset} disabled={action.busy}>Reset progress</button> : null}
      </div>
    </form>
  );
}
