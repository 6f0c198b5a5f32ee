/**
 * One guest on one link: the part passt and pasta share.
 *
 * Theory of operation
 *
 * Frames arrive from the guest in batches (a tap read by pasta, qemu's
 * stream decoded by passt). Each frame is looked at once:
 *   - its source MAC teaches us the guest's MAC, which every frame we send
 *     back is addressed to;
 *   - ARP, NDP, DHCP and DHCPv6 are answered here by the responders, so the
 *     guest's kernel or DHCP client configures itself and resolves the
 *     gateway to our MAC;
 *   - everything else goes to @x/udp-core in one batch, which sends UDP out
 *     through host sockets and counts the rest as not for us.
 * Frames for the guest leave through a GuestSink: udp-core's batches for
 * datagrams, `sendOne` for the responders' rare replies. With --pcap every
 * frame in both directions is also written to the capture.
 */
import { PortForwards, UdpEngine, systemClock, type FrameSink, type Logger, type UdpCounters } from "@x/udp-core";
import { ETHERNET_HEADER_LEN } from "@x/l2";
import { respond, type LinkConfig } from "./responders/index.js";
import type { NetConfig } from "./net-config.js";
import type { PortSpec } from "./ports-spec.js";
import type { PcapFile } from "./pcap-file.js";
import type { SyscallSockets } from "./socket-layer.js";
import type { Log } from "./log.js";
import { readFileSync } from "node:fs";

export interface GuestSink extends FrameSink {
  /** Sends one frame now (a responder's reply); false when it was dropped. */
  sendOne(frame: Uint8Array): boolean;
  /** Called with every frame sent, for --pcap. */
  onFrame: ((frame: Uint8Array) => void) | undefined;
}

export interface SessionOptions {
  config: NetConfig;
  sockets: SyscallSockets;
  sink: GuestSink;
  log: Log;
  pcap?: PcapFile;
  udpIn: PortSpec;
  udpOut?: PortSpec;
  /** pasta: relay loopback traffic socket to socket. */
  splice: boolean;
  dhcp: boolean;
  ndp: boolean;
  dhcpv6: boolean;
  ra: boolean;
  idleTimeoutMs?: number;
  maxBindings?: number;
}

export interface SessionCounters {
  /** Bursts sent as one UDP_SEGMENT (GSO) message. */
  gsoSends: number;
  framesIn: number;
  answered: number;
  malformed: number;
  udp: UdpCounters;
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
  // With `auto`, the ports listed in other -u/-U options are forwarded as usual;
  // the automatic ones are added at run time (auto-forward.ts).
  if (!spec || spec.mode === "none") return PortForwards.none();
  const exclude = [...spec.exclude];
  if (spec.mode === "all") exclude.push(ephemeralRange());
  return PortForwards.from(spec.entries, exclude);
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;
const PROTO_TCP = 6;
const DHCP_SERVER_PORT = 67;
const DHCPV6_SERVER_PORT = 547;

/**
 * Whether a frame may be for the responders: anything but plain IPv4/IPv6
 * (ARP, VLAN tags...), ICMPv6 (NDP), and UDP to the DHCP server ports. Read
 * from the raw bytes, so that ordinary datagrams reach udp-core without a
 * view object per frame; whatever looks odd here goes to the responders,
 * which validate it properly.
 */
function forResponders(b: Uint8Array, off: number, len: number): boolean {
  const type = ((b[off + 12] as number) << 8) | (b[off + 13] as number);
  if (type === ETHERTYPE_IPV4) {
    if (len < 14 + 20) return true;
    const ihl = ((b[off + 14] as number) & 0x0f) * 4;
    if ((b[off + 23] as number) !== PROTO_UDP) return false;
    const at = off + 14 + ihl + 2;
    if (ihl < 20 || at + 2 > off + len) return true;
    return (((b[at] as number) << 8) | (b[at + 1] as number)) === DHCP_SERVER_PORT;
  }
  if (type === ETHERTYPE_IPV6) {
    if (len < 14 + 40 + 8) return true;
    const next = b[off + 20] as number;
    if (next === PROTO_ICMPV6) return true;
    if (next !== PROTO_UDP) return next !== PROTO_TCP; // extension headers: let the responders look
    return (((b[off + 56] as number) << 8) | (b[off + 57] as number)) === DHCPV6_SERVER_PORT;
  }
  return true;
}

const ETHERTYPE_ARP = 0x0806;

/**
 * Whether a frame's headers hang together well enough to believe its source
 * MAC is the guest's: a consistent IPv4 header (version, length, checksum),
 * an IPv6 header whose payload fits, or an Ethernet/IPv4 ARP packet whose
 * sender is the frame's source. Garbage written into the link must not
 * redirect every frame we send to whatever MAC it carried.
 */
function plausible(b: Uint8Array, off: number, len: number): boolean {
  const type = ((b[off + 12] as number) << 8) | (b[off + 13] as number);
  const ip = off + 14;
  if (type === ETHERTYPE_IPV4) {
    if (len < 34 || (b[ip] as number) >> 4 !== 4) return false;
    const ihl = ((b[ip] as number) & 0x0f) * 4;
    const total = ((b[ip + 2] as number) << 8) | (b[ip + 3] as number);
    if (ihl < 20 || total < ihl || total > len - 14) return false;
    let sum = 0;
    for (let k = 0; k < ihl; k += 2) sum += ((b[ip + k] as number) << 8) | (b[ip + k + 1] as number);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    return sum === 0xffff;
  }
  if (type === ETHERTYPE_IPV6) {
    if (len < 54 || (b[ip] as number) >> 4 !== 6) return false;
    return 40 + (((b[ip + 4] as number) << 8) | (b[ip + 5] as number)) <= len - 14;
  }
  if (type === ETHERTYPE_ARP) {
    if (len < 42 || b[ip + 4] !== 6 || b[ip + 5] !== 4) return false;
    for (let k = 0; k < 6; k++) if (b[ip + 8 + k] !== b[off + 6 + k]) return false;
    return true;
  }
  return false;
}

export class GuestSession {
  readonly udp: UdpEngine;
  readonly link: LinkConfig;
  private readonly sink: GuestSink;
  private readonly log: Log;
  private readonly pcap: PcapFile | undefined;
  private readonly forUdpOffsets: Uint32Array;
  private readonly forUdpLengths: Uint32Array;
  private readonly guestMac = new Uint8Array(6);
  private macKnown = false;
  private readonly reply = (frame: Uint8Array): void => {
    if (this.sink.sendOne(frame)) this.counters.answered++;
  };
  readonly counters: Omit<SessionCounters, "udp" | "gsoSends"> = { framesIn: 0, answered: 0, malformed: 0 };

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
    this.udp = new UdpEngine(
      {
        ourMac: c.ourMac,
        ipv4: c.v4 !== undefined,
        ipv6: c.v6 !== undefined,
        inbound: forwardsOf(o.udpIn),
        outbound: forwardsOf(o.udpOut),
        splice: o.splice,
        mapGw: c.mapGw,
        gateway4: c.v4?.gateway,
        gateway6: c.v6?.gateway,
        hostAddress4: c.template.addr4?.address,
        hostAddress6: c.template.addr6?.address,
        guestAddress4: c.v4?.address,
        guestAddress6: c.v6?.address,
        hostLinkLocal6: c.template.linkLocal6,
        scopeId6: c.template.ifindex,
        ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
        ...(o.maxBindings !== undefined ? { maxBindings: o.maxBindings } : {}),
      },
      { sockets: o.sockets, frames: o.sink, clock: systemClock, logger },
    );
    const dns = c.advertiseDns !== false;
    this.link = {
      ourMac: c.ourMac,
      mtu: c.mtu,
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
    this.forUdpOffsets = new Uint32Array(1024);
    this.forUdpLengths = new Uint32Array(1024);
  }

