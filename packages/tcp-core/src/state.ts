/**
 * Theory of operation.
 *
 * What every part of the TCP translation shares: the options, the borrowed
 * services (sockets, frame sink, clock, flow table, address translation),
 * the connection table, the frame slab, the counters, and the handful of
 * operations that all of them perform on a connection: send it a control
 * segment, compute the window to offer the guest, arm its timer, change
 * what its socket is watched for, queue it for the end of the batch, and
 * close it.
 *
 * Work is gathered per batch. A batch is one turn: the guest frames of one
 * tap read, or the socket events of one epoll wake-up. While it runs,
 * connections that owe the guest something (an acknowledgement, data from
 * their socket) are put on the pending list once; `finish` then serves
 * each, so that a hundred segments acknowledged in one read cost one ACK
 * and one peek, and sends every frame built in one call to the sink.
 */
import {
  type AddressFamily,
  type AddressMap,
  type Clock,
  type FlowTable,
  type FrameSink,
  type LinkFields,
  type Logger,
  type PortForwards,
  type TimerHandle,
} from '@x/flow';
import { IsnGenerator, TcpFlag } from '@x/l2';
import { Conns, Ev, Flag, Timer } from './conn.js';
import { TcpFrames, type SynOptions } from './frames.js';
import { Ready, type TcpSocketLayer } from './sockets.js';
import { newCounters, type TcpCounters } from './counters.js';

export interface TcpOptions {
  /** TCP on (false: --no-tcp, every segment dropped and counted). */
  enabled: boolean;
  ourMac: Uint8Array;
  ipv4: boolean;
  ipv6: boolean;
  /** The link's MTU: frames to the guest carry at most MTU - 40 (v4) or - 60 (v6) bytes of payload. */
  mtu: number;
  /** -t: ports listened on the host, delivered to the guest (tap, or splice from loopback). */
  inbound: PortForwards;
  /** -T (pasta): ports listened on in the namespace, delivered to the host's loopback. */
  outbound: PortForwards;
  /** pasta: connections between the two loopbacks are spliced socket to socket. */
  splice: boolean;
  /**
   * Whether -t connections from the host's loopback are spliced (default:
   * as `splice`); false (--no-splice) carries them through the tap.
   */
  spliceInbound?: boolean;
  /**
   * Where a spliced -t connection from the host's loopback lands in the
   * namespace, per family: the namespace's own address, as the C pasta
   * does unless --host-lo-to-ns-lo, so that services bound only to the
   * namespace's loopback are not exposed. Absent: the namespace's loopback.
   */
  spliceTarget4?: Uint8Array;
  spliceTarget6?: Uint8Array;
  /** Interface index for link-local IPv6 destinations on the host side. */
  scopeId6?: number;
  /** Frame slots per batch toward the guest. */
  slots?: number;
}

export interface TcpDeps {
  sockets: TcpSocketLayer;
  sink: FrameSink;
  clock: Clock;
  logger: Logger;
  flows: FlowTable;
  nat: AddressMap;
  /** Initial sequence numbers (RFC 6528); a random secret by default. */
  isn?: IsnGenerator;
}

/** The window scale we announce: windows up to 16 MiB. */
export const OUR_WINDOW_SCALE = 8;
/** How soon connections whose frames the sink refused are tried again. */
const RETRY_MS = 2;
/** How often a short window is looked at again (the C implementation's ACK interval). */
const WINDOW_CHECK_MS = 10;
/** The window offered before the socket says better. */
const INITIAL_WINDOW = 65535;

