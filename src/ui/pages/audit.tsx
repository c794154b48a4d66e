import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { ErrorBox, inputValue, useAction, useLoad } from '../components.js';

interface AuditRecord {
  type: 'record';
  chain: string;
  seq: number;
  time: string;
  principal: string | null;
  tenant: string | null;
  op: string;
  keyId: string | null;
  keyVersion: number | null;
  result: string;
  transport: string;
  source: string;
}
interface Page { Chain: string; Chains: string[]; Records: AuditRecord[]; NextSeq?: number }
interface ChainReport { chain: string; ok: boolean; records: number; lastSeq: number | null; checkpoints: number; lastCheckpointSeq: number | null; signaturesChecked: boolean; unanchored: { from: number; to: number } | null; firstBreak: { seq?: number; reason?: string; message?: string } | null }
interface VerifyReport { ok: boolean; chains: ChainReport[]; firstBreak: unknown }

interface Filters { principal: string; keyId: string; op: string; since: string; until: string; chain: string }
const EMPTY: Filters = { principal: '', keyId: '', op: '', since: '', until: '', chain: '' };
const TAIL_EVERY_MS = 2000;
const TAIL_KEEP = 500;

/** The audit log: search (principal, key, operation, time), live tail, chain and checkpoint verification. */
export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [afterSeq, setAfterSeq] = useState<number[]>([]);
  const [tailing, setTailing] = useState(false);
  const [tail, setTail] = useState<AuditRecord[]>([]);
  const [tailError, setTailError] = useState<unknown>(undefined);
  const [hideOwn, setHideOwn] = useState(true);
  const request = (f: Filters): Record<string, unknown> => ({
    ...(f.principal.trim() !== '' ? { Principal: f.principal.trim() } : {}),
    ...(f.keyId.trim() !== '' ? { KeyId: f.keyId.trim() } : {}),
    ...(f.op.trim() !== '' ? { Op: f.op.trim() } : {}),
    ...(f.since !== '' ? { Since: new Date(f.since).toISOString() } : {}),
    ...(f.until !== '' ? { Until: new Date(f.until).toISOString() } : {}),
    ...(f.chain.trim() !== '' ? { Chain: f.chain.trim() } : {}),
  });
  const cursor = afterSeq[afterSeq.length - 1];
  const page = useLoad(() => call<Page>('Keyward.ListAuditRecords', { ...request(filters), Limit: 50, ...(cursor !== undefined ? { AfterSeq: cursor } : {}) }), [filters, cursor]);

  // Live tail: the newest records first, then whatever follows the last one seen, every 2 s.
  const last = useRef<number | undefined>(undefined);
  useEffect(() => {
    if (!tailing) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const chain = filters.chain.trim() !== '' ? { Chain: filters.chain.trim() } : {};
        const body = last.current === undefined ? { ...chain, Tail: 20 } : { ...chain, AfterSeq: last.current, Limit: 200 };
        const r = await call<Page>('Keyward.ListAuditRecords', body);
        const records = r.Records.filter((x) => x.type === 'record');
        if (!live) return;
        if (records.length > 0) {
          last.current = records[records.length - 1]!.seq;
          setTail((t) => [...records.slice().reverse(), ...t].slice(0, TAIL_KEEP));
        } else if (last.current === undefined) {
          last.current = 0;
        }
        setTailError(undefined);
      } catch (e) {
        if (live) setTailError(e);
      }
      if (live) timer = setTimeout(() => void poll(), TAIL_EVERY_MS);
    };
    void poll();
    return () => { live = false; if (timer !== undefined) clearTimeout(timer); };
  }, [tailing, filters]);

  const field = (name: keyof Filters, label: string, type: 'text' | 'datetime-local' = 'text') => (
    <div class="field">
      <label for={`audit-${name}`}>{label}</label>
      {type === 'text'
        ? <input id={`audit-${name}`} type="text" value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: inputValue(e) })} />
        : <input id={`audit-${name}`} type="datetime-local" value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: inputValue(e) })} />}
    </div>
  );

  return (
    <>
      <h1>Audit log</h1>
      <Verify />
      <section class="card" aria-labelledby="audit-search-title">
        <h2 id="audit-search-title">Search</h2>
        <form class="form-grid" onSubmit={(e) => { e.preventDefault(); setAfterSeq([]); setFilters(draft); setTail([]); last.current = undefined; }}>
          {field('principal', 'Principal (ARN or name)')}
          {field('keyId', 'Key id or ARN')}
          {field('op', 'Operation (e.g. RotateKeyOnDemand)')}
          {field('since', 'From (local time)', 'datetime-local')}
          {field('until', 'Until (local time)', 'datetime-local')}
          <div class="field">
            <label for="audit-chain">Chain (node)</label>
            <select id="audit-chain" value={draft.chain} onChange={(e) => setDraft({ ...draft, chain: inputValue(e) })}>
              <option value="">this node's</option>
              {(page.data?.Chains ?? []).map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          </div>
          <div class="actions">
            <button type="submit" class="primary">Search</button>
            <button type="button" onClick={() => { setDraft(EMPTY); setFilters(EMPTY); setAfterSeq([]); }}>Clear</button>
          </div>
        </form>
        <ErrorBox error={page.error} />
        <Records records={(page.data?.Records ?? []).filter((r) => r.type === 'record')} caption="Matching audit records, oldest first" testid="audit-results" />
        <div class="actions">
          <button type="button" disabled={afterSeq.length === 0} onClick={() => setAfterSeq(afterSeq.slice(0, -1))}>Previous page</button>
          <button type="button" disabled={page.data?.NextSeq === undefined} onClick={() => setAfterSeq([...afterSeq, page.data!.NextSeq!])}>Next page</button>
        </div>
      </section>
      <section class="card" aria-labelledby="audit-tail-title">
        <h2 id="audit-tail-title">Live tail</h2>
        <p class="hint">Every record of the chain, newest first, as it is written.</p>
        <button type="button" aria-pressed={tailing} onClick={() => { setTailing(!tailing); if (tailing) { last.current = undefined; setTail([]); } }}>{tailing ? 'Stop live tail' : 'Start live tail'}</button>
        <ErrorBox error={tailError} />
        <label class="inline"><input type="checkbox" checked={hideOwn} onChange={() => setHideOwn(!hideOwn)} /> Hide the tail's own reads (ListAuditRecords)</label>
        {tailing ? <div aria-live="polite"><Records records={hideOwn ? tail.filter((r) => r.op !== 'ListAuditRecords') : tail} caption="Newest audit records first" testid="audit-tail" /></div> : null}
      </section>
    </>
  );
}

