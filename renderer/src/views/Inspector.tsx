/**
 * The inspector: one message as it was on the wire, with invisible
 * characters shown (CR, LF, tab, trailing spaces, control and non-ASCII
 * bytes), its parsed headers, its SDP as a table and its diagnostics.
 *
 * It follows the selection, and so the player: while a play runs it asks
 * the engine for at most one message per DETAIL_INTERVAL_MS (the latest),
 * and shows the message it stopped on at once on pause. The message shown
 * stays until the next one has arrived (no "Loading" flicker while stepping).
 */
import { type ReactNode, useEffect, useRef, useState } from 'react';

import type { MessageDetail, TraceFilter } from '../../../src/common/api.ts';
import { formatTime } from '../../../src/common/ladder.ts';
import { connect } from '../bridge.ts';
import { usePlayer } from '../player.ts';
import { useStore } from '../store.ts';

const details = new Map<string, MessageDetail>();

/** While the player plays: at most this often a new message's detail. */
const DETAIL_INTERVAL_MS = 200;

/** `value`, changing at most once per `intervalMs` (the latest value, on time); unthrottled when `intervalMs` is 0. */
function useThrottled<T>(value: T, intervalMs: number): T {
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    if (Object.is(value, shown)) return;
    const wait = intervalMs - (performance.now() - last.current);
    const show = (): void => {
      last.current = performance.now();
      setShown(value);
    };
    if (wait <= 0) {
      show();
      return;
    }
    const timer = setTimeout(show, wait);
    return () => clearTimeout(timer);
  }, [value, shown, intervalMs]);
  return intervalMs > 0 ? shown : value;
}

interface DetailState {
  detail: MessageDetail | null;
  error: string | null;
  /** The detail shown is an earlier message's: the one asked for is on its way. */
  loading: number | null;
}

function useDetail(index: number | null): DetailState {
  const generation = useStore((s) => s.generation);
  // A new revision can bring the linter's dialog findings.
  const revision = useStore((s) => s.revision);
  const [state, setState] = useState<{ key: string; generation: number; detail: MessageDetail | null; error: string | null }>({
    key: '',
    generation: -1,
    detail: null,
    error: null,
  });
  const key = `${generation}:${revision}:${index}`;
  useEffect(() => {
    if (index === null) return;
    const cached = details.get(key);
    if (cached) {
      setState({ key, generation, detail: cached, error: null });
      return;
    }
    let live = true;
    connect()
      .api.messageDetail(index)
      .then((d) => {
        if (details.size > 500) details.clear();
        details.set(key, d);
        if (live) setState({ key, generation, detail: d, error: null });
      })
      .catch((e: unknown) => live && setState({ key, generation, detail: null, error: String(e) }));
    return () => {
      live = false;
    };
  }, [key, index, generation]);
  if (state.key === key) return { detail: state.detail, error: state.error, loading: null };
  // Another message of the same trace stays in view until this one arrives (from the cache: at once).
  const cached = details.get(key);
  if (cached) return { detail: cached, error: null, loading: null };
  const keep = state.generation === generation && state.detail !== null && index !== null;
  return { detail: keep ? state.detail : null, error: null, loading: keep ? index : null };
}

/** The raw text with every invisible character made visible. */
export function showInvisibles(raw: string): ReactNode[] {
  const out: ReactNode[] = [];
  let plain = '';
  let n = 0;
  const flush = (): void => {
    if (plain) out.push(plain);
    plain = '';
  };
  const mark = (text: string, title: string, cls = 'inv'): void => {
    flush();
    out.push(
      <span key={n++} className={cls} title={title}>
        {text}
      </span>,
    );
  };
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    const code = ch.charCodeAt(0);
    if (ch === '\r') mark('\\r', 'CR (0x0D)');
    else if (ch === '\n') {
      mark('\\n', 'LF (0x0A)');
      plain += '\n';
    } else if (ch === '\t') mark('\\t', 'TAB (0x09)', 'inv inv-warn');
    else if (ch === ' ' && (raw[i + 1] === '\r' || raw[i + 1] === '\n')) mark('·', 'trailing space (0x20)', 'inv inv-warn');
    else if (code < 0x20 || code === 0x7f) mark(`⟨${code.toString(16).padStart(2, '0')}⟩`, `control byte 0x${code.toString(16).padStart(2, '0')}`, 'inv inv-warn');
    else if (code > 0x7e) mark(`⟨${code.toString(16)}⟩`, `byte 0x${code.toString(16)} (not ASCII)`, 'inv inv-byte');
    else plain += ch;
  }
  flush();
  return out;
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

/** `Mediation-1 (127.0.0.20:5068)`, or the address alone when it has no name. */
function endpoint(name: string, address: string): string {
  return name === address ? address : `${name} (${address})`;
}

function withoutCall(filter: TraceFilter): TraceFilter {
  const { callKey: _c, legKey: _l, labCall: _b, ...rest } = filter;
  return rest;
}

