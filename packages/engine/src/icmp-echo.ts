/**
 * ICMP and ICMPv6 echo: the guest's pings, carried by unprivileged ping
 * sockets on the host.
 *
 * Theory of operation
 *
 * A ping socket (SOCK_DGRAM with IPPROTO_ICMP or IPPROTO_ICMPV6) lets an
 * ordinary user send echo requests: the kernel takes the 8-byte echo
 * header and the data, puts in its own identifier (the socket's "port")
 * and checksum, and hands back only the replies to that identifier. So a
 * guest's echo request becomes one datagram on such a socket, and each
 * reply one frame back, with the guest's identifier put back and the
 * checksum redone. Which host is pinged follows the shared NAT rules
 * (@x/flow's AddressMap): the gateway address reaches the host's loopback
 * unless --no-map-gw, as for UDP.
 *
 * Each (guest address, destination, guest identifier) is one flow of type
 * ICMP in the shared flow table, with its own socket (bound to identifier
 * 0, so the kernel picks a free one: binding the guest's own would not
 * keep two guests' pings apart, the kernel lets two sockets share an
 * identifier and gives the replies to the last). The guest side is hashed
 * for the next request; the host side needs no lookup, because the
 * socket's readiness callback already names its flow. Flows age out after
 * 60 s without a request or reply, like the C implementation's, and at the
 * table's cap the least recently used flow of any kind is evicted: a
 * thousand identifiers in a burst cost at most the cap in descriptors.
 *
 * What is not an echo request (a reply, a timestamp request, an error),
 * and what is malformed (shorter than the echo header, bad checksum) is
 * counted and never forwarded. Where the host refuses ping sockets
 * (net.ipv4.ping_group_range does not include our group), one line says
 * so, and requests are counted as `noSocket`.
 *
 * Nothing per packet allocates: the receive slab, the send descriptor and
 * the per-flow state are typed arrays sized once.
 */
import {
  ADDR_STRIDE,
  createRecvBatch,
  createSendBatch,
  errorCode,
  FlowType,
  INITIATOR,
  L4_AT,
  Pif,
  TARGET,
  writeIpFrame,
  DestKind,
  IPV4,
  IPV6,
  type AddressFamily,
  type AddressMap,
  type Clock,
  type FlowTable,
  type FrameSink,
  type LinkFields,
  type Logger,
  type RecvBatch,
  type SendBatch,
  type SocketLayer,
} from "@x/flow";
import {
  IcmpHdr,
  IpProtocol,
  icmpEchoChecksumValid,
  icmpEchoCode,
  icmpEchoId,
  icmpEchoType,
  setIcmpEchoChecksum,
  setIcmpEchoId,
  Ip6Hdr,
  type FrameHeaders as Parsed,
} from "@x/l2";

const ECHO_REQUEST = [8, 128] as const;
const ECHO_REPLY = [0, 129] as const;
/** Largest echo message a reply slot holds (an IPv6 jumbo is not for a link). */
const SLOT = 65536;
const RECV_BATCH = 16;

export interface IcmpCounters {
  /** Echo requests sent on for the guest, and replies delivered to it. */
  requests: number;
  replies: number;
  /** Shorter than the echo header, or a bad checksum. */
  malformed: number;
  /** ICMP from the guest that is not an echo request (replies, errors, timestamp requests...). */
  notEcho: number;
  /** To a loopback or unspecified destination: never forwarded. */
  refused: number;
  /** No ping socket could be opened (ping_group_range, descriptors). */
  noSocket: number;
  /** The flow table is full and nothing may be evicted. */
  capReached: number;
  /** The socket or the frame sink refused. */
  sendError: number;
  /** Echo off (--no-icmp): requests dropped. */
  disabled: number;
  flowsOpened: number;
  flowsAged: number;
  flowsEvicted: number;
}

export interface IcmpOptions {
  enabled: boolean;
  ourMac: Uint8Array;
  /** Families in use. */
  ipv4: boolean;
  ipv6: boolean;
  /** Idle time before an echo flow is closed (default 60 000 ms). */
  idleMs?: number;
  /** Interface index for link-local IPv6 destinations on the host side. */
  scopeId6?: number;
}

export interface IcmpDeps {
  sockets: SocketLayer;
  sink: FrameSink;
  clock: Clock;
  logger: Logger;
  flows: FlowTable;
  nat: AddressMap;
}