  /** Opens forwarded ports; returns the ports that could not be bound. */
  start(): { port: number; family: 4 | 6; side: "host" | "ns"; code: string }[] {
    return this.udp.start();
  }

  stop(): void {
    this.udp.stop();
  }

  /** A batch of frames from the guest. */
  fromGuest(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    let n = 0;
    for (let i = 0; i < count; i++) {
      const off = offsets[i] as number;
      const len = lengths[i] as number;
      this.counters.framesIn++;
      if (len < ETHERNET_HEADER_LEN) {
        this.counters.malformed++;
        continue;
      }
      if (this.pcap) this.pcap.frame(slab.subarray(off, off + len));
      if (plausible(slab, off, len)) this.learnMac(slab, off);
      if (forResponders(slab, off, len)) {
        const handled = respond(slab.subarray(off, off + len), this.link, this.reply);
        if (handled === "answered" || handled === "consumed") continue;
        if (handled === "malformed") {
          this.counters.malformed++;
          continue;
        }
      }
      if (n === this.forUdpOffsets.length) {
        this.udp.fromGuestFrames(slab, this.forUdpOffsets, this.forUdpLengths, n);
        n = 0;
      }
      this.forUdpOffsets[n] = off;
      this.forUdpLengths[n] = len;
      n++;
    }
    if (n > 0) this.udp.fromGuestFrames(slab, this.forUdpOffsets, this.forUdpLengths, n);
  }

  private learnMac(slab: Uint8Array, off: number): void {
    // The source MAC is bytes 6..12; a multicast source is never a guest's.
    const src = off + 6;
    if (((slab[src] as number) & 1) === 1) return;
    let same = this.macKnown;
    for (let k = 0; k < 6 && same; k++) same = this.guestMac[k] === slab[src + k];
    if (same) return;
    for (let k = 0; k < 6; k++) this.guestMac[k] = slab[src + k] as number;
    this.macKnown = true;
    this.udp.setGuestMac(this.guestMac);
    (this.link as { guestMac?: Uint8Array }).guestMac = this.guestMac;
    this.log.debug(`guest MAC is ${[...this.guestMac].map((b) => b.toString(16).padStart(2, "0")).join(":")}`);
  }

  allCounters(): SessionCounters {
    return { ...this.counters, udp: this.udp.counters, gsoSends: this.o.sockets.gsoSends };
  }
}
