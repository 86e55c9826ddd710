/**
 * Trunk configuration (`Set-CsTrunkConfiguration`): Lync's defaults and the
 * harness's own knobs.
 *
 * Scopes, as in Lync: the topology's `trunkConfiguration` is the Global
 * scope; a trunk's own `configuration` is a service-scope object that
 * *replaces* the global one (settings it leaves out take the defaults
 * below, not the global values).
 */
import type { SrtpMode, Trunk, TrunkConfiguration } from './topology.ts';

/** Lync Server 2013's defaults (domain doc table), plus the harness knobs. */
export const DEFAULT_TRUNK_CONFIGURATION: Readonly<TrunkConfiguration> = Object.freeze({
  enableReferSupport: true,
  enable3pccRefer: false,
  enableSessionTimer: false,
  enableFastFailoverTimer: true,
  maxEarlyDialogs: 20,
  srtpMode: 'Required',
  concentratedTopology: true,
  enableBypass: false,
  rtcpActiveCalls: true,
  rtcpCallsOnHold: true,
  removePlusFromUri: false,
  outboundTranslationRules: [],
  outboundCallingNumberTranslationRules: [],
  forwardCallHistory: false,
  forwardPai: false,
  sipResponseCodeTranslationRules: [],
  // Harness knobs. (unverified) / (field) values, configurable per trunk.
  optionsIntervalMs: 60_000,
  optionsTimeoutMs: 32_000,
  failuresBeforeDown: 5,
  successesBeforeUp: 1,
  downProbeIntervalMs: 60_000,
  healthyOptionsResponse: '2xx',
  fastFailoverTimeoutMs: 10_000,
  fastFailoverStoppedBy: 'ringing-or-progress',
  sessionExpiresSeconds: 1800,
  sessionRefreshIntervalMs: null,
  rtcpTimeoutMs: 30_000,
} satisfies TrunkConfiguration);

/** A fresh, mutable copy of the defaults. */
export function defaultTrunkConfiguration(): TrunkConfiguration {
  return structuredClone(DEFAULT_TRUNK_CONFIGURATION) as TrunkConfiguration;
}

/**
 * The SRTP mode that applies on the wire: SRTPMode is forced to
 * NotSupported when the trunk does not use TLS (no key exchange over a
 * clear signalling channel).
 */
export function effectiveSrtpMode(trunk: Pick<Trunk, 'transport' | 'configuration'>): SrtpMode {
  return trunk.transport === 'tls' ? trunk.configuration.srtpMode : 'NotSupported';
}

/**
 * Why media bypass cannot be on with these settings, or null. The domain
 * doc: bypass needs ConcentratedTopology and REFER support, or the RTCP
 * checks off.
 */
export function bypassProblem(config: TrunkConfiguration): string | null {
  if (!config.enableBypass) return null;
  if (!config.concentratedTopology) return 'enableBypass needs concentratedTopology true';
  if (!config.enableReferSupport && (config.rtcpActiveCalls || config.rtcpCallsOnHold)) {
    return 'enableBypass needs enableReferSupport true, or rtcpActiveCalls and rtcpCallsOnHold false';
  }
  return null;
}