export class IcmpEcho {
  readonly counters: IcmpCounters = {
    requests: 0,
    replies: 0,
    malformed: 0,
    notEcho: 0,
    refused: 0,
    noSocket: 0,
    capReached: 0,
    sendError: 0,
    disabled: 0,
    flowsOpened: 0,
    flowsAged: 0,
    flowsEvicted: 0,
  };
  private readonly enabled = new Uint8Array(2);
  /** Per flow: its socket (-1 none) and the guest's identifier. */
  private readonly sock: Int32Array;
  private readonly guestId: Uint16Array;
  private readonly send: SendBatch = createSendBatch(1);
  private readonly recv: RecvBatch = createRecvBatch(RECV_BATCH, L4_AT + SLOT, L4_AT);
  private readonly offsets = new Uint32Array(RECV_BATCH);
  private readonly lengths = new Uint32Array(RECV_BATCH);
  private readonly src = new Uint8Array(ADDR_STRIDE);
  private readonly dst = new Uint8Array(ADDR_STRIDE);
  private readonly fields: LinkFields;
  private warnedRefused = false;
  private readonly scopeId6: number;

  constructor(
    private readonly o: IcmpOptions,
    private readonly d: IcmpDeps,
  ) {
    if (o.ipv4) this.enabled[0] = 1;
    if (o.ipv6) this.enabled[1] = 1;
    this.scopeId6 = o.scopeId6 ?? 0;
    this.sock = new Int32Array(d.flows.capacity).fill(-1);
    this.guestId = new Uint16Array(d.flows.capacity);
    this.fields = {
      guestMac: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      ourMac: Uint8Array.from(o.ourMac),
      srcAddr: this.src,
      srcAt: 0,
      dstAddr: this.dst,
      dstAt: 0,
    };
    d.flows.register(FlowType.Icmp, {
      idleMs: o.idleMs ?? 60_000,
      release: (f, reason) => {
        this.closeSocket(f);
        if (reason === "aged") this.counters.flowsAged++;
        else this.counters.flowsEvicted++;
      },
    });
  }

  /**
   * Tries one ping socket per family in use, at start-up, so that a host
   * that refuses them (its ping_group_range) is named in one log line
   * before any guest pings, not at the first request.
   * @returns the families whose ping sockets the host refuses
   */
  probe(): (4 | 6)[] {
    const refused: (4 | 6)[] = [];
    if (!this.o.enabled) return refused;
    for (const fam of [IPV4, IPV6]) {
      if (this.enabled[fam.index] !== 1) continue;
      try {
        this.d.sockets.close(this.d.sockets.open({ protocol: "icmp", family: fam.family, side: "host", address: null, port: 0 }));
      } catch (e) {
        if (errorCode(e) === "EACCES") refused.push(fam.family);
      }
    }
    if (refused.length > 0) {
      this.warnedRefused = true;
      this.d.logger.warn(
        `icmp: the host refuses ping sockets to our group (net.ipv4.ping_group_range): ` +
          `ICMP${refused.includes(6) ? (refused.includes(4) ? " and ICMPv6" : "v6") : ""} echo requests will be dropped and counted`,
      );
    }
    return refused;
  }

  setGuestMac(mac: Uint8Array): void {
    this.fields.guestMac.set(mac);
  }

  /** Live echo flows. */
  get flowCount(): number {
    return this.d.flows.countOf(FlowType.Icmp);
  }

  /**
   * One ICMP or ICMPv6 message from the guest (the frame's headers parsed
   * by the dispatcher; `h.protocol` is 1 or 58, and NDP has already gone to
   * the responders).
   */
  fromGuest(slab: Uint8Array, h: Parsed): void {
    const c = this.counters;
    const fam = h.family === 4 ? IPV4 : IPV6;
    const at = h.l4At;
    const len = h.l4End - at;
    if (len < IcmpHdr.LEN || !icmpEchoChecksumValid(slab, at, len, fam.family, h.srcAt, h.dstAt)) {
      c.malformed++;
      return;
    }
    if (icmpEchoType(slab, at) !== ECHO_REQUEST[fam.index] || icmpEchoCode(slab, at) !== 0) {
      c.notEcho++;
      return;
    }
    if (!this.o.enabled || this.enabled[fam.index] !== 1) {
      c.disabled++;
      return;
    }
    const d = this.d;
    const now = d.clock.now();
    const id = icmpEchoId(slab, at);
    d.nat.noteGuestSource(fam, slab, h.srcAt);
    let f: number;
    const hit = d.flows.lookup(protocolOf(fam), Pif.Tap, fam, slab, h.srcAt, id, slab, h.dstAt, id);
    if (hit >= 0) {
      f = hit >> 1;
    } else {
      f = this.open(fam, slab, h, id, now);
      if (f < 0) return;
    }
    d.flows.touch(f, now);
    const sb = this.send;
    sb.slab = slab;
    sb.offsets[0] = at;
    sb.lengths[0] = len;
    sb.families[0] = fam.family;
    sb.ports[0] = 0;
    d.flows.endAddr(f, TARGET, sb.addrs, 0);
    sb.scopeIds[0] = fam.isLinkLocal(sb.addrs, 0) ? this.scopeId6 : 0;
    let sent = 0;
    try {
      sent = d.sockets.send(this.sock[f] as number, sb, 0, 1);
    } catch (e) {
      d.logger.debug(`icmp: send: ${errorCode(e)}`);
    }
    if (sent === 1) c.requests++;
    else c.sendError++;
  }

