import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, setCredentials, type Credentials } from './api.js';
import { canControl, isSystemAdmin, type Identity } from './components.js';
import { AuditPage } from './pages/audit.js';
import { KeyPage } from './pages/key.js';
import { KeysPage } from './pages/keys.js';
import { PkiPage } from './pages/pki.js';
import { PrincipalsPage } from './pages/principals.js';
import { SignIn } from './pages/sign-in.js';
import { StatusPage } from './pages/status.js';
import { TenantsPage } from './pages/tenants.js';
import './style.css';

/** Hash routes (#/keys/<id>): the server serves one index.html, so every page is a hash. */
function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, '').split('/').filter((s) => s !== '').map(decodeURIComponent);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export type Session =
  | { readonly state: 'signed-out'; readonly error?: unknown }
  /** Credentials kept but not yet checked: the node is sealed, and GetCallerIdentity needs it unsealed. */
  | { readonly state: 'pending' }
  | { readonly state: 'signed-in'; readonly identity: Identity };

function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session>({ state: 'signed-out' });

  /** Checks the credentials with GetCallerIdentity; a sealed node keeps them pending until unsealed. */
  const verify = async (): Promise<void> => {
    try {
      const identity = await call<Identity>('Keyward.GetCallerIdentity');
      setSession({ state: 'signed-in', identity });
    } catch (e) {
      if (e instanceof ApiError && e.code === 'SealedException') { setSession({ state: 'pending' }); return; }
      setCredentials(undefined);
      setSession({ state: 'signed-out', error: e });
    }
  };
  const signIn = async (c: Credentials) => { setCredentials(c); await verify(); };
  const signOut = () => { setCredentials(undefined); setSession({ state: 'signed-out' }); location.hash = '#/'; };

  const page = route[0] ?? 'status';
  const identity = session.state === 'signed-in' ? session.identity : undefined;
  const links: Array<[string, string, boolean]> = [
    ['status', 'Status', true],
    ['keys', 'Keys', true],
    ['principals', 'Principals', canControl(identity)],
    ['tenants', 'Tenants', isSystemAdmin(identity)],
    ['audit', 'Audit log', isSystemAdmin(identity)],
    ['pki', 'PKI', true],
  ];

  let body;
  if (session.state === 'signed-out' && page !== 'status') {
    body = <SignIn onSignIn={signIn} error={session.error} />;
  } else if (page === 'status') {
    body = <StatusPage identity={identity} pending={session.state === 'pending'} onUnsealed={verify} signIn={session.state === 'signed-out' ? <SignIn onSignIn={signIn} error={session.error} /> : undefined} />;
  } else if (session.state === 'pending') {
    body = <p class="notice" role="status">The node is sealed: unseal it on the <a href="#/status">Status</a> page first.</p>;
  } else if (page === 'keys' && route[1] !== undefined) {
    body = <KeyPage keyId={route[1]} identity={identity!} />;
  } else if (page === 'keys') {
    body = <KeysPage identity={identity!} />;
  } else if (page === 'principals') {
    body = <PrincipalsPage identity={identity!} />;
  } else if (page === 'tenants') {
    body = <TenantsPage />;
  } else if (page === 'audit') {
    body = <AuditPage />;
  } else if (page === 'pki') {
    body = <PkiPage identity={identity!} />;
  } else {
    body = <p>No such page. <a href="#/status">Go to the status page</a>.</p>;
  }

  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">Keyward</span>
        <nav aria-label="Main">
          <ul>
            {links.filter(([, , shown]) => shown).map(([id, label]) => (
              <li key={id}><a href={`#/${id}`} aria-current={page === id ? 'page' : undefined}>{label}</a></li>
            ))}
          </ul>
        </nav>
        {session.state !== 'signed-out' ? (
          <div class="who">
            {identity !== undefined ? <span>{identity.Name} ({identity.Role}, tenant {identity.Tenant})</span> : <span>not yet verified</span>}
            <button type="button" onClick={signOut}>Sign out</button>
          </div>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>{body}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
