import { useEffect, useRef, useState } from 'react';

import type { ExportFormat, Selection } from '../../src/common/api.ts';
import { isFilterEmpty } from '../../src/common/ladder.ts';
import { type ExportKind, exportTrace, openFile } from './files.ts';
import { nameOf, useStore, type View } from './store.ts';
import { Calls } from './views/Calls.tsx';
import { Diff } from './views/Diff.tsx';
import { Inspector } from './views/Inspector.tsx';
import { Ladder } from './views/Ladder.tsx';
import { Player } from './views/Player.tsx';
import { Qualify } from './views/Qualify.tsx';
import { Splitter } from './views/Splitter.tsx';
import { FilterBar } from './views/Toolbar.tsx';
import { Topology } from './views/Topology.tsx';

const VIEWS: [View, string][] = [
  ['topology', 'Topology'],
  ['calls', 'Calls'],
  ['ladder', 'Ladder'],
  ['qualify', 'Qualification'],
  ['diff', 'Diff'],
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

const TITLES: Record<ExportKind, string> = {
  pcap: 'libpcap capture (Wireshark, tshark, sngrep)',
  pcapng: 'pcapng: one interface per element, comments naming call and leg',
  cls: 'Lync Server / OCSLogger text log',
  json: 'Trunklab JSON trace (one message per line, with call links): opens again here',
  sipp: 'SIPp XML scenario of one call (the filtered call, or the selected message\'s call)',
  svg: 'The ladder as drawn (at most 5,000 messages)',
  png: 'The ladder as an image (at most 5,000 messages)',
};

type Scope = 'all' | 'shown' | 'selected';

/** Who SIPp plays in an exported scenario. */
function SippSide({ value, onChange }: { value: string; onChange(side: string): void }) {
  const seen = useStore((s) => s.ladder?.used ?? []);
  return (
    <label className="sipp-side">
      SIPp plays
      <select aria-label="SIPp plays" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="callee">the callee</option>
        <option value="caller">the caller</option>
        {seen.map((id) => (
          <option key={id} value={id}>
            {nameOf(id)}
          </option>
        ))}
      </select>
    </label>
  );
}

function ExportMenu({ onClose }: { onClose(): void }) {
  const formats = useStore((s) => s.exportFormats);
  const selected = useStore((s) => s.selected);
  const filter = useStore((s) => s.filter);
  const filtered = !isFilterEmpty(filter);
  const [scope, setScope] = useState<Scope>(filtered ? 'shown' : 'all');
  const [side, setSide] = useState('callee');
  const run = (kind: ExportKind): void => {
    onClose();
    let selection: Selection | undefined;
    if (scope === 'shown' && filtered) selection = { filter };
    else if (scope === 'selected' && selected !== null) selection = { indexes: [selected] };
    void exportTrace(kind, selection, scope, kind === 'sipp' ? side : undefined);
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
          <button key={kind} type="button" role="menuitem" disabled={!available} onClick={() => run(kind)} title={available ? TITLES[kind] : 'not available in this build'}>
            {label}
          </button>
        );
      })}
      <SippSide value={side} onChange={setSide} />
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
  const messageCount = useStore((s) => s.messageCount);
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
      <span>{messageCount.toLocaleString('en-US')} messages</span>
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
  return (
    <section className="ladder-view" aria-label="Ladder view">
      <FilterBar />
      <Splitter storageKey="trunklab.inspectorWidth" defaultSize={520} min={320} maxFraction={0.7} label="Resize the inspector">
        <Ladder />
        <Inspector />
      </Splitter>
      <Player />
    </section>
  );
}

export function App() {
  const view = useStore((s) => s.view);
  const setView = useStore((s) => s.setView);
  const [exportOpen, setExportOpen] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onMenu = (e: Event): void => {
      const { what, detail } = (e as CustomEvent<{ what: string; detail?: string }>).detail;
      if (what === 'capture') fileInput.current?.click();
      else if (what === 'export') setExportOpen(true);
      else if (what === 'view' && (detail === 'topology' || detail === 'calls' || detail === 'ladder' || detail === 'qualify' || detail === 'diff')) setView(detail);
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
        {view === 'qualify' && <Qualify />}
        {view === 'diff' && <Diff />}
      </main>
      <StatusBar />
      <Notices />
    </div>
  );
}
