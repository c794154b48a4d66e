import { useState } from 'preact/hooks';
import type { Credentials } from '../api.js';
import { ErrorBox, inputValue } from '../components.js';

/**
 * A bearer token or an access key pair (SigV4). Kept in memory only: the form has autocomplete
 * off and nothing is written to storage, so a reload signs out.
 */
export function SignIn({ onSignIn, error }: { onSignIn: (c: Credentials) => Promise<void>; error: unknown }) {
  const [mode, setMode] = useState<'token' | 'keys'>('token');
  const [token, setToken] = useState('');
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secret, setSecret] = useState('');
  const [region, setRegion] = useState('us-east-1');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await onSignIn(mode === 'token' ? { kind: 'token', token: token.trim() } : { kind: 'keys', accessKeyId: accessKeyId.trim(), secretAccessKey: secret, region: region.trim() });
    } finally {
      setToken('');
      setSecret('');
      setBusy(false);
    }
  };
  return (
    <section class="card sign-in" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <form onSubmit={submit} autocomplete="off">
        <fieldset>
          <legend>Credentials</legend>
          <label class="inline"><input type="radio" name="mode" checked={mode === 'token'} onChange={() => setMode('token')} /> Bearer token</label>
          <label class="inline"><input type="radio" name="mode" checked={mode === 'keys'} onChange={() => setMode('keys')} /> Access key pair (SigV4)</label>
        </fieldset>
        {mode === 'token' ? (
          <div class="field">
            <label for="token">Token</label>
            <input id="token" type="password" autocomplete="off" required value={token} onInput={(e) => setToken(inputValue(e))} />
          </div>
        ) : (
          <>
            <div class="field">
              <label for="access-key-id">Access key id</label>
              <input id="access-key-id" autocomplete="off" spellcheck={false} required value={accessKeyId} onInput={(e) => setAccessKeyId(inputValue(e))} />
            </div>
            <div class="field">
              <label for="secret-access-key">Secret access key</label>
              <input id="secret-access-key" type="password" autocomplete="off" required value={secret} onInput={(e) => setSecret(inputValue(e))} />
            </div>
            <div class="field">
              <label for="region">Region</label>
              <input id="region" autocomplete="off" spellcheck={false} required value={region} onInput={(e) => setRegion(inputValue(e))} />
            </div>
          </>
        )}
        <p class="hint">The secret stays in this tab's memory only: reloading the page signs you out.</p>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>Sign in</button>
      </form>
    </section>
  );
}