  /** A new echo flow and its socket; -1 (counted) when there can be none. */
  private open(fam: AddressFamily, slab: Uint8Array, h: Parsed, id: number, now: number): number {
    const c = this.counters;
    const d = this.d;
    const kind = d.nat.mapDestination(fam, slab, h.dstAt, 0, now, this.dst, 0);
    if (kind === DestKind.Refused) {
      c.refused++;
      return -1;
    }
    const f = d.flows.alloc(FlowType.Icmp, protocolOf(fam), fam.family, now);
    if (f < 0) {
      c.capReached++;
      return -1;
    }
    let sock: number;
    try {
      sock = d.sockets.open({ protocol: "icmp", family: fam.family, side: "host", address: null, port: 0, outbound: true });
    } catch (e) {
      d.flows.free(f);
      c.noSocket++;
      const code = errorCode(e);
      if (code === "EACCES" && !this.warnedRefused) {
        this.warnedRefused = true;
        d.logger.warn(
          "icmp: the host refuses ping sockets to our group (net.ipv4.ping_group_range); echo requests are dropped",
        );
      } else {
        d.logger.debug(`icmp: cannot open an IPv${fam.family} ping socket: ${code}`);
      }
      return -1;
    }
    d.flows.setSide(f, INITIATOR, Pif.Tap, fam, slab, h.dstAt, id, slab, h.srcAt, id);
    d.flows.setSide(f, TARGET, Pif.Host, fam, null, 0, 0, this.dst, 0, 0);
    d.flows.hash(f, INITIATOR);
    this.sock[f] = sock;
    this.guestId[f] = id;
    d.sockets.watch(sock, () => this.drain(f, sock));
    c.flowsOpened++;
    return f;
  }

  /** Replies on flow f's socket, back to the guest as frames. */
  private drain(f: number, sock: number): void {
    const d = this.d;
    const c = this.counters;
    if (this.sock[f] !== sock) return;
    const rb = this.recv;
    let n: number;
    try {
      n = d.sockets.recv(sock, rb, rb.capacity);
    } catch (e) {
      d.logger.debug(`icmp: recv: ${errorCode(e)}`);
      return;
    }
    if (n <= 0) return;
    const fam = d.flows.familyOf(f);
    const flows = d.flows;
    flows.ourAddr(f, INITIATOR, this.src, 0);
    flows.endAddr(f, INITIATOR, this.dst, 0);
    const proto = protocolOf(fam);
    let frames = 0;
    for (let i = 0; i < n; i++) {
      const len = rb.lengths[i] as number;
      const at = i * rb.slotSize + rb.offset;
      if (len < IcmpHdr.LEN || len > SLOT || rb.families[i] !== fam.family) {
        c.malformed++;
        continue;
      }
      if (icmpEchoType(rb.slab, at) !== ECHO_REPLY[fam.index]) {
        c.notEcho++;
        continue;
      }
      setIcmpEchoId(rb.slab, at, this.guestId[f] as number);
      const start = writeIpFrame(fam, rb.slab, at, proto, len, this.fields);
      const ip = at - fam.ipHeaderLen;
      setIcmpEchoChecksum(rb.slab, at, len, fam.family, ip + Ip6Hdr.SRC, ip + Ip6Hdr.DST);
      this.offsets[frames] = start;
      this.lengths[frames] = at + len - start;
      frames++;
    }
    if (frames === 0) return;
    flows.touch(f, d.clock.now());
    let accepted = 0;
    try {
      accepted = d.sink.sendFrames(rb.slab, this.offsets, this.lengths, frames);
    } catch (e) {
      d.logger.debug(`icmp: frame sink: ${errorCode(e)}`);
    }
    c.replies += accepted;
    c.sendError += frames - accepted;
  }

  private closeSocket(f: number): void {
    const s = this.sock[f] as number;
    if (s < 0) return;
    this.sock[f] = -1;
    this.d.sockets.unwatch(s);
    this.d.sockets.close(s);
  }

  /** Closes every echo socket (shutdown). */
  stop(): void {
    for (let f = 0; f < this.sock.length; f++) {
      if ((this.sock[f] as number) >= 0) {
        this.closeSocket(f);
        this.d.flows.free(f);
      }
    }
  }
}

function protocolOf(fam: AddressFamily): number {
  return fam.family === 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6;
}

