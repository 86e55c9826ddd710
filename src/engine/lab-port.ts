/**
 * What the engine needs of the emulated Lync lab (src/lync/lab.ts): the
 * element and trunk lists, calls and their controls, and the address →
 * element lookup that names the ladder's columns.
 */
import type { CallActionRequest, CallSummary, ElementStatus, TransportName, TrunkStatus } from '../common/api.ts';

export interface LabPort {
  elements(): ElementStatus[];
  trunks(): TrunkStatus[];
  calls(): CallSummary[];
  placeCall(request: { from: string; to: string }): Promise<CallSummary>;
  callAction(callId: string, request: CallActionRequest): Promise<CallSummary | null>;
  elementOf(host: string, port: number, transport: TransportName): string | undefined;
  stop(): Promise<void>;
}
