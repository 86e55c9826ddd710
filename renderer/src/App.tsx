import { useEffect, useRef, useState } from 'react';

import type { ExportFormat, Selection } from '../../src/common/api.ts';
import { isFilterEmpty } from '../../src/common/ladder.ts';
import { type ExportKind, exportTrace, openFile } from './files.ts';
import { messageLog, useStore, type View } from './store.ts';
import { Calls } from './views/Calls.tsx';
import { Inspector } from './views/Inspector.tsx';
import { Ladder } from './views/Ladder.tsx';
import { FilterBar } from './views/Toolbar.tsx';
import { Topology } from './views/Topology.tsx';
import { combinedPredicate, useFiltered } from './views/useFiltered.ts';

const VIEWS: [View, string][] = [
  ['topology', 'Topology'],
  ['calls', 'Calls'],
  ['ladder', 'Ladder'],
];

const EXPORTS: [ExportKind, string][] = [
  ['pcap', 'pcap'],
  ['pcapng', 'pcapng'],
  ['cls', 'Lync log (.log)'],
  ['json', 'JSON trace'],
  ['sipp', 'SIPp scenario'],
  ['svg', 'Ladder as SVG'],
  ['png', 'Ladder as PNG'],
];

type Scope = 'all' | 'shown' | 'selected';

function shownIndexes(): number[] {
  const s = useStore.getState();
  const pass = combinedPredicate(s.filter, s.callFilter);
  const out: number[] = [];
  for (const m of messageLog) if (pass(m)) out.push(m.index);
  return out;
}

function ExportMenu({ onClose }: { onClose(): void }) {
  const formats = useStore((s) => s.exportFormats);
  const selected = useStore((s) => s.selected);
  const filtered = useStore((s) => !isFilterEmpty(s.filter) || s.callFilter !== null);
  const [scope, setScope] = useState<Scope>(filtered ? 'shown' : 'all');
  const run = (kind: ExportKind): void => {
    onClose();
    let selection: Selection | undefined;
    let list = (): typeof messageLog => messageLog;
    if (scope === 'shown') {
      const indexes = shownIndexes();
      selection = { indexes };
      list = () => indexes.map((i) => messageLog[i]!);
    } else if (scope === 'selected' && selected !== null) {
      selection = { indexes: [selected] };
      list = () => [messageLog[selected]!];
    }
    void exportTrace(kind, selection, list);
  };
  return (
    <div className="menu" role="menu" aria-label="Export">
      <fieldset className="scope">
        <legend>Messages</legend>
        {(
          [
            ['all', 'Whole trace'],
            ['shown', 'Shown by the filter'],
            ['selected', 'Selected message'],
          ] as [Scope, string][]
        ).map(([id, label]) => (
          <label key={id}>
            <input type="radio" name="scope" checked={scope === id} disabled={id === 'selected' && selected === null} onChange={() => setScope(id)} />
            {label}
          </label>
        ))}
      </fieldset>
      {EXPORTS.map(([kind, label]) => {
        const available = kind === 'svg' || kind === 'png' || formats.includes(kind as ExportFormat);
        return (
          <button key={kind} type="button" role="menuitem" disabled={!available} onClick={() => run(kind)} title={available ? undefined : 'not available in this build'}>
            {label}
          </button>
        );
      })}
    </div>
  );
}

function ImportBars() {
  const imports = useStore((s) => s.imports);
  if (imports.length === 0) return null;
  return (
    <>
      {imports.map((p) => {
        const pct = p.totalBytes > 0 ? Math.round((100 * p.bytes) / p.totalBytes) : 0;
        return (
          <span key={p.id} className="import">
            {p.uploading ? 'Uploading' : 'Reading'} {p.name}
            <progress max={100} value={pct} aria-label={`${p.uploading ? 'Uploading' : 'Reading'} ${p.name}`} />
            {pct}%
          </span>
        );
      })}
    </>
  );
}

