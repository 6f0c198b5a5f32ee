/**
 * Theory of operation.
 *
 * Segments from the guest, after the dispatcher's one parse of their IP
 * header. Each is checked (header length, data offset, options that stay
 * inside the header, checksum) and found in the flow table by its tap-side
 * tuple. Then:
 *
 * - A SYN with no connection opens one: the address translation picks the
 *   real destination, a non-blocking socket starts connecting there, and
 *   the guest hears nothing until the connect is over: a SYN-ACK when it
 *   worked, a RST (with ACK, so that the guest's connect fails at once
 *   with ECONNREFUSED) when it did not.
 * - Acknowledgements drop what the guest has now received from the socket
 *   (the socket is our only send buffer) and may open the window for more;
 *   a duplicate with nothing new sends the unacknowledged data again.
 * - In-order payload is gathered, across consecutive segments of one
 *   connection, where it lies in the guest's frame slab, and written with
 *   one gather per run; what the socket does not take is not acknowledged,
 *   so the guest sends it again. Out-of-order payload is not kept: a
 *   duplicate ACK says what is missing.
 * - A FIN after all the data shuts the socket's sending side; a RST whose
 *   sequence number is exactly the next expected closes the connection and
 *   resets the peer; RSTs and SYNs elsewhere in the window get a challenge
 *   ACK, outside it nothing (RFC 5961).
 */
import {
  DestKind,
  FlowType,
  INITIATOR,
  IPV4,
  IPV6,
  Pif,
  TARGET,
  type AddressFamily,
} from '@x/flow';
import {
  IpProtocol,
  TcpFlag,
  TcpOptions,
  seqGt,
  seqLe,
  seqLt,
  seqDiff,
  tcpAck,
  tcpChecksumValid,
  tcpDataOffset,
  tcpDstPort,
  tcpFlags,
  tcpParseOptions,
  tcpSeq,
  tcpSrcPort,
  tcpWindow,
  type FrameHeaders,
} from '@x/l2';
import { Ev, Flag, Timer, TIMEOUTS } from './conn.js';
import { OUR_WINDOW_SCALE, type TcpState } from './state.js';
import { Ready } from './sockets.js';
import type { Resets } from './resets.js';

/** Pieces of in-order payload gathered for one connection's next write. */
const MAX_PIECES = 256;

export class FromGuest {
  private readonly opts = new TcpOptions();
  private readonly dst = new Uint8Array(16);
  /** The write being gathered: its connection, pieces and bytes. */
  private accFlow = -1;
  private accSlab: Uint8Array = new Uint8Array(0);
  private readonly accDesc = new Uint32Array(2 * MAX_PIECES);
  private accCount = 0;
  private accBytes = 0;

  constructor(
    private readonly s: TcpState,
    private readonly resets: Resets,
    /** Called when a connect in progress ends (the socket turned writable). */
    private readonly onSocket: (f: number, ready: number) => void,
  ) {}