function Records({ records, caption, testid }: { records: AuditRecord[]; caption: string; testid: string }) {
  return (
    <div class="table-wrap">
      <table data-testid={testid}>
        <caption class="sr-only">{caption}</caption>
        <thead><tr><th scope="col">Seq</th><th scope="col">Time</th><th scope="col">Operation</th><th scope="col">Result</th><th scope="col">Principal</th><th scope="col">Key</th><th scope="col">Source</th></tr></thead>
        <tbody>
          {records.map((r) => (
            <tr key={`${r.chain}/${r.seq}`}>
              <td>{r.seq}</td>
              <td>{r.time.replace('T', ' ')}</td>
              <td>{r.op}</td>
              <td><span class={`badge ${r.result === 'OK' ? 'good' : 'bad'}`}>{r.result}</span></td>
              <td class="mono">{r.principal ?? ''}</td>
              <td class="mono">{r.keyId ?? ''}{r.keyVersion !== null ? ` v${r.keyVersion}` : ''}</td>
              <td>{r.transport} {r.source}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Verify() {
  const action = useAction();
  const [report, setReport] = useState<VerifyReport | undefined>(undefined);
  return (
    <section class="card" aria-labelledby="audit-verify-title">
      <h2 id="audit-verify-title">Chain and checkpoint verification</h2>
      <button type="button" class="primary" disabled={action.busy} onClick={() => void action.run(async () => { setReport(await call<VerifyReport>('Keyward.VerifyAudit', {})); })}>Verify the audit log</button>
      <ErrorBox error={action.error} />
      {report !== undefined ? (
        <>
          <p role="status"><span class={`badge ${report.ok ? 'good' : 'bad'}`} data-testid="audit-verify-result">{report.ok ? 'Intact' : 'Broken'}</span></p>
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Chains</caption>
              <thead><tr><th scope="col">Chain</th><th scope="col">Status</th><th scope="col">Records</th><th scope="col">Checkpoints</th><th scope="col">Last signed</th><th scope="col">Not yet signed</th><th scope="col">First break</th></tr></thead>
              <tbody>
                {report.chains.map((c) => (
                  <tr key={c.chain}>
                    <td class="mono">{c.chain}</td>
                    <td>{c.ok ? 'intact' : 'broken'}</td>
                    <td>{c.records}</td>
                    <td>{c.checkpoints}{c.signaturesChecked ? ' (signatures checked)' : ''}</td>
                    <td>{c.lastCheckpointSeq ?? ''}</td>
                    <td>{c.unanchored !== null ? `${c.unanchored.from}-${c.unanchored.to}` : ''}</td>
                    <td>{c.firstBreak !== null ? JSON.stringify(c.firstBreak) : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </section>
  );
}
