/**
 * The engine's one typed surface, shared by the CLI, the headless host, the
 * Electron main process and the renderer. Plain data only: everything here
 * crosses IPC and WebSocket bridges as JSON.
 */

export type TransportName = 'udp' | 'tcp' | 'tls';

export type ElementRole = 'front-end' | 'mediation' | 'gateway' | 'ip-pbx' | 'sbc' | 'lync-user';

export type Health = 'up' | 'down' | 'probing' | 'unknown';

export interface ElementStatus {
  /** Short id (`med-1`). */
  id: string;
  /** Display name (`Mediation-1`). */
  name: string;
  role: ElementRole;
  /** `tcp:127.0.0.20:5068` style listening points. */
  listen: string[];
  /** For peers: emulated, or the external device's address. */
  external?: string;
  /** For lync-user. */
  uri?: string;
  lineUri?: string;
  /** For peers: the emulated PSTN numbers. */
  numbers?: string[];
  /** Mediation Servers: the pool they belong to (the ladder groups its members). */
  pool?: string;
  /** Mediation pools: their display name. */
  poolName?: string;
  /** For peers, as seen by each Mediation Server trunk: trunk name → health. */
  health?: Record<string, Health>;
}

export interface TrunkStatus {
  name: string;
  mediation: string;
  peer: string;
  transport: TransportName;
  health: Health;
}

export type CallState = 'dialing' | 'proceeding' | 'ringing' | 'early-media' | 'connected' | 'held' | 'ended' | 'failed';

export interface CallSummary {
  id: string;
  from: string;
  to: string;
  state: CallState;
  /** µs since epoch. */
  startedUs: number;
  answeredUs?: number;
  endedUs?: number;
  /** Post-dial delay: INVITE to first 18x, ms. */
  pddMs?: number;
  /** Final status of the originating leg and why it ended. */
  status?: number;
  reason?: string;
  /** Trunks tried in order (failover). */
  trunks?: string[];
  legs: string[];
  /**
   * The caller's identity is withheld (RFC 3323 `Privacy: id` or an anonymous From): a call placed as
   * `anonymous…`, a calling number or user whose behaviour restricts presentation, or a call whose
   * INVITE from the peer asked for privacy. Show the caller as Anonymous.
   */
  presentation?: 'restricted';
  /** The Lync user on the call (the caller first when both parties are users): the one who holds and transfers. */
  lyncUser?: string;
  /** A PSTN party (a peer behind a Mediation Server) is on the call. */
  pstn?: boolean;
  /** While `held`: which side put the call on hold (the Lync party's re-INVITE, or the PSTN party's). */
  heldBy?: 'lync' | 'pstn';
  /** RFC 4733 digits that reached the call's endpoints on the wire, per element (in arrival order). */
  dtmfReceived?: Array<{ element: string; digits: string }>;
}

/** One message on the wire, as the trace store summarizes it. */
export interface MessageSummary {
  /** Position in the trace (0-based, dense). */
  index: number;
  timeUs: number;
  transport: TransportName;
  /** Sending and receiving element ids, or `host:port` for addresses outside the topology. */
  from: string;
  to: string;
  src: string;
  dst: string;
  kind: 'request' | 'response' | 'invalid';
  /** Method for requests; CSeq method for responses. */
  method: string;
  status?: number;
  reason?: string;
  callId: string;
  cseq: string;
  /** Call and leg the store put it in, if any. */
  callKey?: string;
  legKey?: string;
  retransmission: boolean;
  /** For a retransmission: the index of the first copy. */
  retransmissionOf?: number;
  /** Receive time at the other end when both ends are emulated (the message was recorded once, with both times). */
  recvTimeUs?: number;
  /** True when an SDP body is present. */
  sdp: boolean;
  size: number;
  errors: number;
  warnings: number;
  /** Findings of the trace linter across the message's dialog (transactions, CSeq, offer/answer, trunk rules), once it has run. */
  lintErrors?: number;
  lintWarnings?: number;
}

export type EngineEvent =
  | { type: 'message'; message: MessageSummary }
  | { type: 'call'; call: CallSummary }
  | { type: 'health'; trunk: string; peer: string; mediation: string; health: Health; reason: string; timeUs: number }
  | { type: 'element'; element: ElementStatus }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; text: string; timeUs: number };