export class TcpState {
  readonly conns: Conns;
  readonly frames: TcpFrames;
  readonly counters: TcpCounters = newCounters();
  readonly isn: IsnGenerator;
  readonly peekOffset: boolean;
  /** Link header inputs, refilled per connection. */
  readonly link: LinkFields;
  private readonly src = new Uint8Array(16);
  private readonly dst = new Uint8Array(16);
  /** Connections waiting for `finish`. */
  private readonly pending: Int32Array;
  private pendingCount = 0;
  /** Families in use: 1 at index 0 for IPv4, at 1 for IPv6. */
  readonly enabled = new Uint8Array(2);
  private readonly seg = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0 };
  private readonly syn: SynOptions = { mss: 0, windowScale: -1 };
  private inFinish = false;
  /** Connections whose offered window is short, rechecked every WINDOW_CHECK_MS. */
  private readonly watched: Int32Array;
  private watchedCount = 0;
  private windowTimer: TimerHandle | undefined;
  /** Serves the socket side of a pending connection (sock-to-guest.ts). */
  readFromSocket: (f: number) => void = () => {};
  /** Rewinds a connection whose frames the sink refused. */
  private readonly lost = (f: number, seq: number): void => {
    this.lostSome = true;
    this.rewindTo(f, seq);
  };
  /** Frames were refused in the last flush: their connections are tried again shortly. */
  private lostSome = false;
  private retryTimer: TimerHandle | undefined;

  constructor(
    readonly o: TcpOptions,
    readonly d: TcpDeps,
  ) {
    if (o.ipv4) this.enabled[0] = 1;
    if (o.ipv6) this.enabled[1] = 1;
    this.conns = new Conns(d.flows.capacity);
    this.pending = new Int32Array(2 * d.flows.capacity + 16);
    this.watched = new Int32Array(d.flows.capacity);
    this.frames = new TcpFrames(d.sink, Math.max(536, o.mtu - 40), o.slots ?? 32);
    this.isn = d.isn ?? IsnGenerator.random();
    this.peekOffset = d.sockets.peekOffsetSupported;
    this.link = {
      guestMac: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      ourMac: Uint8Array.from(o.ourMac),
      srcAddr: this.src,
      srcAt: 0,
      dstAddr: this.dst,
      dstAt: 0,
    };
  }

  /** The largest payload toward the guest for this family, by the MTU. */
  linkMss(fam: AddressFamily): number {
    return Math.min(this.frames.maxPayload, this.o.mtu - fam.ipHeaderLen - 20);
  }

  /** Fills the link fields for connection f's guest side. */
  linkOf(f: number): AddressFamily {
    const flows = this.d.flows;
    const side = this.conns.tapSide[f] as 0 | 1;
    flows.ourAddr(f, side, this.src, 0);
    flows.endAddr(f, side, this.dst, 0);
    return flows.familyOf(f);
  }

  /** The ports of f's guest side: ours is the segment's source. */
  private ports(f: number): void {
    const side = this.conns.tapSide[f] as 0 | 1;
    this.seg.srcPort = this.d.flows.ourPort(f, side);
    this.seg.dstPort = this.d.flows.endPort(f, side);
  }

  /**
   * The window to offer the guest, in bytes: what the socket's send buffer
   * can still take, so that the guest sends no faster than the real peer
   * drains it. Read from the socket (two calls): only when an ACK goes out.
   */
  window(f: number): number {
    const c = this.conns;
    const s = c.sock[f] as number;
    let w = INITIAL_WINDOW;
    if (s >= 0 && c.has(f, Ev.ESTABLISHED) && !c.has(f, Ev.SOCK_FIN_SENT)) {
      try {
        const buf = this.d.sockets.sendBuffer(s);
        c.sndBuf[f] = buf;
        // The kernel counts its buffer in memory, not payload: keep a
        // sixteenth aside for its overhead, so that writes are rarely cut short.
        w = Math.max(0, buf - (buf >> 4) - this.d.sockets.outQueue(s));
      } catch {
        w = 0;
      }
    }
    const max = 0xffff * 2 ** (c.wsToTap[f] as number);
    if (w > max) w = max;
    c.wndToTap[f] = w;
    if (w < this.roomy(f) && !c.flag(f, Flag.WND_WATCH) && (c.sock[f] as number) >= 0 && c.has(f, Ev.ESTABLISHED)) this.watchWindow(f);
    return w;
  }

  /**
   * A window this large needs no watching: a few segments, but never more
   * than a quarter of the socket's buffer. Below a third free the kernel
   * calls the socket not writable, so a window short by this measure is
   * always one the kernel will announce the end of (its writable edge).
   */
  private roomy(f: number): number {
    const c = this.conns;
    return Math.min(4 * (c.mss[f] as number), (c.sndBuf[f] as number) / 4);
  }

  /**
   * The socket's buffer drains as the real peer acknowledges, and nothing
   * tells us (the socket turns writable only after a write was refused):
   * a connection offered a short window is looked at again shortly, and
   * the guest told when the window has grown, so that it never waits for
   * a window update that nobody sends.
   */
  private watchWindow(f: number): void {
    const c = this.conns;
    c.raise(f, Flag.WND_WATCH);
    // Asking for writability of a socket that is not writable makes the
    // kernel note that someone waits (SOCK_NOSPACE): it then reports the
    // space freed by the peer's acknowledgements, and grows the buffer.
    this.interest(f);
    this.watched[this.watchedCount++] = f;
    this.windowTimer ??= this.d.clock.every(WINDOW_CHECK_MS, () => this.windowTick());
  }

  private windowTick(): void {
    const c = this.conns;
    let kept = 0;
    for (let i = 0; i < this.watchedCount; i++) {
      const f = this.watched[i] as number;
      if (!c.flag(f, Flag.WND_WATCH) || (c.sock[f] as number) < 0 || c.has(f, Ev.CLOSED | Ev.SOCK_FIN_SENT)) {
        c.lower(f, Flag.WND_WATCH);
        continue;
      }
      const before = c.wndToTap[f] as number;
      c.lower(f, Flag.WND_WATCH);
      const now = this.window(f);
      // Only an ACK tells the guest: until one goes out, the window offered stays the last one sent.
      c.wndToTap[f] = before;
      if (now >= before + (c.mss[f] as number) || (before === 0 && now > 0)) this.sendFlags(f, TcpFlag.ACK);
      if (now < this.roomy(f) || c.flag(f, Flag.WND_WATCH)) {
        c.raise(f, Flag.WND_WATCH);
        this.watched[kept++] = f;
      }
    }
    this.watchedCount = kept;
    if (kept === 0) {
      this.windowTimer?.cancel();
      this.windowTimer = undefined;
    }
    this.finish();
  }

  /**
   * Sends a segment without payload: `flags` with ACK, SYN (with options),
   * FIN or RST. Carries seqToTap (our ISN for a SYN) and acknowledges
   * seqFromTap.
   */
  sendFlags(f: number, flags: number, fresh = true): void {
    const c = this.conns;
    if (this.frames.free === 0) this.frames.flush(this.lost);
    const fam = this.linkOf(f);
    this.ports(f);
    const seg = this.seg;
    const synning = (flags & TcpFlag.SYN) !== 0;
    seg.seq = synning ? (c.seqInitToTap[f] as number) : (c.seqToTap[f] as number);
    seg.ack = c.seqFromTap[f] as number;
    seg.flags = flags;
    const w = flags & TcpFlag.RST ? 0 : fresh ? this.window(f) : (c.wndToTap[f] as number);
    // A SYN's window is never scaled (RFC 7323 2.2).
    seg.window = synning ? Math.min(w, 0xffff) : Math.floor(w / 2 ** (c.wsToTap[f] as number));
    let syn: SynOptions | undefined;
    if (synning) {
      this.syn.mss = this.linkMss(fam);
      this.syn.windowScale = c.has(f, Ev.SOCK_ACCEPTED) || (c.wsFromTap[f] as number) > 0 || c.wsToTap[f] !== 0 ? OUR_WINDOW_SCALE : -1;
      if (this.syn.windowScale < 0) c.wsToTap[f] = 0;
      syn = this.syn;
    }
    this.frames.push(f, fam, this.link, seg, 0, syn);
    if (flags & TcpFlag.ACK) c.seqAckToTap[f] = seg.ack;
    if (flags & TcpFlag.RST) this.counters.resetsToGuest++;
  }

  /** Fields for a data segment of f at seq: the caller pushes it. */
  dataFields(f: number, seq: number, flags: number): typeof this.seg {
    const c = this.conns;
    this.ports(f);
    const seg = this.seg;
    seg.seq = seq;
    seg.ack = c.seqFromTap[f] as number;
    seg.flags = flags;
    seg.window = Math.floor((c.wndToTap[f] as number) / 2 ** (c.wsToTap[f] as number));
    c.seqAckToTap[f] = seg.ack;
    return seg;
  }

  /** Arms f's one timer (replacing whatever it waited for). */
  arm(f: number, kind: Timer, ms: number): void {
    this.conns.timer[f] = kind;
    this.conns.deadline[f] = this.d.clock.now() + ms;
  }

  disarm(f: number): void {
    this.conns.timer[f] = Timer.None;
  }

  /** Watches f's socket for what its state needs now. */
  interest(f: number): void {
    const c = this.conns;
    const s = c.sock[f] as number;
    if (s < 0) return;
    let want: number;
    if (!c.has(f, Ev.ESTABLISHED) && c.has(f, Ev.TAP_SYN_RCVD) && !c.has(f, Ev.TAP_SYN_ACK_SENT)) {
      want = Ready.WRITABLE;
    } else {
      // Edge-triggered: a socket whose data is all in flight stays readable;
      // only new data is news. Always so, even with nothing asked for: the
      // kernel reports a hang-up whatever was asked, and a level would
      // report it on every turn.
      want = Ready.EDGE;
      if (!c.has(f, Ev.SOCK_FIN_RCVD)) want |= Ready.READABLE | Ready.HANGUP;
      if (c.flag(f, Flag.SOCK_FULL | Flag.WND_WATCH)) want |= Ready.WRITABLE;
    }
    if (c.interest[f] === want) return;
    c.interest[f] = want;
    this.d.sockets.rewatch(s, want);
  }

  /** Queues f for `finish` with `flag` (ACK_DUE, DUP_ACK_DUE, READ_DUE). */
  pend(f: number, flag: number): void {
    const c = this.conns;
    c.raise(f, flag);
    if (c.flag(f, Flag.PENDING)) return;
    if (this.pendingCount === this.pending.length) return;
    c.raise(f, Flag.PENDING);
    this.pending[this.pendingCount++] = f;
  }

  /** Serves every pending connection, then sends the frames built. */
  finish(): void {
    if (this.inFinish) return;
    this.inFinish = true;
    const c = this.conns;
    for (let i = 0; i < this.pendingCount; i++) {
      const f = this.pending[i] as number;
      if (!c.flag(f, Flag.PENDING)) continue;
      c.lower(f, Flag.PENDING);
      if (c.has(f, Ev.CLOSED) || (c.sock[f] as number) < 0) continue;
      if (c.flag(f, Flag.READ_DUE)) {
        c.lower(f, Flag.READ_DUE);
        this.readFromSocket(f);
      }
      if (c.flag(f, Flag.ACK_DUE)) {
        c.lower(f, Flag.ACK_DUE);
        if (!c.has(f, Ev.CLOSED) && (c.sock[f] as number) >= 0) this.sendFlags(f, TcpFlag.ACK);
      }
      if (c.flag(f, Flag.DUP_ACK_DUE)) {
        c.lower(f, Flag.DUP_ACK_DUE);
        // Three duplicates: the guest's fast retransmit, instead of its
        // timeout. Only ACKs with one window count as duplicates: the
        // window is read once (by the update before them).
        if (!c.has(f, Ev.CLOSED) && (c.sock[f] as number) >= 0) {
          for (let k = 0; k < 3; k++) this.sendFlags(f, TcpFlag.ACK, false);
          this.counters.dupAcksSent += 3;
        }
      }
    }
    this.pendingCount = 0;
    this.frames.flush(this.lost);
    this.inFinish = false;
    this.retryLater();
  }

  /**
   * A sink that refused frames (qemu's stream full) says nothing when it
   * drains, and a connection whose every frame in flight was lost would
   * wait for its acknowledgement timeout: the rewound connections are
   * served again every RETRY_MS until a flush loses nothing.
   */
  private retryLater(): void {
    if (this.lostSome) {
      this.lostSome = false;
      this.retryTimer ??= this.d.clock.every(RETRY_MS, () => this.finish());
    } else if (this.retryTimer) {
      this.retryTimer.cancel();
      this.retryTimer = undefined;
    }
  }

  /** Sends the frames built so far (the slab is full). */
  finishFrames(): void {
    this.frames.flush(this.lost);
  }

  /**
   * Sends from `seq` again: the guest missed what followed (a duplicate
   * ACK, a frame the sink refused, an acknowledgement timeout).
   */
  rewindTo(f: number, seq: number): void {
    const c = this.conns;
    if (c.has(f, Ev.CLOSED) || (c.sock[f] as number) < 0) return;
    const back = ((c.seqToTap[f] as number) - seq) | 0;
    if (back <= 0) return;
    if (c.has(f, Ev.TAP_FIN_SENT) && !c.has(f, Ev.TAP_FIN_ACKED)) {
      // The FIN goes again after the data.
      c.ev[f] = (c.ev[f] as number) & ~Ev.TAP_FIN_SENT;
    }
    c.seqToTap[f] = seq >>> 0;
    if (this.peekOffset) this.d.sockets.setPeekOffset(c.sock[f] as number, c.inFlight(f));
    this.counters.retransmits++;
    this.pend(f, Flag.READ_DUE);
  }

  /** Ends f: RST to the guest first when `reset`, RST to the peer when `resetPeer`. */
  close(f: number, reset: boolean, resetPeer: boolean): void {
    const c = this.conns;
    if (c.has(f, Ev.CLOSED)) return;
    if (reset) this.sendFlags(f, TcpFlag.RST | TcpFlag.ACK);
    c.set(f, Ev.CLOSED);
    const s = c.sock[f] as number;
    if (s >= 0) {
      const sk = this.d.sockets;
      sk.unwatch(s);
      if (resetPeer) {
        try {
          sk.resetOnClose(s);
        } catch {
          /* closing anyway */
        }
      }
      sk.close(s);
    }
    c.reset(f);
    this.counters.closed++;
    this.d.flows.free(f);
  }

}
