import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

/** Who is signed in (GetCallerIdentity); decides which actions the pages offer. */
export interface Identity {
  readonly Arn: string;
  readonly Name: string;
  readonly Tenant: string;
  readonly Account: string;
  readonly Role: 'admin' | 'user';
}

/** The system tenant's admins manage tenants, the seal and the audit log (authz/planes.ts). */
export const SYSTEM_TENANT = 'default';
export const canControl = (id: Identity | undefined): boolean => id?.Role === 'admin';
export const isSystemAdmin = (id: Identity | undefined): boolean => id?.Role === 'admin' && id.Tenant === SYSTEM_TENANT;

/** The server's error code and message, as it answered them. */
export function ErrorBox({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const code = error instanceof ApiError ? error.code : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div class="error" role="alert">
      <strong class="error-code">{code}</strong>{message !== '' ? <>: <span>{message}</span></> : null}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return <div class="notice" role="status">{children}</div>;
}

/**
 * Previous/next over a marker-paged list: `markers` holds the marker of every page shown so far
 * (undefined for the first), `next` the marker of the page after this one, if any.
 */
export function Pager({ markers, setMarkers, next }: { markers: ReadonlyArray<string | undefined>; setMarkers: (m: Array<string | undefined>) => void; next: string | undefined }) {
  return (
    <div class="actions">
      <button type="button" disabled={markers.length <= 1} onClick={() => setMarkers(markers.slice(0, -1))}>Previous page</button>
      <button type="button" disabled={next === undefined} onClick={() => setMarkers([...markers, next])}>Next page</button>
    </div>
  );
}

/** Runs a loader and keeps its result, error and a reload function. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then((d) => { if (live) { setData(d); setError(undefined); } }, (e: unknown) => { if (live) setError(e); })
      .finally(() => { if (live) setLoading(false); });
    return () => { live = false; };
  }, [...deps, tick]);
  return { data, error, loading, reload: useCallback(() => setTick((t) => t + 1), []) };
}

/** An action button's state: busy while running, the error it met, and a done message. */
export function useAction(): { busy: boolean; error: unknown; done: string | undefined; run: (f: () => Promise<string | void>) => Promise<void>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const run = async (f: () => Promise<string | void>) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const message = await f();
      if (typeof message === 'string') setDone(message);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, done, run, clear: () => { setError(undefined); setDone(undefined); } };
}

export interface Confirmation {
  readonly title: string;
  readonly description: string;
  /** What the operator must type: the key's alias or id, the principal's or tenant's name. */
  readonly expected: string;
  readonly action: string;
  readonly run: () => Promise<void>;
}

/**
 * Destructive actions open this dialog: the button stays disabled until the exact name is typed
 * in. A native <dialog> traps focus and closes on Escape.
 */
export function ConfirmDialog({ confirmation, onClose }: { confirmation: Confirmation | undefined; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    if (confirmation !== undefined && !d.open) { setTyped(''); setError(undefined); d.showModal(); }
    if (confirmation === undefined && d.open) d.close();
  }, [confirmation]);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (confirmation === undefined || typed !== confirmation.expected) return;
    setBusy(true);
    try {
      await confirmation.run();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onClose={onClose}>
      {confirmation !== undefined ? (
        <form onSubmit={submit}>
          <h2 id="confirm-title">{confirmation.title}</h2>
          <p>{confirmation.description}</p>
          <label for="confirm-input">Type <code>{confirmation.expected}</code> to confirm</label>
          <input id="confirm-input" autocomplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
          <ErrorBox error={error} />
          <div class="actions">
            <button type="button" onClick={onClose}>Cancel</button>
            <button type="submit" class="danger" disabled={busy || typed !== confirmation.expected}>{confirmation.action}</button>
          </div>
        </form>
      ) : null}
    </dialog>
  );
}

export function useConfirm(): [Confirmation | undefined, (c: Confirmation) => void, () => void] {
  const [c, setC] = useState<Confirmation | undefined>(undefined);
  return [c, setC, () => setC(undefined)];
}

export function formatTime(v: unknown): string {
  if (v === undefined || v === null || v === '') return '';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(String(v));
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function inputValue(e: Event): string {
  return (e.target as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement).value;
}