// ---------------------------------------------------------------------------
// The EngineApi: commands and the event stream, one surface for the CLI, the
// headless host (WebSocket), the Electron main process (IPC) and the renderer.

export interface TopologyInfo {
  /** The topology file it was loaded from, or a name. */
  source: string;
  description?: string;
  sipDomain?: string;
}

/** What went into the trace: the live lab and each imported file. */
export interface TraceSourceInfo {
  id: string;
  /** `suite`: the messages of one qualification case (name = the case id). */
  kind: 'live' | 'capture' | 'lync-log' | 'trace' | 'suite';
  name: string;
  messages: number;
  /** Problem that stopped an import early (the messages before it are kept). */
  error?: string;
}

export interface EngineSnapshot {
  /** Application version (package.json). */
  version: string;
  /** Null when no lab runs (viewing files only). */
  topology: TopologyInfo | null;
  elements: ElementStatus[];
  trunks: TrunkStatus[];
  calls: CallSummary[];
  /** Messages in the trace; their indexes are 0 … messageCount-1. */
  messageCount: number;
  /** Changes when the trace is cleared: summaries of another generation are stale. */
  generation: number;
  sources: TraceSourceInfo[];
  /** Export formats the engine can write. */
  exportFormats: ExportFormat[];
  /** Messages of the trace already grouped into calls and checked (≤ messageCount while a large file is indexed). */
  indexedCount: number;
}

/**
 * What the ladder shows: the messages passing a filter. The engine keeps the
 * matching indexes (a view) and updates them as messages arrive; the
 * renderer fetches only the rows it draws.
 */
export interface TraceFilter {
  /** A call of the trace store (`c12`): all its legs. */
  callKey?: string;
  /** One leg of the trace store (`l34`). */
  legKey?: string;
  /** A call of the lab (its id): the legs the Mediation Server joined, and whatever the store grouped with them. */
  labCall?: string;
  callId?: string;
  /** Element id: messages it sends or receives. */
  element?: string;
  /** Request method (responses match by their CSeq method). */
  method?: string;
  /** Case-insensitive search in the label, Call-ID, CSeq, addresses and element names. */
  text?: string;
  /** Hide OPTIONS keep-alives. */
  hideOptions?: boolean;
  /** A source of the trace (TraceSourceInfo id): an imported file's or a suite case's messages; `live`: the lab's own. */
  source?: string;
}

export interface ViewInfo {
  id: number;
  /** Messages in the view so far. */
  count: number;
  /** Messages of the trace the view has looked at (it is complete when this equals the trace's indexedCount). */
  scanned: number;
  /** True when every message of the trace has been looked at. */
  complete: boolean;
  /** Element ids the view's messages use, in order of first appearance (the ladder's columns). */
  used: string[];
  generation: number;
}

export interface ViewRows {
  view: ViewInfo;
  /** Position of the first row in the view. */
  from: number;
  rows: MessageSummary[];
}

/** One leg of a call, as the trace store grouped it. */
export interface TraceLegInfo {
  key: string;
  callId: string;
  /** First message's sender and receiver (element id or address). */
  from: string;
  to: string;
  method: string;
  /** Final status of the leg's INVITE (0: none seen). */
  finalStatus: number;
  messages: number;
  startUs: number;
  endUs: number;
}

/** A call of the trace: legs joined by the B2BUA (confidence 1) or by the evidence in the messages. */
export interface TraceCallInfo {
  key: string;
  legs: TraceLegInfo[];
  /** How sure the grouping is (0-1; 1 when the B2BUA said so or there is one leg). */
  confidence: number;
  /** How the legs were joined (`b2bua`, `heuristic`, …) with the evidence. */
  links: { a: string; b: string; source: string; confidence: number; evidence: string[] }[];
  messages: number;
  startUs: number;
  endUs: number;
}

export interface PlaceCallRequest {
  /** A Lync user id (`alice`), a SIP URI, or a PSTN number on a peer. */
  from: string;
  /** A number as dialed (`2160`, `+14255550140`) or a user. */
  to: string;
}

