/**
 * One guest on one link: the part passt and pasta share.
 *
 * Theory of operation
 *
 * A session composes the layers for one guest link: one flow table and one
 * address translation (@x/flow) shared by every transport, the UDP engine
 * (@x/udp-core), the TCP translation (@x/tcp-core) and the ICMP echo
 * handler on top of them, the link-layer
 * responders (ARP, NDP, DHCP, DHCPv6), and the dispatcher that parses each
 * guest frame once and hands it to exactly one of them (guest-frames.ts).
 * The session owns the flow table's aging timer. Frames for the guest
 * leave through a GuestSink: the transports' batches, `sendOne` for the
 * responders' rare replies. With --pcap every frame in both directions is
 * also written to the capture.
 */
import { AddressMap, FlowTable, PortForwards, systemClock, type FrameSink, type GatewayConfig, type Logger, type TimerHandle } from "@x/flow";
import { UdpEngine, type UdpCounters, type UdpEngineStats } from "@x/udp-core";
import { TcpEngine, type TcpCounters, type TcpStats, type TcpSocketLayer } from "@x/tcp-core";
import { respondParsed, type LinkConfig } from "./responders/index.js";
import type { NetConfig } from "./net-config.js";
import type { PortSpec } from "@x/flow";
import type { PcapFile } from "./pcap-file.js";
import type { SyscallSockets } from "./socket-layer.js";
import { TcpSyscallSockets } from "./tcp-sockets.js";
import type { Log } from "./log.js";
import { GuestFrames, type DropCounters } from "./guest-frames.js";
import { IcmpEcho, type IcmpCounters } from "./icmp-echo.js";
import { readFileSync } from "node:fs";
import { kernelRandomBytes, kernelRandomU32 } from "./kernel-random.js";
import { IsnGenerator, ISN_SECRET_LEN } from "@x/l2";

export interface GuestSink extends FrameSink {
  /** Sends one frame now (a responder's reply); false when it was dropped. */
  sendOne(frame: Uint8Array): boolean;
  /** Called with every frame sent, for --pcap. */
  onFrame: ((frame: Uint8Array) => void) | undefined;
}

export interface SessionOptions {
  config: NetConfig;
  sockets: SyscallSockets;
  /** Stream sockets for TCP; by default real ones, in `sockets`' namespace for the "ns" side. */
  tcpSockets?: TcpSocketLayer;
  sink: GuestSink;
  log: Log;
  pcap?: PcapFile;
  udpIn: PortSpec;
  udpOut?: PortSpec;
  /** TCP on (default true; --no-tcp). */
  tcp?: boolean;
  tcpIn?: PortSpec;
  tcpOut?: PortSpec;
  /** pasta: relay loopback traffic socket to socket. */
  splice: boolean;
  /** pasta: whether forwarded traffic from the host's loopback is spliced (default true; --no-splice). */
  spliceInbound?: boolean;
  /**
   * pasta --host-lo-to-ns-lo: spliced -t/-u traffic from the host's
   * loopback lands on the namespace's loopback. Without it, on the
   * namespace's own address, from that address, as in the C pasta.
   */
  hostLoToNsLo?: boolean;
  dhcp: boolean;
  ndp: boolean;
  dhcpv6: boolean;
  ra: boolean;
  idleTimeoutMs?: number;
  maxBindings?: number;
  /** ICMP/ICMPv6 echo through ping sockets (default true; --no-icmp turns it off). */
  icmp?: boolean;
  /** The flow table's cap (--max-flows, default 16384). */
  maxFlows?: number;
}

export interface SessionCounters {
  /** Bursts sent as one UDP_SEGMENT (GSO) message. */
  gsoSends: number;
  framesIn: number;
  answered: number;
  /** Taken by a responder without an answer. */
  ignored: number;
  malformed: number;
  /** Frames from the guest no transport or responder took, by reason. */
  dropped: DropCounters;
  udp: UdpCounters;
  tcp: TcpCounters;
  icmp: IcmpCounters;
}

/** Live object counts. */
export interface SessionStats extends UdpEngineStats, TcpStats {
  /** Every flow in the table, and the ICMP echo flows among them. */
  allFlows: number;
  icmpFlows: number;
}

/** The ephemeral port range, which `-u all` leaves alone as passt does. */
function ephemeralRange(): { start: number; end: number } {
  try {
    const [a, b] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (a && b) return { start: a, end: b };
  } catch {
    /* fall through */
  }
  return { start: 32768, end: 60999 };
}

