/**
 * Topology: every element with its role and addresses, in the order a call
 * crosses them (users → Front End → Mediation pools → peers), and each
 * trunk drawn from its Mediation Server to its peer, coloured by the health
 * the Mediation Server's OPTIONS keep-alives see (up, down, probing).
 */
import type { ElementStatus, Health, TrunkStatus } from '../../../src/common/api.ts';
import { useStore } from '../store.ts';

const BOX_W = 250;
const GAP = 12;
const COL_X = [20, 330, 640, 1000];
const POOL_PAD = 26;
const LINE = 13;

interface Placed {
  e: ElementStatus;
  x: number;
  y: number;
  h: number;
}

/** `tls:127.0.0.20:5068` → ['TLS', '127.0.0.20:5068']. */
function listenParts(listen: string): [string, string] {
  const m = /^([a-z]+):(.*)$/.exec(listen);
  return m ? [m[1]!.toUpperCase(), m[2]!] : ['', listen];
}

function detailLine(e: ElementStatus): string {
  if (e.role === 'lync-user') return e.lineUri ?? e.uri ?? '';
  if (e.external) return `external device ${e.external}`;
  if (e.numbers) return `${e.numbers.length} PSTN numbers`;
  return '';
}

/** Every listening point on a line of its own: nothing is cut off. */
function boxHeight(e: ElementStatus): number {
  return 26 + LINE * Math.max(1, e.listen.length) + (detailLine(e) ? LINE : 0) + 4;
}

function column(elements: ElementStatus[], x: number, top: number): Placed[] {
  let y = top;
  return elements.map((e) => {
    const p = { e, x, y, h: boxHeight(e) };
    y += p.h + GAP;
    return p;
  });
}

const HEALTH_LABEL: Record<Health, string> = { up: 'up', down: 'down', probing: 'probing', unknown: 'unknown' };

function ElementBox({ p, health }: { p: Placed; health?: Health }) {
  const detail = detailLine(p.e);
  const lines = p.e.listen.length > 0 ? p.e.listen.map(listenParts) : [['', p.e.external ?? '']];
  return (
    <g className={`topo-el role-${p.e.role}`} transform={`translate(${p.x},${p.y})`}>
      <title>{`${p.e.name} (${p.e.id}, ${p.e.role})\n${p.e.listen.join('\n')}${p.e.uri ? `\n${p.e.uri}` : ''}`}</title>
      <rect width={BOX_W} height={p.h} rx={6} className="topo-box" />
      <rect width={5} height={p.h} rx={2} className="topo-stripe" />
      <text x={14} y={18} className="topo-name">
        {p.e.name}
      </text>
      <text x={BOX_W - (health ? 24 : 10)} y={18} textAnchor="end" className="topo-role">
        {p.e.role}
      </text>
      {health && <circle cx={BOX_W - 12} cy={14} r={5} className={`health-dot health-${health}`} />}
      {lines.map(([proto, addr], i) => (
        <text key={`${proto}${addr}`} x={14} y={34 + i * LINE} className="topo-addr">
          {proto && <tspan className="topo-proto">{proto}</tspan>}
          <tspan x={proto ? 44 : 14}>{addr}</tspan>
        </text>
      ))}
      {detail && (
        <text x={14} y={34 + lines.length * LINE} className="topo-addr dim">
          {detail}
        </text>
      )}
    </g>
  );
}

function peerHealth(trunks: TrunkStatus[], peer: string): Health | undefined {
  const mine = trunks.filter((t) => t.peer === peer);
  if (mine.length === 0) return undefined;
  if (mine.every((t) => t.health === 'up')) return 'up';
  if (mine.some((t) => t.health === 'down')) return 'down';
  if (mine.some((t) => t.health === 'probing')) return 'probing';
  return 'unknown';
}