/**
 * `hold`/`resume`: the Lync party of the call (the PSTN side when the call has no Lync party the lab
 * plays); `peer-hold`/`peer-resume`: the PSTN side (the emulated peer re-INVITEs with a=sendonly, or
 * `direction`, and a=sendrecv); `refresh`: a session refresh now (RFC 4028): the Mediation Server
 * re-INVITEs its gateway leg as its periodic refresh does; `peer-refresh`: the emulated peer
 * re-INVITEs with its SDP unchanged (the Mediation Server answers it itself).
 */
export type CallActionName = 'answer' | 'hold' | 'resume' | 'transfer' | 'dtmf' | 'hangup' | 'peer-hold' | 'peer-resume' | 'refresh' | 'peer-refresh';
export const CALL_ACTIONS: readonly CallActionName[] = ['answer', 'hold', 'resume', 'transfer', 'dtmf', 'hangup', 'peer-hold', 'peer-resume', 'refresh', 'peer-refresh'];

export interface CallActionRequest {
  action: CallActionName;
  /** transfer: where to (blind); optional with `replaces`. */
  target?: string;
  /** transfer: attended, with Replaces (RFC 3891): the lab call id of the consultation call to replace. */
  replaces?: string;
  /** dtmf: the digits (0-9, *, #, A-D). */
  digits?: string;
  /** peer-hold: the hold direction the PSTN side offers (default sendonly). */
  direction?: 'sendonly' | 'inactive';
}

/** A conformance finding, as the inspector and the ladder badges show it. */
export interface DiagnosticInfo {
  code: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  rule: string;
  offset?: number;
}

export interface HeaderRow {
  /** As sent (`CONTACT`, `v`). */
  name: string;
  /** Canonical spelling (`Contact`, `Via`). */
  canonical: string;
  value: string;
}

/** One line of an SDP body, grouped by section. */
export interface SdpRow {
  /** `session` or the m= line's media and port (`audio 50000`). */
  section: string;
  /** The one-letter type (`v`, `o`, `c`, `m`, `a`, …). */
  type: string;
  value: string;
  /** What the line means, where known (`attribute rtpmap`). */
  meaning?: string;
}

export interface MessageDetail {
  summary: MessageSummary;
  /** The exact bytes, latin1-decoded (one character per byte). */
  raw: string;
  startLine: string;
  headers: HeaderRow[];
  /** Body as text (UTF-8). */
  body: string;
  contentType?: string;
  sdp?: SdpRow[];
  diagnostics: DiagnosticInfo[];
  /** Why the bytes did not parse as SIP. */
  parseError?: string;
  /** Display names of the sending and receiving elements. */
  fromName: string;
  toName: string;
}

export type ExportFormat = 'pcap' | 'pcapng' | 'cls' | 'json' | 'sipp';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['pcap', 'pcapng', 'cls', 'json', 'sipp'];

/** Which messages to export; all of them when empty. */
export interface Selection {
  /** Message indexes. */
  indexes?: number[];
  /** Messages of one call (its callKey) … */
  callKey?: string;
  /** … or the messages a ladder filter shows. */
  filter?: TraceFilter;
}

export interface ExportRequest {
  format: ExportFormat;
  selection?: Selection;
  /** SIPp scenario: the side SIPp plays (an element id, `host:port`, `caller` or `callee`); Lync log: whose log it is. */
  side?: string;
}

export interface ExportResult {
  fileName: string;
  mimeType: string;
  /** The file's bytes, base64. */
  data: string;
  messages: number;
}

export interface ImportResult {
  source: TraceSourceInfo;
  /** Messages added by this import. */
  added: number;
}

/** A file the UI uploads to the engine in chunks (browser mode). */
export interface UploadStart {
  name: string;
  size: number;
}

/** The trace changed (new messages, indexing progress, linter results): refetch what is shown. */
export interface TraceTick {
  type: 'trace';
  generation: number;
  messageCount: number;
  indexedCount: number;
  /** Bumps when summaries already fetched changed (call grouping, linter badges). */
  revision: number;
  /** Views with their new counts. */
  views: ViewInfo[];
}

// ---------------------------------------------------------------------------
// Qualification (src/qualify): the built-in cases run on fresh labs, their
// verdicts pointing at messages of the trace, and the flow diff.

/** A built-in qualification case. */
export interface QualifyCaseInfo {
  id: string;
  title: string;
  /** `basic-outbound`, `hold-resume`, … (the JUnit classname). */
  area: string;
  description?: string;
  steps: number;
}