function StatusBar() {
  const connection = useStore((s) => s.connection);
  const hostKind = useStore((s) => s.hostKind);
  const version = useStore((s) => s.appVersion);
  const topology = useStore((s) => s.topology);
  const calls = useStore((s) => s.calls);
  useStore((s) => s.logVersion);
  const live = calls.filter((c) => !['ended', 'failed'].includes(c.state)).length;
  return (
    <footer className="statusbar">
      <span className={`conn conn-${connection}`}>
        {connection === 'open'
          ? hostKind === 'desktop'
            ? 'Desktop app'
            : 'Connected to trunklab serve'
          : connection === 'refused'
            ? 'Refused: open the URL trunklab serve printed (with its token)'
            : connection === 'closed'
              ? 'Connection lost, reconnecting…'
              : 'Connecting…'}
      </span>
      <span title={topology?.source}>{topology ? `Lab: ${topology.source.split(/[\\/]/).pop()}` : 'No lab (viewing files)'}</span>
      <span>{messageLog.length.toLocaleString()} messages</span>
      <span>
        {live} live call{live === 1 ? '' : 's'}
      </span>
      <ImportBars />
      <span className="spacer" />
      <span className="dim">Trunklab {version}</span>
    </footer>
  );
}

function Notices() {
  const notices = useStore((s) => s.notices);
  const dismiss = useStore((s) => s.dismiss);
  return (
    <div className="notices" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.level}`} role={n.level === 'error' ? 'alert' : 'status'}>
          {n.text}
          <button type="button" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}

function LadderView() {
  const filtered = useFiltered();
  return (
    <section className="ladder-view" aria-label="Ladder view">
      <FilterBar filtered={filtered} />
      <div className="split">
        <Ladder />
        <Inspector />
      </div>
    </section>
  );
}

export function App() {
  const view = useStore((s) => s.view);
  const setView = useStore((s) => s.setView);
  const topology = useStore((s) => s.topology);
  const [exportOpen, setExportOpen] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onMenu = (e: Event): void => {
      const { what, detail } = (e as CustomEvent<{ what: string; detail?: string }>).detail;
      if (what === 'capture') fileInput.current?.click();
      else if (what === 'export') setExportOpen(true);
      else if (what === 'view' && (detail === 'topology' || detail === 'calls' || detail === 'ladder')) setView(detail);
    };
    const onKey = (e: KeyboardEvent): void => {
      const target = e.target as HTMLElement | null;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return;
      if (e.key === '/') {
        e.preventDefault();
        setView('ladder');
        setTimeout(() => document.getElementById('ladder-search')?.focus(), 0);
      }
    };
    window.addEventListener('trunklab:menu', onMenu);
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('trunklab:menu', onMenu);
      window.removeEventListener('keydown', onKey);
    };
  }, [setView]);

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ⇄
          </span>
          Trunklab
          <span className="brand-sub">{topology?.description ? '' : ''}</span>
        </div>
        <div className="viewtabs" role="tablist" aria-label="Views">
          {VIEWS.map(([id, label]) => (
            <button key={id} type="button" role="tab" aria-selected={view === id} className={view === id ? 'active' : ''} onClick={() => setView(id)}>
              {label}
            </button>
          ))}
        </div>
        <div className="actions">
          <input
            ref={fileInput}
            type="file"
            hidden
            accept=".pcap,.pcapng,.cap,.gz,.log,.txt,.json"
            aria-label="Open a capture or log file"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void openFile(file);
              e.target.value = '';
            }}
          />
          <button type="button" onClick={() => fileInput.current?.click()}>
            Open…
          </button>
          <div className="menu-anchor">
            <button type="button" aria-haspopup="menu" aria-expanded={exportOpen} onClick={() => setExportOpen(!exportOpen)}>
              Export ▾
            </button>
            {exportOpen && <ExportMenu onClose={() => setExportOpen(false)} />}
          </div>
        </div>
      </header>
      <main className="main">
        {view === 'topology' && <Topology />}
        {view === 'calls' && <Calls />}
        {view === 'ladder' && <LadderView />}
      </main>
      <StatusBar />
      <Notices />
    </div>
  );
}
