import { useEffect, useState } from 'react';

import { desktopBridge } from './bridge.ts';

type Host = { kind: 'desktop'; version: string } | { kind: 'browser' } | { kind: 'pending' };

function useHost(): Host {
  const [host, setHost] = useState<Host>(() => (desktopBridge() ? { kind: 'pending' } : { kind: 'browser' }));
  useEffect(() => {
    const bridge = desktopBridge();
    if (!bridge) return;
    let live = true;
    bridge
      .version()
      .then((version) => {
        if (live) setHost({ kind: 'desktop', version });
      })
      .catch(() => {
        if (live) setHost({ kind: 'desktop', version: 'unknown' });
      });
    return () => {
      live = false;
    };
  }, []);
  return host;
}

function describeHost(host: Host): string {
  switch (host.kind) {
    case 'desktop':
      return `Desktop app ${host.version}`;
    case 'browser':
      return 'Browser mode';
    case 'pending':
      return 'Desktop app';
  }
}

export function App() {
  const host = useHost();
  return (
    <main className="app">
      <header className="app-header">
        <h1>Trunklab</h1>
        <p className="tagline">SIP trunk test harness for Lync Server 2013 direct SIP</p>
      </header>
      <section className="placeholder" aria-label="Workspace">
        <p>The lab topology, call ladder and qualification runs will appear here.</p>
      </section>
      <footer className="app-footer">{describeHost(host)}</footer>
    </main>
  );
}