export interface QualifyRunRequest {
  /** Comma-separated globs or substrings of case ids (`hold-*,basic-outbound-*`), as `trunklab suite --cases`. */
  cases?: string;
  /** Case ids (with `cases`: the cases matching either). */
  ids?: string[];
  /** External devices, `PEER=HOST:PORT[/udp|tcp|tls]`, as `trunklab suite --external`. */
  external?: string[];
  /** Multiplies every emulated delay (0 < f ≤ 10; default 1). */
  timeScale?: number;
  /** SIP timer T1 in ms (default 500). */
  t1Ms?: number;
}

export type QualifyVerdict = 'pass' | 'fail' | 'skip' | 'error';
export type QualifyStepVerdict = 'pass' | 'fail' | 'skip' | 'not-run';

export interface QualifyStep {
  /** 0-based position in the case's script. */
  index: number;
  action: string;
  description: string;
  verdict: QualifyStepVerdict;
  expected?: string;
  observed?: string;
  /** The message the verdict is about: its index in the trace (what the ladder opens), while the run's messages are in the trace. */
  messageIndex?: number;
  /** The same message's index in the case's own trace (`#N` in the reason, JUnit and the HTML report; frame N+1 of its pcap). */
  caseMessage?: number;
  /** `INVITE med-1 → gw-b`: the message in words. */
  messageLabel?: string;
  /** ms since the case started. */
  atMs: number;
}

export interface QualifyCaseResult {
  id: string;
  title: string;
  area: string;
  verdict: QualifyVerdict;
  /** The failed step, what was expected and observed, in one line. */
  reason?: string;
  durationMs: number;
  steps: QualifyStep[];
  /** The trace source holding the case's messages (filter the ladder with it), when it exchanged any. */
  source?: string;
  /** Trace index of the case's first message, and how many it has. */
  firstMessage?: number;
  messages: number;
}

export interface QualifyRunInfo {
  run: number;
  /** The cases chosen, in the order they run. */
  cases: QualifyCaseInfo[];
  external: string[];
  timeScale: number;
  startedAt: string;
  /** The topology the cases run on (a fresh lab each, on free ports). */
  topology: string;
}

export interface QualifyTotals {
  passed: number;
  failed: number;
  skipped: number;
  durationMs: number;
  /** Stopped before every case ran. */
  stopped: boolean;
  /** What stopped the run, when it could not go on. */
  error?: string;
}

/** The current (or last) run, for a page that (re)connects while it runs. */
export interface QualifyState extends QualifyRunInfo {
  running: boolean;
  /** The case running now. */
  current?: string;
  results: QualifyCaseResult[];
  totals?: QualifyTotals;
  /** The trace generation the results' message indexes belong to (a cleared trace drops them). */
  generation: number;
}

export type QualifyReportFormat = 'junit' | 'html';

/** One side of a flow diff: a call of the trace (`c12`, `l3`, `#123` or a lab call id) or a source of the trace. */
export interface FlowRef {
  callKey?: string;
  source?: string;
}

export interface FlowDiffRequest {
  a: FlowRef;
  b: FlowRef;
  /** Include REGISTER and OPTIONS (left out by default, as `trunklab diff`). */
  all?: boolean;
}

export interface FlowDiffMessage {
  /** Index in the trace. */
  index: number;
  /** `INVITE`, `200 OK (INVITE)`. */
  label: string;
  /** Sender and receiver (element id or address). */
  from: string;
  to: string;
  /** `med-1 → P1`: the endpoints the alignment compares (addresses outside the topology numbered by first appearance). */
  direction: string;
  timeUs: number;
  sdp: boolean;
}

export interface FlowDiffLine {
  /** same: aligned (differences may be listed); missing: only in A; extra: only in B. */
  kind: 'same' | 'missing' | 'extra';
  /** A missing message that is extra elsewhere (or the other way round): it only moved. */
  reordered: boolean;
  a?: FlowDiffMessage;
  b?: FlowDiffMessage;
  /** Header and SDP differences of an aligned pair. */
  differences: string[];
}

export interface FlowDiffSide {
  /** In words: `call c12: alice → fe, 14 messages`, `suite case busy-outbound-486`. */
  label: string;
  messages: number;
}

