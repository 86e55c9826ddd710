/**
 * Files: open a capture or log (uploaded to the engine in chunks, with
 * progress), and export the trace or a selection (the engine writes pcap,
 * pcapng, Lync log, JSON, SIPp; the renderer draws the ladder as SVG/PNG).
 */
import type { ExportFormat, Selection } from '../../src/common/api.ts';
import { ladderLayout, usedIds } from '../../src/common/ladder.ts';
import { ladderSvg } from '../../src/common/ladder-svg.ts';
import { connect } from './bridge.ts';
import { rows } from './rows.ts';
import { useStore } from './store.ts';

/** The ladder drawn by the renderer: beyond this many messages an image is unreadable anyway. */
const MAX_DRAWN = 5000;

const CHUNK = 1024 * 1024;

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export async function openFile(file: File): Promise<void> {
  const { api } = connect();
  const s = useStore.getState();
  const localId = `upload:${file.name}:${Date.now()}`;
  try {
    const id = await api.uploadStart({ name: file.name, size: file.size });
    for (let offset = 0; offset < file.size; offset += CHUNK) {
      const chunk = new Uint8Array(await file.slice(offset, offset + CHUNK).arrayBuffer());
      await api.uploadChunk(id, base64(chunk));
      s.setUpload({ id: localId, name: file.name, bytes: offset + chunk.byteLength, totalBytes: file.size, done: false, uploading: true }, localId);
    }
    s.setUpload(null, localId);
    const result = await api.uploadFinish(id);
    useStore.getState().notify('info', `${file.name}: ${result.added} messages imported${result.source.error ? ` (stopped early: ${result.source.error})` : ''}.`);
    useStore.setState({ view: 'ladder' });
  } catch (error) {
    useStore.getState().setUpload(null, localId);
    useStore.getState().notify('error', `Cannot open ${file.name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Saves an engine export (base64) through the browser's download (the desktop app asks where). */
export function saveBase64(fileName: string, mimeType: string, data: string): void {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  download(fileName, new Blob([bytes], { type: mimeType }));
}

export type ExportKind = ExportFormat | 'svg' | 'png';

export async function exportTrace(kind: ExportKind, selection: Selection | undefined, scope: 'all' | 'shown' | 'selected', side?: string): Promise<void> {
  const s = useStore.getState();
  try {
    if (kind === 'svg' || kind === 'png') {
      let list = scope === 'selected' && s.selected !== null ? await connect().api.messages(s.selected, s.selected + 1) : await rows.all(MAX_DRAWN + 1);
      if (scope === 'all' && s.ladder && s.ladder.count !== s.messageCount) list = await connect().api.messages(0, MAX_DRAWN + 1);
      if (list.length > MAX_DRAWN) {
        s.notify('error', `The ladder has more than ${MAX_DRAWN.toLocaleString('en-US')} messages: filter it to a call first, or export a pcap.`);
        return;
      }
      const layout = ladderLayout(s.elements, usedIds(list), { onlyUsed: true });
      const svg = ladderSvg(layout, list, { title: 'Trunklab ladder' });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      if (kind === 'svg') {
        download(`trunklab-ladder-${stamp}.svg`, new Blob([svg], { type: 'image/svg+xml' }));
      } else {
        download(`trunklab-ladder-${stamp}.png`, await svgToPng(svg));
      }
      s.notify('info', `Ladder of ${list.length} messages exported as ${kind.toUpperCase()}.`);
      return;
    }
    let request = selection;
    if (kind === 'sipp' && !request) {
      // A scenario is one call: the filtered call, or the selected message's.
      const f = s.filter;
      if (f.callKey || f.labCall) request = { filter: { ...(f.callKey ? { callKey: f.callKey } : {}), ...(f.labCall ? { labCall: f.labCall } : {}) } };
      else if (s.selected !== null) request = { indexes: [s.selected] };
    }
    const result = await connect().api.exportTrace({ format: kind, ...(request ? { selection: request } : {}), ...(side ? { side } : {}) });
    saveBase64(result.fileName, result.mimeType, result.data);
    s.notify('info', kind === 'sipp' ? `SIPp scenario exported to ${result.fileName}.` : `${result.messages.toLocaleString('en-US')} messages exported to ${result.fileName}.`);
  } catch (error) {
    s.notify('error', `Export failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Draws the SVG on a canvas (through a data: URL, which the page's CSP admits). */
async function svgToPng(svg: string): Promise<Blob> {
  const img = new Image();
  const bytes = new TextEncoder().encode(svg);
  img.src = `data:image/svg+xml;base64,${base64(bytes)}`;
  await img.decode();
  const scale = Math.min(2, 16_000 / Math.max(img.width, img.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(img.width * scale);
  canvas.height = Math.round(img.height * scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas');
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'));
}