export function Topology() {
  const elements = useStore((s) => s.elements);
  const trunks = useStore((s) => s.trunks);
  const topology = useStore((s) => s.topology);
  if (elements.length === 0) {
    return (
      <section className="topology-view" aria-label="Topology">
        <div className="empty">{topology ? 'Loading the topology…' : 'No lab is running: this window views files only.'}</div>
      </section>
    );
  }
  const users = elements.filter((e) => e.role === 'lync-user');
  const fe = elements.filter((e) => e.role === 'front-end');
  const meds = elements.filter((e) => e.role === 'mediation');
  const peers = elements.filter((e) => e.role === 'gateway' || e.role === 'ip-pbx' || e.role === 'sbc');
  const top = 40;
  const placedUsers = column(users, COL_X[0]!, top);
  const placedPeers = column(peers, COL_X[3]!, top);
  // Pools: a frame around their members.
  const pools: { id: string; name: string; y: number; h: number }[] = [];
  const placedMeds: Placed[] = [];
  let y = top;
  for (const e of meds) {
    const pool = e.pool ?? e.id;
    let frame = pools[pools.length - 1];
    if (!frame || frame.id !== pool) {
      if (frame) y += POOL_PAD;
      frame = { id: pool, name: e.poolName ?? pool, y: y - 6, h: 0 };
      pools.push(frame);
      y += 18;
    }
    const h = boxHeight(e);
    placedMeds.push({ e, x: COL_X[2]!, y, h });
    y += h + GAP;
    frame.h = y - frame.y - GAP + 8;
  }
  const contentBottom = Math.max(y, ...[...placedUsers, ...placedPeers].map((p) => p.y + p.h + GAP));
  const feHeight = fe.reduce((n, e) => n + boxHeight(e) + GAP, 0);
  const placedFe = column(fe, COL_X[1]!, Math.max(top, (contentBottom - feHeight) / 2));
  const at = new Map<string, Placed>([...placedUsers, ...placedFe, ...placedMeds, ...placedPeers].map((p) => [p.e.id, p]));
  const height = contentBottom + 20;
  const width = COL_X[3]! + BOX_W + 20;
  const feP = placedFe[0];
  const link = (a: Placed, b: Placed): { x1: number; y1: number; x2: number; y2: number } => ({
    x1: a.x + BOX_W,
    y1: a.y + Math.min(a.h / 2, 30),
    x2: b.x,
    y2: b.y + Math.min(b.h / 2, 30),
  });
  return (
    <section className="topology-view" aria-label="Topology">
      <div className="topo-legend">
        <span>
          <i className="health-dot-i health-up" /> up
        </span>
        <span>
          <i className="health-dot-i health-probing" /> probing
        </span>
        <span>
          <i className="health-dot-i health-down" /> down
        </span>
        <span>
          <i className="health-dot-i health-unknown" /> not yet probed
        </span>
        <span className="dim">{topology?.description}</span>
      </div>
      <svg className="topo" width={width} height={height} role="img" aria-label="Lab topology diagram">
        <text x={COL_X[0]} y={22} className="topo-colhead">
          Lync users
        </text>
        <text x={COL_X[1]} y={22} className="topo-colhead">
          Front End
        </text>
        <text x={COL_X[2]} y={22} className="topo-colhead">
          Mediation pools
        </text>
        <text x={COL_X[3]} y={22} className="topo-colhead">
          Gateways, IP-PBX, SBC
        </text>
        {feP &&
          placedUsers.map((u) => {
            const l = link(u, feP);
            return <line key={`u-${u.e.id}`} {...l} className="topo-link" />;
          })}
        {feP &&
          placedMeds.map((m) => {
            const l = link(feP, m);
            return <line key={`f-${m.e.id}`} {...l} className="topo-link" />;
          })}
        {pools.map((p) => (
          <g key={p.id}>
            <rect x={COL_X[2]! - 10} y={p.y} width={BOX_W + 20} height={p.h} rx={8} className="topo-pool" />
            <text x={COL_X[2]! - 2} y={p.y + 13} className="topo-pool-name">
              {p.name}
            </text>
          </g>
        ))}
        {trunks.map((t) => {
          const a = at.get(t.mediation);
          const b = at.get(t.peer);
          if (!a || !b) return null;
          const l = link(a, b);
          const mx = (l.x1 + l.x2) / 2;
          return (
            <g key={t.name} className={`topo-trunk health-${t.health}`}>
              <title>{`${t.name}: ${t.mediation} → ${t.peer} over ${t.transport.toUpperCase()}, ${HEALTH_LABEL[t.health]}`}</title>
              <path d={`M${l.x1},${l.y1} C${mx},${l.y1} ${mx},${l.y2} ${l.x2},${l.y2}`} fill="none" />
            </g>
          );
        })}
        {[...at.values()].map((p) => (
          <ElementBox key={p.e.id} p={p} {...(peerHealth(trunks, p.e.id) ? { health: peerHealth(trunks, p.e.id)! } : {})} />
        ))}
      </svg>
      <table className="grid trunks-table" aria-label="Trunks" style={{ width }}>
        <thead>
          <tr>
            <th>Trunk</th>
            <th>Mediation Server</th>
            <th>Peer</th>
            <th>Transport</th>
            <th>Health</th>
          </tr>
        </thead>
        <tbody>
          {trunks.map((t) => (
            <tr key={t.name}>
              <td className="mono">{t.name}</td>
              <td>{at.get(t.mediation)?.e.name ?? t.mediation}</td>
              <td>{at.get(t.peer)?.e.name ?? t.peer}</td>
              <td>{t.transport.toUpperCase()}</td>
              <td>
                <span className={`health-pill health-${t.health}`}>{HEALTH_LABEL[t.health]}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