export interface FlowDiffResult {
  a: FlowDiffSide;
  b: FlowDiffSide;
  lines: FlowDiffLine[];
  same: number;
  differing: number;
  missing: number;
  extra: number;
  reordered: number;
  /** The trace generation the indexes belong to. */
  generation: number;
}

export type QualifyEvent =
  | { type: 'qualify-start'; run: QualifyRunInfo }
  | { type: 'qualify-case-start'; run: number; id: string; position: number; total: number }
  | { type: 'qualify-case'; run: number; result: QualifyCaseResult; position: number; total: number }
  | { type: 'qualify-done'; run: number; totals: QualifyTotals };

export type BridgeEvent =
  | EngineEvent
  | QualifyEvent
  | TraceTick
  | { type: 'trace-cleared'; generation: number }
  | { type: 'source'; source: TraceSourceInfo }
  | { type: 'import-progress'; id: string; name: string; bytes: number; totalBytes: number; done: boolean }
  | { type: 'trunk'; trunk: TrunkStatus }
  /** A lab was attached (or replaced): read the snapshot again. */
  | { type: 'lab'; topology: TopologyInfo | null }
  | { type: 'open-request'; what: 'capture' | 'export' | 'view'; detail?: string };

/**
 * The commands. Every implementation (Engine, the WebSocket client, the
 * Electron preload) speaks exactly this, with JSON-safe arguments.
 */
export interface EngineApi {
  status(): Promise<EngineSnapshot>;
  /** Summaries of messages `from` (inclusive) to `to` (exclusive). */
  messages(from: number, to: number): Promise<MessageSummary[]>;
  messageDetail(index: number): Promise<MessageDetail>;
  /** A view of the messages passing `filter` (replacing view `replaces`, if given). */
  openView(filter: TraceFilter, replaces?: number): Promise<ViewInfo>;
  /** Rows `from` (inclusive) to `to` (exclusive) of a view. */
  viewRows(view: number, from: number, to: number): Promise<ViewRows>;
  /** Position in a view of message `index`, or of the first message after it (-1: none). */
  viewLocate(view: number, index: number): Promise<number>;
  closeView(view: number): Promise<void>;
  /** Calls of the trace (INVITE dialogs and the legs grouped with them), by position in start order. */
  traceCalls(from: number, to: number): Promise<{ total: number; calls: TraceCallInfo[] }>;
  /** One call of the trace by its key (`c12`), by a leg (`l34`), by a message (`#123`) or by a lab call id. */
  traceCall(key: string): Promise<TraceCallInfo | null>;
  calls(): Promise<CallSummary[]>;
  placeCall(request: PlaceCallRequest): Promise<CallSummary>;
  callAction(callId: string, request: CallActionRequest): Promise<CallSummary | null>;
  /** Uploads: start, base64 chunks in order, finish (which imports). */
  uploadStart(request: UploadStart): Promise<string>;
  uploadChunk(uploadId: string, data: string): Promise<number>;
  uploadFinish(uploadId: string): Promise<ImportResult>;
  exportTrace(request: ExportRequest): Promise<ExportResult>;
  clear(): Promise<void>;
  /** The built-in qualification cases. */
  qualifyCases(): Promise<QualifyCaseInfo[]>;
  /**
   * Starts a qualification run (one at a time) on fresh labs, never on the
   * live lab's sockets; progress arrives as `qualify-*` events, each case's
   * messages as a trace source of kind `suite`.
   */
  qualifyRun(request: QualifyRunRequest): Promise<QualifyRunInfo>;
  /** Stops the run after the case that is running. */
  qualifyStop(): Promise<void>;
  /** The current or last run (null before the first). */
  qualifyState(): Promise<QualifyState | null>;
  /** The last run's JUnit XML or self-contained HTML report. */
  qualifyReport(format: QualifyReportFormat): Promise<ExportResult>;
  /** Two flows of the trace message by message (as `trunklab diff`), with trace indexes on each side. */
  flowDiff(request: FlowDiffRequest): Promise<FlowDiffResult>;
  /** Events arrive in batches (at most one batch per ~50 ms). */
  subscribe(listener: (events: BridgeEvent[]) => void): () => void;
}