  /** One TCP segment from the guest. */
  segment(slab: Uint8Array, h: FrameHeaders): void {
    const s = this.s;
    const cn = s.counters;
    const fam = h.family === 4 ? IPV4 : IPV6;
    const at = h.l4At;
    const len = h.l4End - at;
    const o = this.opts;
    o.reset();
    if (tcpParseOptions(slab, at, len, o) !== 0 || !tcpChecksumValid(slab, at, len, fam.family, h.srcAt, h.dstAt)) {
      cn.malformed++;
      return;
    }
    if (!s.o.enabled || s.enabled[fam.index] !== 1) {
      cn.disabled++;
      return;
    }
    const sport = tcpSrcPort(slab, at);
    const dport = tcpDstPort(slab, at);
    const flags = tcpFlags(slab, at);
    const hit = s.d.flows.lookup(IpProtocol.Tcp, Pif.Tap, fam, slab, h.srcAt, sport, slab, h.dstAt, dport);
    if (hit < 0) {
      this.write();
      if ((flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN) this.open(fam, slab, h, sport, dport);
      else {
        cn.noConnection++;
        if (!(flags & TcpFlag.RST)) this.resets.answer(fam, slab, h);
      }
      return;
    }
    const f = hit >> 1;
    s.d.flows.touch(f, s.d.clock.now());
    const c = s.conns;
    if (!c.has(f, Ev.ESTABLISHED)) {
      this.write();
      this.handshake(f, slab, h, flags);
      return;
    }
    const seq = tcpSeq(slab, at);
    if (flags & TcpFlag.RST) {
      this.write();
      this.reset(f, seq);
      return;
    }
    if (flags & TcpFlag.SYN) {
      this.write();
      // A SYN on a live connection: only a challenge ACK (RFC 5961 4).
      cn.outOfWindow++;
      s.pend(f, Flag.ACK_DUE);
      return;
    }
    if (flags & TcpFlag.ACK) this.ack(f, tcpAck(slab, at), tcpWindow(slab, at), len - tcpDataOffset(slab, at), flags);
    this.data(f, slab, at, len, seq, flags);
  }

  /** The guest's first SYN: a flow, a socket, a connect. */
  private open(fam: AddressFamily, slab: Uint8Array, h: FrameHeaders, sport: number, dport: number): void {
    const s = this.s;
    const d = s.d;
    const cn = s.counters;
    const now = d.clock.now();
    d.nat.noteGuestSource(fam, slab, h.srcAt);
    const kind = d.nat.mapDestination(fam, slab, h.dstAt, dport, now, this.dst, 0);
    if (kind === DestKind.Refused) {
      cn.refused++;
      this.resets.answer(fam, slab, h);
      return;
    }
    const f = d.flows.alloc(FlowType.Tcp, IpProtocol.Tcp, fam.family, now);
    if (f < 0) {
      cn.capReached++;
      this.resets.answer(fam, slab, h);
      return;
    }
    let sock: number;
    try {
      sock = d.sockets.open(fam.family, 'host');
    } catch (e) {
      d.flows.free(f);
      cn.noSocket++;
      d.logger.debug(`tcp: cannot open a socket: ${(e as { code?: string }).code ?? String(e)}`);
      this.resets.answer(fam, slab, h);
      return;
    }
    const at = h.l4At;
    const o = this.opts;
    const c = s.conns;
    c.reset(f);
    d.flows.setSide(f, INITIATOR, Pif.Tap, fam, slab, h.dstAt, dport, slab, h.srcAt, sport);
    d.flows.setSide(f, TARGET, Pif.Host, fam, null, 0, 0, this.dst, 0, dport);
    d.flows.hash(f, INITIATOR);
    c.sock[f] = sock;
    c.tapSide[f] = INITIATOR;
    c.ev[f] = Ev.TAP_SYN_RCVD;
    const guestIsn = tcpSeq(slab, at);
    c.seqFromTap[f] = (guestIsn + 1) >>> 0;
    c.seqAckToTap[f] = c.seqFromTap[f] as number;
    c.wsFromTap[f] = o.windowScale >= 0 ? o.windowScale : 0;
    // A SYN's window is in bytes, never scaled (RFC 7323 2.2).
    c.wndFromTap[f] = Math.floor(tcpWindow(slab, at) / 2 ** (c.wsFromTap[f] as number));
    c.wsToTap[f] = o.windowScale >= 0 ? OUR_WINDOW_SCALE : 0;
    const guestMss = o.mss > 0 ? o.mss : 536;
    c.mss[f] = Math.max(1, Math.min(guestMss, s.linkMss(fam)));
    const isn = s.isn.isn(fam.family, slab, h.dstAt, dport, slab, h.srcAt, sport, now * 1000);
    c.seqInitToTap[f] = isn;
    c.seqToTap[f] = (isn + 1) >>> 0;
    c.seqHighToTap[f] = c.seqToTap[f] as number;
    c.seqAckFromTap[f] = (isn + 1) >>> 0;
    cn.connects++;
    d.sockets.watch(sock, Ready.WRITABLE, (ready) => this.onSocket(f, ready));
    c.interest[f] = Ready.WRITABLE;
    s.arm(f, Timer.Handshake, TIMEOUTS.handshakeMs);
    try {
      if (o.mss > 0) d.sockets.setMaxSeg(sock, o.mss);
    } catch {
      /* the kernel's own MSS then */
    }
    let connected: boolean;
    try {
      connected = d.sockets.connect(sock, fam.family, this.dst, 0, dport, kind === DestKind.LinkLocal ? (s.o.scopeId6 ?? 0) : 0);
    } catch (e) {
      d.logger.debug(`tcp: connect to port ${dport}: ${(e as { code?: string }).code ?? String(e)}`);
      cn.refused++;
      s.close(f, true, false);
      return;
    }
    if (connected) this.onSocket(f, Ready.WRITABLE);
  }

  /** Segments of a connection whose handshake is not over. */
  private handshake(f: number, slab: Uint8Array, h: FrameHeaders, flags: number): void {
    const s = this.s;
    const c = s.conns;
    const at = h.l4At;
    const ack = tcpAck(slab, at);
    if (c.has(f, Ev.SOCK_ACCEPTED)) {
      // Inbound: we sent the SYN; the guest answers SYN-ACK, or RST.
      if (flags & TcpFlag.RST) {
        if (flags & TcpFlag.ACK && ack === ((c.seqInitToTap[f] as number) + 1) >>> 0) s.close(f, false, true);
        return;
      }
      if ((flags & (TcpFlag.SYN | TcpFlag.ACK)) !== (TcpFlag.SYN | TcpFlag.ACK) || ack !== ((c.seqInitToTap[f] as number) + 1) >>> 0) {
        s.counters.outOfWindow++;
        return;
      }
      const o = this.opts;
      c.seqFromTap[f] = (tcpSeq(slab, at) + 1) >>> 0;
      if (o.windowScale >= 0) c.wsFromTap[f] = o.windowScale;
      else c.wsToTap[f] = 0;
      // A SYN-ACK's window is in bytes, never scaled (RFC 7323 2.2): kept in the scaled unit, rounded down.
      c.wndFromTap[f] = Math.floor(tcpWindow(slab, at) / 2 ** (c.wsFromTap[f] as number));
      const fam = s.d.flows.familyOf(f);
      c.mss[f] = Math.max(1, Math.min(o.mss > 0 ? o.mss : 536, s.linkMss(fam)));
      this.established(f);
      s.pend(f, Flag.ACK_DUE);
      return;
    }
    // Outbound: the guest's SYN again, or its ACK of our SYN-ACK.
    if (flags & TcpFlag.RST) {
      if (seqDiff(tcpSeq(slab, at), c.seqFromTap[f] as number) === 0) s.close(f, false, true);
      return;
    }
    if (flags & TcpFlag.SYN) {
      if (c.has(f, Ev.TAP_SYN_ACK_SENT)) s.sendFlags(f, TcpFlag.SYN | TcpFlag.ACK);
      return;
    }
    if (!c.has(f, Ev.TAP_SYN_ACK_SENT) || !(flags & TcpFlag.ACK) || ack !== ((c.seqInitToTap[f] as number) + 1) >>> 0) {
      s.counters.outOfWindow++;
      return;
    }
    c.wndFromTap[f] = tcpWindow(slab, at);
    this.established(f);
    // Data may ride on the handshake's last ACK.
    this.data(f, slab, at, h.l4End - at, tcpSeq(slab, at), flags);
  }

  private established(f: number): void {
    const s = this.s;
    const c = s.conns;
    c.set(f, Ev.ESTABLISHED);
    s.d.flows.pin(f, true);
    s.disarm(f);
    if (s.peekOffset) {
      try {
        s.d.sockets.setPeekOffset(c.sock[f] as number, 0);
      } catch {
        /* checked at start-up */
      }
    }
    s.interest(f);
    s.pend(f, Flag.READ_DUE);
  }

  /** A RST on an established connection (RFC 5961 3.2). */
  private reset(f: number, seq: number): void {
    const s = this.s;
    const c = s.conns;
    const next = c.seqFromTap[f] as number;
    if (seq === next) {
      s.counters.resetsFromGuest++;
      s.close(f, false, true);
      return;
    }
    s.counters.outOfWindow++;
    const d = seqDiff(seq, next);
    if (d > 0 && d < (c.wndToTap[f] as number)) s.pend(f, Flag.ACK_DUE);
  }

  /** The guest's acknowledgement and window. */
  private ack(f: number, ack: number, wnd: number, payload: number, flags: number): void {
    const s = this.s;
    const c = s.conns;
    const acked = c.seqAckFromTap[f] as number;
    const wasWindow = c.wndFromTap[f] as number;
    c.wndFromTap[f] = wnd;
    if (seqGt(ack, acked) && seqLe(ack, c.seqHighToTap[f] as number)) {
      let data = (ack - acked) >>> 0;
      if (c.has(f, Ev.TAP_FIN_SENT) && ack === c.seqHighToTap[f]) {
        c.set(f, Ev.TAP_FIN_ACKED);
        data--;
      }
      if (data > 0) {
        try {
          s.d.sockets.discard(c.sock[f] as number, data);
        } catch {
          /* the read side reports the error */
        }
      }
      c.seqAckFromTap[f] = ack;
      if (seqGt(ack, c.seqToTap[f] as number)) c.seqToTap[f] = ack;
      c.dupAcks[f] = 0;
      c.retries[f] = 0;
      if (c.inFlight(f) > 0 || (c.has(f, Ev.TAP_FIN_SENT) && !c.has(f, Ev.TAP_FIN_ACKED))) s.arm(f, Timer.Ack, TIMEOUTS.ackMs);
      else if (c.timer[f] === Timer.Ack) s.disarm(f);
      s.pend(f, Flag.READ_DUE);
      this.closeIfDone(f);
      return;
    }
    if (ack === acked && payload === 0 && !(flags & TcpFlag.FIN) && wnd === wasWindow && c.inFlight(f) > 0) {
      // A duplicate: the guest is missing what follows `ack`.
      c.dupAcks[f] = (c.dupAcks[f] as number) + 1;
      if (c.dupAcks[f] === 1) s.rewindTo(f, acked);
      return;
    }
    if (wnd > wasWindow) s.pend(f, Flag.READ_DUE);
  }

  /** The segment's payload and FIN. */
  private data(f: number, slab: Uint8Array, at: number, len: number, seq: number, flags: number): void {
    const s = this.s;
    const c = s.conns;
    const off = tcpDataOffset(slab, at);
    let start = at + off;
    let n = len - off;
    const fin = (flags & TcpFlag.FIN) !== 0;
    if (n === 0 && !fin) {
      // A probe one byte behind (a zero-window probe, a keepalive): it wants our ACK and window.
      if (seqLt(seq, c.seqFromTap[f] as number)) s.pend(f, Flag.ACK_DUE);
      return;
    }
    if (c.has(f, Ev.TAP_FIN_RCVD)) {
      // Nothing more may come after the guest's FIN: a retransmission, acknowledge again.
      if (n > 0 || fin) s.pend(f, Flag.ACK_DUE);
      return;
    }
    const expected = this.accFlow === f ? ((c.seqFromTap[f] as number) + this.accBytes) >>> 0 : (c.seqFromTap[f] as number);
    if (seqLt(seq, expected)) {
      const old = (expected - seq) >>> 0;
      if (old > n || (old === n && !fin)) {
        // All seen before (the FIN too, if any): only our ACK was lost.
        s.pend(f, Flag.ACK_DUE);
        return;
      }
      start += old;
      n -= old;
    } else if (seqGt(seq, expected)) {
      s.counters.outOfOrder++;
      s.pend(f, Flag.ACK_DUE);
      return;
    }
    if (n > 0) {
      if (this.accFlow !== f) {
        this.write();
        this.accFlow = f;
        this.accSlab = slab;
      }
      if (this.accCount === MAX_PIECES && !this.write()) {
        // The socket took less than the gathered pieces: this segment now
        // lies beyond what was written, so it is out of order (the guest
        // sends it again after the refused bytes).
        s.counters.outOfOrder++;
        s.pend(f, Flag.ACK_DUE);
        return;
      }
      if (this.accFlow !== f) {
        this.accFlow = f;
        this.accSlab = slab;
      }
      this.accDesc[2 * this.accCount] = start;
      this.accDesc[2 * this.accCount + 1] = n;
      this.accCount++;
      this.accBytes += n;
    }
    if (fin) {
      const complete = this.write();
      if (!complete) return;
      const sock = c.sock[f] as number;
      try {
        s.d.sockets.shutdownWrite(sock);
      } catch {
        /* the peer is gone; the read side will tell */
      }
      c.seqFromTap[f] = ((c.seqFromTap[f] as number) + 1) >>> 0;
      c.set(f, Ev.TAP_FIN_RCVD | Ev.SOCK_FIN_SENT);
      s.pend(f, Flag.ACK_DUE);
      this.closeIfDone(f);
    }
  }

  /**
   * Writes the gathered payload of one connection to its socket.
   * @returns whether the socket took all of it
   */
  write(): boolean {
    const f = this.accFlow;
    if (f < 0) return true;
    const s = this.s;
    const c = s.conns;
    const want = this.accBytes;
    const count = this.accCount;
    this.accFlow = -1;
    this.accCount = 0;
    this.accBytes = 0;
    if (count === 0 || c.has(f, Ev.CLOSED)) return true;
    let took: number;
    try {
      took = s.d.sockets.send(c.sock[f] as number, this.accSlab, this.accDesc, count);
    } catch (e) {
      // The peer reset: the socket's error arrives through the watch.
      s.d.logger.debug(`tcp: flow ${f}: send: ${(e as { code?: string }).code ?? String(e)}`);
      took = 0;
    }
    if (took < 0) took = 0;
    c.seqFromTap[f] = ((c.seqFromTap[f] as number) + took) >>> 0;
    s.counters.bytesFromGuest += took;
    s.pend(f, Flag.ACK_DUE);
    if (took < want) {
      if (process.env.TCP_TRACE) s.d.logger.debug(`tcp: flow ${f}: socket took ${took} of ${want} in ${count} pieces; sndbuf ${s.d.sockets.sendBuffer(c.sock[f] as number)} outq ${s.d.sockets.outQueue(c.sock[f] as number)} window was ${c.wndToTap[f]}`);
      // Not acknowledged: the guest sends it again once the socket drains.
      c.raise(f, Flag.SOCK_FULL);
      s.interest(f);
      return false;
    }
    return true;
  }

  /** Both directions closed and acknowledged: the connection is over. */
  private closeIfDone(f: number): void {
    const c = this.s.conns;
    if (c.has(f, Ev.SOCK_FIN_SENT) && c.has(f, Ev.TAP_FIN_ACKED)) {
      // The guest's FIN is acknowledged before the flow goes.
      if (c.flag(f, Flag.ACK_DUE)) {
        c.lower(f, Flag.ACK_DUE);
        this.s.sendFlags(f, TcpFlag.ACK);
      }
      this.s.close(f, false, false);
    }
  }
}