export function forwardsOf(spec: PortSpec | undefined): PortForwards {
  // With `auto`, the ports listed in other -t/-T/-u/-U options are forwarded as usual;
  // the automatic ones are added at run time (auto-forward.ts).
  if (!spec || spec.mode === "none") return PortForwards.none();
  const exclude = [...spec.exclude];
  if (spec.mode === "all") exclude.push(ephemeralRange());
  return PortForwards.from(spec.entries, exclude);
}

export class GuestSession {
  readonly udp: UdpEngine;
  readonly tcp: TcpEngine;
  readonly tcpSockets: TcpSocketLayer;
  readonly icmp: IcmpEcho;
  readonly flows: FlowTable;
  readonly link: LinkConfig;
  private readonly frames: GuestFrames;
  private readonly sink: GuestSink;
  private readonly log: Log;
  private readonly pcap: PcapFile | undefined;
  private readonly guestMac = new Uint8Array(6);
  private macKnown = false;
  private timer: TimerHandle | undefined;
  private readonly reply = (frame: Uint8Array): void => {
    this.sink.sendOne(frame);
  };

  /** The splice settings both transports take (see SessionOptions.hostLoToNsLo). */
  private spliceInto(o: SessionOptions): { spliceInbound: boolean; spliceTarget4?: Uint8Array; spliceTarget6?: Uint8Array } {
    const c = o.config;
    const keepLoopback = o.hostLoToNsLo === true;
    return {
      spliceInbound: o.splice && o.spliceInbound !== false,
      ...(!keepLoopback && c.v4 ? { spliceTarget4: c.v4.address } : {}),
      ...(!keepLoopback && c.v6 ? { spliceTarget6: c.v6.address } : {}),
    };
  }

  constructor(private readonly o: SessionOptions) {
    const c = o.config;
    this.sink = o.sink;
    this.log = o.log;
    this.pcap = o.pcap;
    if (this.pcap) {
      const pcap = this.pcap;
      this.sink.onFrame = (f) => pcap.frame(f);
    }
    const logger: Logger = { debug: (m) => o.log.debug(m), info: (m) => o.log.info(m), warn: (m) => o.log.warn(m) };
    const idleTimeoutMs = o.idleTimeoutMs ?? 180_000;
    this.flows = new FlowTable({ capacity: o.maxFlows ?? 16384, logger, seed: kernelRandomU32() });
    const gateway: GatewayConfig = {
      mapGw: c.mapGw,
      gateway4: c.v4?.gateway,
      gateway6: c.v6?.gateway,
      hostAddress4: c.template.addr4?.address,
      hostAddress6: c.template.addr6?.address,
      guestAddress4: c.v4?.address,
      guestAddress6: c.v6?.address,
      mapHostLoopback4: c.v4?.mapHostLoopback,
      mapHostLoopback6: c.v6?.mapHostLoopback,
      mapGuestAddr4: c.v4?.mapGuestAddr,
      mapGuestAddr6: c.v6?.mapGuestAddr,
      dnsForward4: c.v4?.dnsForward,
      dnsForward6: c.v6?.dnsForward,
      dnsHost4: c.v4?.dnsHost,
      dnsHost6: c.v6?.dnsHost,
    };
    const nat = new AddressMap(gateway, idleTimeoutMs);
    const splice = this.spliceInto(o);
    this.udp = new UdpEngine(
      {
        ourMac: c.ourMac,
        ipv4: c.v4 !== undefined,
        ipv6: c.v6 !== undefined,
        inbound: forwardsOf(o.udpIn),
        outbound: forwardsOf(o.udpOut),
        splice: o.splice,
        ...splice,
        ...gateway,
        hostLinkLocal6: c.template.linkLocal6,
        scopeId6: c.template.ifindex,
        idleTimeoutMs,
        ...(o.maxBindings !== undefined ? { maxBindings: o.maxBindings } : {}),
      },
      { sockets: o.sockets, frames: o.sink, clock: systemClock, logger, flows: this.flows, nat },
    );
    this.tcpSockets = o.tcpSockets ?? new TcpSyscallSockets(o.sockets.nsFd, o.sockets.policy);
    this.tcp = new TcpEngine(
      {
        enabled: o.tcp ?? true,
        ourMac: c.ourMac,
        ipv4: c.v4 !== undefined,
        ipv6: c.v6 !== undefined,
        mtu: c.mtu,
        inbound: forwardsOf(o.tcpIn),
        outbound: forwardsOf(o.tcpOut),
        splice: o.splice,
        ...splice,
        ...(c.template.ifindex !== undefined ? { scopeId6: c.template.ifindex } : {}),
      },
      {
        sockets: this.tcpSockets,
        sink: o.sink,
        clock: systemClock,
        logger,
        flows: this.flows,
        nat,
        isn: new IsnGenerator(kernelRandomBytes(ISN_SECRET_LEN)),
      },
    );
    this.icmp = new IcmpEcho(
      { enabled: o.icmp ?? true, ourMac: c.ourMac, ipv4: c.v4 !== undefined, ipv6: c.v6 !== undefined, scopeId6: c.template.ifindex },
      { sockets: o.sockets, sink: o.sink, clock: systemClock, logger, flows: this.flows, nat },
    );
    const dns = c.advertiseDns !== false;
    this.link = {
      ourMac: c.ourMac,
      // 0 tells none (-m 0): the responders leave the MTU options out.
      mtu: c.advertiseMtu === false ? 0 : c.mtu,
      searchDomains: c.advertiseSearch !== false ? c.search : [],
      dhcp: o.dhcp,
      ndp: o.ndp,
      dhcpv6: o.dhcpv6,
      ra: o.ra,
      ...(c.v4 ? { v4: { address: c.v4.address, prefixLen: c.v4.prefixLen, gateway: c.v4.gateway, dns: dns ? c.v4.dns : [] } } : {}),
      ...(c.v6
        ? { v6: { address: c.v6.address, prefixLen: c.v6.prefixLen, gateway: c.v6.gateway, ourLinkLocal: c.v6.ourLinkLocal, dns: dns ? c.v6.dns : [] } }
        : {}),
    };
    const udp = this.udp;
    const icmp = this.icmp;
    const tcp = this.tcp;
    this.frames = new GuestFrames({
      responders: (slab, at, len, h) => respondParsed(slab, at, len, h, this.link, this.reply),
      udp: (slab, h) => udp.queueParsed(slab, h),
      icmp: (slab, h) => icmp.fromGuest(slab, h),
      tcp: (slab, h) => tcp.fromGuest(slab, h),
      flush: () => {
        udp.flushGuest();
        tcp.flushGuest();
      },
      learnMac: (slab, at) => this.learnMac(slab, at),
    });
  }

