/**
 * The ladder as a standalone SVG document (export "ladder as SVG", and the
 * source of the PNG export): the same columns and arrows as the view, with
 * styles inlined so the file renders anywhere.
 */
import type { MessageSummary } from './api.ts';
import { formatDelta, formatTime, type LadderLayout, messageClass, messageLabel } from './ladder.ts';

const COLOURS: Record<string, string> = {
  invite: '#1d4ed8',
  ack: '#0e7490',
  bye: '#b45309',
  cancel: '#b45309',
  options: '#6b7280',
  refer: '#7c3aed',
  request: '#1f2937',
  provisional: '#6b7280',
  success: '#15803d',
  redirect: '#a16207',
  'client-error': '#b91c1c',
  'server-error': '#b91c1c',
  invalid: '#db2777',
};

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface LadderSvgOptions {
  rowHeight?: number;
  gutter?: number;
  title?: string;
}

export function ladderSvg(layout: LadderLayout, messages: readonly MessageSummary[], options: LadderSvgOptions = {}): string {
  const row = options.rowHeight ?? 26;
  const gutter = options.gutter ?? 200;
  const head = 56;
  const width = gutter + layout.width + 20;
  const height = head + messages.length * row + 16;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`,
  );
  if (options.title) out.push(`<title>${escapeXml(options.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  for (const g of layout.groups) {
    const x = gutter + g.first * layout.columnWidth + 4;
    const w = (g.last - g.first + 1) * layout.columnWidth - 8;
    out.push(`<rect x="${x}" y="4" width="${w}" height="16" rx="3" fill="#eef2ff"/>`);
    out.push(`<text x="${x + w / 2}" y="16" text-anchor="middle" fill="#3730a3">${escapeXml(g.name)}</text>`);
  }
  for (const c of layout.columns) {
    const x = gutter + c.x;
    out.push(`<rect x="${x - layout.columnWidth / 2 + 6}" y="24" width="${layout.columnWidth - 12}" height="24" rx="4" fill="#f3f4f6" stroke="#d1d5db"/>`);
    out.push(`<text x="${x}" y="40" text-anchor="middle" font-weight="600" fill="#111827">${escapeXml(c.name)}</text>`);
    out.push(`<line x1="${x}" x2="${x}" y1="${head}" y2="${height - 8}" stroke="#d1d5db" stroke-dasharray="3 3"/>`);
  }
  let prev: number | null = null;
  messages.forEach((m, i) => {
    const y = head + i * row + 18;
    const from = layout.indexOf.get(m.from);
    const to = layout.indexOf.get(m.to);
    const x1 = gutter + (from === undefined ? 0 : layout.columns[from]!.x);
    const x2 = gutter + (to === undefined ? 0 : layout.columns[to]!.x);
    const colour = COLOURS[messageClass(m)] ?? '#111827';
    const dir = x2 >= x1 ? 1 : -1;
    out.push(`<text x="4" y="${y}" fill="#6b7280">${formatTime(m.timeUs)}</text>`);
    if (prev !== null) out.push(`<text x="${gutter - 8}" y="${y}" text-anchor="end" fill="#9ca3af">${formatDelta(m.timeUs - prev)}</text>`);
    prev = m.timeUs;
    const dash = m.retransmission ? ' stroke-dasharray="4 3"' : '';
    out.push(`<line x1="${x1}" x2="${x2 - dir * 6}" y1="${y}" y2="${y}" stroke="${colour}" stroke-width="1.5"${dash}/>`);
    out.push(`<path d="M${x2},${y} l${-dir * 8},-4 v8 z" fill="${colour}"/>`);
    const label = `${messageLabel(m)}${m.sdp ? ' (SDP)' : ''}${m.retransmission ? ' [retrans]' : ''}`;
    out.push(`<text x="${(x1 + x2) / 2}" y="${y - 5}" text-anchor="middle" fill="${colour}">${escapeXml(label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