export function Inspector() {
  const playing = usePlayer((s) => s.playing);
  const selected = useThrottled(
    useStore((s) => s.selected),
    playing ? DETAIL_INTERVAL_MS : 0,
  );
  const setFilter = useStore((s) => s.setFilter);
  const filter = useStore((s) => s.filter);
  const notify = useStore((s) => s.notify);
  const { detail, error, loading } = useDetail(selected);
  const [tab, setTab] = useState<'raw' | 'headers' | 'sdp' | 'diagnostics'>('raw');

  if (selected === null) {
    return (
      <aside className="inspector" aria-label="Inspector">
        <div className="empty">Select an arrow to inspect its message.</div>
      </aside>
    );
  }
  if (error) {
    return (
      <aside className="inspector" aria-label="Inspector">
        <div className="empty error">{error}</div>
      </aside>
    );
  }
  if (!detail) {
    return (
      <aside className="inspector" aria-label="Inspector">
        <div className="empty">Loading message {selected + 1}…</div>
      </aside>
    );
  }
  const s = detail.summary;
  const tabs: [typeof tab, string][] = [
    ['raw', 'Raw'],
    ['headers', `Headers (${detail.headers.length})`],
    ['sdp', detail.sdp ? `SDP (${detail.sdp.length})` : 'SDP'],
    ['diagnostics', `Diagnostics (${detail.diagnostics.length})`],
  ];
  const copy = async (): Promise<void> => {
    notify('info', (await copyText(detail.raw)) ? `Message ${s.index + 1} copied.` : 'The clipboard refused the copy.');
  };
  return (
    <aside className="inspector" aria-label="Inspector" aria-busy={loading !== null}>
      <div className="insp-head">
        <div className="insp-title">
          <strong>#{s.index + 1}</strong> <span className="insp-start">{detail.startLine}</span>
          {loading !== null && <span className="insp-loading"> · loading #{loading + 1}…</span>}
        </div>
        <div className="insp-meta">
          {endpoint(detail.fromName, s.src)} → {endpoint(detail.toName, s.dst)} · {s.transport.toUpperCase()} · {formatTime(s.timeUs)} · {s.size} bytes
          {s.retransmission ? ` · retransmission${s.retransmissionOf !== undefined ? ` of #${s.retransmissionOf + 1}` : ''}` : ''}
        </div>
        <div className="insp-actions">
          <button type="button" onClick={() => void copy()}>
            Copy
          </button>
          {s.callId && (
            <button type="button" onClick={() => setFilter({ ...filter, callId: s.callId })} title={s.callId}>
              Only this Call-ID
            </button>
          )}
          {s.callKey && (
            <button type="button" onClick={() => setFilter({ ...withoutCall(filter), callKey: s.callKey })} title="Every leg the trace store grouped with this one">
              Only this call
            </button>
          )}
          {s.legKey && (
            <button type="button" onClick={() => setFilter({ ...withoutCall(filter), legKey: s.legKey, ...(s.callKey ? { callKey: s.callKey } : {}) })}>
              Only this leg
            </button>
          )}
        </div>
      </div>
      <div className="tabs" role="tablist" aria-label="Message views">
        {tabs.map(([id, label]) => (
          <button key={id} type="button" role="tab" aria-selected={tab === id} className={tab === id ? 'active' : ''} onClick={() => setTab(id)}>
            {label}
          </button>
        ))}
      </div>
      <div className="insp-body" role="tabpanel">
        {tab === 'raw' && (
          <section aria-label="Raw message">
            <pre className="raw">{showInvisibles(detail.raw)}</pre>
          </section>
        )}
        {tab === 'headers' && (
          <table className="grid">
            <thead>
              <tr>
                <th>Header</th>
                <th>Value</th>
              </tr>
            </thead>
            <tbody>
              {detail.headers.map((h, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: headers repeat, wire order is the identity
                <tr key={i}>
                  <td className="hname" title={h.name !== h.canonical ? `sent as ${h.name}` : undefined}>
                    {h.canonical}
                    {h.name !== h.canonical ? <span className="sent-as"> ({h.name})</span> : null}
                  </td>
                  <td className="hvalue">{h.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {tab === 'sdp' &&
          (detail.sdp ? (
            <table className="grid">
              <thead>
                <tr>
                  <th>Section</th>
                  <th>Line</th>
                  <th>Value</th>
                  <th>Meaning</th>
                </tr>
              </thead>
              <tbody>
                {detail.sdp.map((r, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: SDP lines repeat
                  <tr key={i} className={r.type === 'm' ? 'sdp-m' : undefined}>
                    <td>{r.section}</td>
                    <td className="mono">{r.type}=</td>
                    <td className="mono">{r.value}</td>
                    <td className="dim">{r.meaning ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <div className="empty">No SDP body.</div>
          ))}
        {tab === 'diagnostics' &&
          (detail.diagnostics.length === 0 ? (
            <div className="empty">No findings: the message conforms.</div>
          ) : (
            <ul className="diags">
              {detail.diagnostics.map((d, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: diagnostics may repeat a code
                <li key={i} className={`diag diag-${d.severity}`}>
                  <span className="diag-sev">{d.severity}</span> <code>{d.code}</code> {d.message}
                  <span className="diag-rule">{d.rule}</span>
                </li>
              ))}
            </ul>
          ))}
      </div>
    </aside>
  );
}
