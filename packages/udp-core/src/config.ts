/**
 * Theory of operation.
 *
 * What an embedder may set on a UdpEngine, and the checks that turn it into
 * settings the data paths can trust: every number validated once, at
 * construction, with a message naming the field, so that nothing on a
 * per-datagram path ever checks a configuration value again.
 */
import type { AddressMap, Clock, FlowTable, FrameSink, GatewayConfig, Logger, PortForwards, SocketLayer } from '@x/flow';

export interface UdpEngineConfig extends GatewayConfig {
  /** Our MAC address: the source of every frame to the guest. */
  ourMac: Uint8Array;
  /** The guest's MAC; broadcast until the embedder learns it (setGuestMac). */
  guestMac?: Uint8Array;
  /** Families in use (default: both). */
  ipv4?: boolean;
  ipv6?: boolean;
  /** Host ports forwarded to the guest (-u). */
  inbound?: PortForwards;
  /** Namespace ports forwarded to the host's loopback (-U, pasta splice only). */
  outbound?: PortForwards;
  /** pasta: relay loopback traffic on forwarded ports socket to socket. */
  splice?: boolean;
  /** Whether -u traffic from the host's loopback is spliced (default: as `splice`); false (--no-splice) sends it through the tap. */
  spliceInbound?: boolean;
  /** Where spliced datagrams from the host's loopback land in the namespace (see SpliceOptions.nsTarget); absent: its loopback. */
  spliceTarget4?: Uint8Array;
  spliceTarget6?: Uint8Array;
  /** The host's IPv6 link-local address, bound when the guest talks to a link-local peer. */
  hostLinkLocal6?: Uint8Array;
  /** Interface index for link-local IPv6 destinations on the host side. */
  scopeId6?: number;
  /** Idle time before a binding, a flow or a splice flow is dropped (default 180 000 ms). */
  idleTimeoutMs?: number;
  /** How often the aging sweep runs (default 1000 ms). */
  sweepIntervalMs?: number;
  /** Most live guest-port bindings (default 4096). */
  maxBindings?: number;
  /** Most live splice flows (default 4096). */
  maxSpliceFlows?: number;
  /** Most flows in the flow table the engine makes when none is given (default 16384). */
  maxFlows?: number;
  /** Never evict an entry idle for less than this; drop the newcomer instead (default 0). */
  evictMinIdleMs?: number;
  /** Datagrams per recvmmsg for frames (default 32, at least 16). */
  frameBatch?: number;
  /** Datagrams per recvmmsg for splice (default 128, at least 128). */
  spliceBatch?: number;
  /** Largest guest burst `fromGuest` accepts at once (default 1024). */
  guestBatch?: number;
  /** Recv batches per readiness callback before yielding to other sockets (default 8). */
  drainRounds?: number;
  /** Compute the optional UDP checksum over IPv4 (default false: 0, as passt). */
  udpChecksum4?: boolean;
}

export interface UdpEngineDeps {
  sockets: SocketLayer;
  frames: FrameSink;
  clock: Clock;
  logger: Logger;
  /**
   * The flow table shared with the other transports. Its owner sweeps it;
   * without one, the engine makes its own and sweeps it with its bindings.
   */
  flows?: FlowTable;
  /**
   * The address translation shared with the other transports (it learns
   * the guest's addresses from all of them); made from the configuration
   * when absent.
   */
  nat?: AddressMap;
}

/** The validated numbers the data paths use. */
export interface UdpSettings {
  readonly idleMs: number;
  readonly sweepMs: number;
  readonly maxBindings: number;
  readonly maxSpliceFlows: number;
  readonly maxFlows: number;
  readonly evictMinIdleMs: number;
  readonly drainRounds: number;
  readonly frameBatch: number;
  readonly spliceBatch: number;
  readonly guestBatch: number;
  readonly scopeId6: number;
  readonly hostLinkLocal6: Uint8Array | null;
  readonly udpChecksum4: boolean;
}

export function settingsOf(config: UdpEngineConfig): UdpSettings {
  if (config.ourMac.length !== 6) throw new RangeError('ourMac must be 6 bytes');
  return {
    idleMs: positive(config.idleTimeoutMs ?? 180_000, 'idleTimeoutMs'),
    sweepMs: positive(config.sweepIntervalMs ?? 1000, 'sweepIntervalMs'),
    maxBindings: atLeast(config.maxBindings ?? 4096, 1, 'maxBindings'),
    maxSpliceFlows: atLeast(config.maxSpliceFlows ?? 4096, 1, 'maxSpliceFlows'),
    maxFlows: atLeast(config.maxFlows ?? 16384, 1, 'maxFlows'),
    evictMinIdleMs: config.evictMinIdleMs ?? 0,
    drainRounds: atLeast(config.drainRounds ?? 8, 1, 'drainRounds'),
    frameBatch: atLeast(config.frameBatch ?? 32, 16, 'frameBatch'),
    spliceBatch: atLeast(config.spliceBatch ?? 128, 128, 'spliceBatch'),
    guestBatch: atLeast(config.guestBatch ?? 1024, 1, 'guestBatch'),
    scopeId6: config.scopeId6 ?? 0,
    hostLinkLocal6: config.hostLinkLocal6 ?? null,
    udpChecksum4: config.udpChecksum4 ?? false,
  };
}

function positive(v: number, name: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number, got ${v}`);
  return v;
}

function atLeast(v: number, min: number, name: string): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}
