/**
 * Theory of operation.
 *
 * The state the UDP engine's parts share, in one object that each part
 * (forwarding.ts, to-host.ts, to-guest.ts) holds a reference to: the
 * injected services, the families in use, the address translation, the
 * bindings (one host socket per guest source port, bindings.ts), the flow
 * table and the counters. Keeping it in one place is what lets the parts be
 * split by concern without each re-deriving the configuration; nothing in
 * here runs per datagram but `closeBinding` and the flow helpers.
 *
 * UDP flows live in the shared flow table (@x/flow). A flow started by the
 * guest is hashed on both sides:
 *
 *   INITIATOR  TAP   endpoint guest:port        ours destination:port
 *   TARGET     HOST  endpoint real peer:port    ours *:bound port
 *
 * and one started by a host peer (a datagram to a forwarded port, or to a
 * port the guest opened) the other way round. The guest's datagrams find
 * their peer through the TAP side; the peer's find the guest through the
 * HOST side, whose "ours" is the binding's bound port with the address
 * left unspecified (the socket is the wildcard's; the kernel knows the
 * local address). The host side's binding is the socket of the guest
 * port, shared by every flow from that port, and aged on its own.
 */
import {
  AddressMap,
  FAMILIES,
  FlowTable,
  FlowType,
  INITIATOR,

  Pif,
  PortForwards,
  TARGET,
  type AddressFamily,
  type Clock,
  type FrameSink,
  type Logger,
  type SocketLayer,
} from '@x/flow';
import { IpProtocol } from '@x/l2';
import { BindingTable } from './bindings.js';
import type { UdpEngineConfig, UdpEngineDeps, UdpSettings } from './config.js';
import { createCounters, type UdpCounters } from './counters.js';
import { SpliceRelay } from './splice.js';

const ANY16 = new Uint8Array(16);

export class UdpState {
  readonly counters: UdpCounters = createCounters();
  readonly sockets: SocketLayer;
  readonly sink: FrameSink;
  readonly clock: Clock;
  readonly log: Logger;
  readonly families: AddressFamily[];
  readonly enabled = new Uint8Array(2);
  readonly inbound: PortForwards;
  readonly outbound: PortForwards;
  readonly addresses: AddressMap;
  readonly bindings = new BindingTable();
  readonly flows: FlowTable;
  /** Whether the flow table is ours (then our sweep ages it). */
  readonly ownsFlows: boolean;
  readonly splice: SpliceRelay | undefined;
  /** Whether -u traffic from the host's loopback is spliced (UdpEngineConfig.spliceInbound). */
  readonly spliceInbound: boolean;
  readonly hostAddr: readonly [Uint8Array | undefined, Uint8Array | undefined];
  started = false;
  stopped = false;

  constructor(
    config: UdpEngineConfig,
    deps: UdpEngineDeps,
    readonly settings: UdpSettings,
  ) {
    this.sockets = deps.sockets;
    this.sink = deps.frames;
    this.clock = deps.clock;
    this.log = deps.logger;
    const v4 = config.ipv4 ?? true;
    const v6 = config.ipv6 ?? true;
    this.families = FAMILIES.filter((f) => (f.family === 4 ? v4 : v6));
    for (const f of this.families) this.enabled[f.index] = 1;
    this.inbound = config.inbound ?? PortForwards.none();
    this.outbound = config.outbound ?? PortForwards.none();
    if (!config.splice && this.outbound.listeners().length > 0) {
      throw new RangeError('outbound (-U) forwards need splice mode (pasta)');
    }
    this.addresses = deps.nat ?? new AddressMap(config, settings.idleMs);
    this.hostAddr = [config.hostAddress4, config.hostAddress6];
    this.ownsFlows = deps.flows === undefined;
    this.flows =
      deps.flows ??
      new FlowTable({ capacity: settings.maxFlows, evictMinIdleMs: settings.evictMinIdleMs, logger: deps.logger });
    this.flows.register(FlowType.Udp, {
      idleMs: settings.idleMs,
      // A UDP flow owns no socket (its binding is the guest port's): nothing to close.
      release: (_f, reason) => {
        if (reason === 'aged') this.counters.events.flowsAged++;
        else this.counters.events.flowsEvicted++;
      },
    });
    this.spliceInbound = config.splice === true && config.spliceInbound !== false;
    if (config.splice) {
      this.splice = new SpliceRelay(
        {
          maxFlows: settings.maxSpliceFlows,
          batch: settings.spliceBatch,
          idleMs: settings.idleMs,
          evictMinIdleMs: settings.evictMinIdleMs,
          drainRounds: settings.drainRounds,
          nsTarget: [config.spliceTarget4 ?? null, config.spliceTarget6 ?? null],
        },
        { sockets: this.sockets, clock: this.clock, logger: this.log, counters: this.counters, flows: this.flows },
      );
    }
  }