  /** Opens forwarded ports and starts aging; returns the ports that could not be bound. */
  start(): { port: number; family: 4 | 6; side: "host" | "ns"; code: string; protocol?: "TCP" }[] {
    const failures = [...this.udp.start(), ...this.tcp.start().map((f) => ({ ...f, protocol: "TCP" as const }))];
    this.icmp.probe();
    this.timer = systemClock.every(1000, () => this.flows.sweep(systemClock.now()));
    return failures;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.udp.stop();
    this.tcp.stop();
    if (this.tcpSockets instanceof TcpSyscallSockets) this.tcpSockets.stop();
    this.icmp.stop();
  }

  /** A batch of frames from the guest. */
  fromGuest(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    if (this.pcap) {
      for (let i = 0; i < count; i++) {
        const off = offsets[i] as number;
        this.pcap.frame(slab.subarray(off, off + (lengths[i] as number)));
      }
    }
    this.frames.fromGuest(slab, offsets, lengths, count);
  }

  /** Counters of the dispatcher (frames in, answered, malformed, dropped by reason). */
  get counters(): GuestFrames["counters"] {
    return this.frames.counters;
  }

  private learnMac(slab: Uint8Array, src: number): void {
    // A multicast source is never a guest's.
    if (((slab[src] as number) & 1) === 1) return;
    let same = this.macKnown;
    for (let k = 0; k < 6 && same; k++) same = this.guestMac[k] === slab[src + k];
    if (same) return;
    for (let k = 0; k < 6; k++) this.guestMac[k] = slab[src + k] as number;
    this.macKnown = true;
    this.udp.setGuestMac(this.guestMac);
    this.tcp.setGuestMac(this.guestMac);
    this.icmp.setGuestMac(this.guestMac);
    (this.link as { guestMac?: Uint8Array }).guestMac = this.guestMac;
    this.log.debug(`guest MAC is ${[...this.guestMac].map((b) => b.toString(16).padStart(2, "0")).join(":")}`);
  }

  allCounters(): SessionCounters {
    const f = this.frames.counters;
    return {
      framesIn: f.framesIn,
      answered: f.answered,
      ignored: f.ignored,
      malformed: f.malformed,
      dropped: f.dropped,
      udp: this.udp.counters,
      tcp: this.tcp.counters,
      icmp: this.icmp.counters,
      gsoSends: this.o.sockets.gsoSends,
    };
  }

  /** Live object counts: UDP's, and the flow table's. */
  stats(): SessionStats {
    return { ...this.udp.stats(), ...this.tcp.stats(), allFlows: this.flows.size, icmpFlows: this.icmp.flowCount };
  }
}