  /** Closes the binding in `slot`, if any. */
  closeBinding(slot: number): void {
    const h = this.bindings.clear(slot);
    if (h === -1) return;
    this.sockets.unwatch(h);
    this.sockets.close(h);
  }

  /** The port the socket of guest port `port` is (or will be) bound to: a forward's listening port, else itself. */
  boundPortOf(fam: AddressFamily, port: number): number {
    const slot = BindingTable.slot(fam, port);
    return this.bindings.permanent[slot] === 1 ? (this.bindings.boundPort[slot] as number) : port;
  }

  /**
   * A flow the guest started: from `src[srcAt..]:srcPort` to
   * `dst[dstAt..]:dstPort`, carried to `peer[peerAt..]:dstPort` from our
   * bound port. -1 when the table refuses it.
   */
  guestFlow(
    fam: AddressFamily,
    src: Uint8Array,
    srcAt: number,
    srcPort: number,
    dst: Uint8Array,
    dstAt: number,
    dstPort: number,
    peer: Uint8Array,
    peerAt: number,
    now: number,
  ): number {
    const f = this.flows.alloc(FlowType.Udp, IpProtocol.Udp, fam.family, now);
    if (f < 0) return -1;
    this.flows.setSide(f, INITIATOR, Pif.Tap, fam, dst, dstAt, dstPort, src, srcAt, srcPort);
    this.flows.setSide(f, TARGET, Pif.Host, fam, null, 0, this.boundPortOf(fam, srcPort), peer, peerAt, dstPort);
    this.flows.hash(f, INITIATOR);
    this.flows.hash(f, TARGET);
    this.counters.events.flowsOpened++;
    return f;
  }

  /**
   * A flow a host peer started: `peer[peerAt..]:peerPort` sent to our bound
   * port, delivered to the guest at `guest[guestAt..]:guestPort` from
   * `seen[seenAt..]:peerPort`. -1 when the table refuses it.
   */
  hostFlow(
    fam: AddressFamily,
    peer: Uint8Array,
    peerAt: number,
    peerPort: number,
    boundPort: number,
    seen: Uint8Array,
    seenAt: number,
    guest: Uint8Array,
    guestAt: number,
    guestPort: number,
    now: number,
  ): number {
    const f = this.flows.alloc(FlowType.Udp, IpProtocol.Udp, fam.family, now);
    if (f < 0) return -1;
    this.flows.setSide(f, INITIATOR, Pif.Host, fam, null, 0, boundPort, peer, peerAt, peerPort);
    this.flows.setSide(f, TARGET, Pif.Tap, fam, seen, seenAt, peerPort, guest, guestAt, guestPort);
    this.flows.hash(f, INITIATOR);
    this.flows.hash(f, TARGET);
    this.counters.events.flowsOpened++;
    return f;
  }

  /** The host-side flow of a datagram from `peer:peerPort` to our `boundPort`, as `2 * flow + side`, or -1. */
  lookupHost(fam: AddressFamily, peer: Uint8Array, peerAt: number, peerPort: number, boundPort: number): number {
    return this.flows.lookup(IpProtocol.Udp, Pif.Host, fam, peer, peerAt, peerPort, ANY16, 0, boundPort);
  }

  /** The guest-side flow of a datagram from the guest, as `2 * flow + side`, or -1. */
  lookupGuest(
    fam: AddressFamily,
    src: Uint8Array,
    srcAt: number,
    srcPort: number,
    dst: Uint8Array,
    dstAt: number,
    dstPort: number,
  ): number {
    return this.flows.lookup(IpProtocol.Udp, Pif.Tap, fam, src, srcAt, srcPort, dst, dstAt, dstPort);
  }
}

