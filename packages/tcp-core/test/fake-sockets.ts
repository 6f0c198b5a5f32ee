// Test doubles for tcp-core: a TcpSocketLayer whose sockets are in-memory
// queues the test drives (what the peer sent, how much the socket takes,
// how connects end), a clock that only moves when told, and a silent
// logger. The data paths (peek, discard, send) copy nothing into new
// objects, so the allocation test can run through them too.
import type { Clock, Family, Logger, Side, TimerHandle } from '@x/flow';
import type { AcceptedPeer, ListenSpec, TcpHandle, TcpSocketLayer } from '../src/index.js';

export function errno(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** How `connect` ends: at once, in progress (the test fires WRITABLE), or thrown. */
export type ConnectMode = 'now' | 'later' | { throws: string };

/** A peer waiting on a listener. */
export interface QueuedPeer {
  family: Family;
  addr: Uint8Array;
  port: number;
}

export class FakeSocket {
  readonly family: Family;
  readonly side: Side;
  closed = false;
  resetOnClose = false;
  shutWrite = false;
  /** Where connect went. */
  connectedTo: { family: Family; addr: Uint8Array; port: number; scopeId: number } | null = null;
  listening: ListenSpec | null = null;
  readonly backlog: QueuedPeer[] = [];
  maxSegSet = -1;
  noDelay = false;
  /** SO_ERROR, returned once by error(). */
  pendingError: string | null = null;

  // Receive side: bytes the peer sent, rx[rxStart, rxEnd); peekPos counts from rxStart.
  private rx = new Uint8Array(4096);
  private rxStart = 0;
  private rxEnd = 0;
  peekPos = 0;
  /** The peer shut its side: peek returns 0 once nothing new is queued. */
  peerEof = false;
  peekCalls = 0;
  discards: number[] = [];
  /** Record discards and send calls' piece counts (false for the allocation test). */
  record = true;

  // Send side.
  /** Bytes the socket can still take; send returns -1 when 0. */
  room = 1 << 30;
  /** When not empty, each send takes at most the next value. */
  readonly takes: number[] = [];
  /** Copy bytes in peek and keep what send took (false: only count, for the allocation test). */
  copyData = true;
  private tx = new Uint8Array(4096);
  txLength = 0;
  sendCalls = 0;
  sendPieces: number[] = [];
  outQueue = 0;
  sendBuffer = 1 << 20;

  // Readiness.
  interest = 0;
  callback: ((ready: number) => void) | null = null;
  readonly interests: number[] = [];

  constructor(
    readonly handle: TcpHandle,
    family: Family,
    side: Side,
  ) {
    this.family = family;
    this.side = side;
  }

  /** Bytes queued by the peer, not yet discarded. */
  get queued(): number {
    return this.rxEnd - this.rxStart;
  }

  /** The peer sends `data`. */
  push(data: Uint8Array): void {
    if (this.rxEnd + data.length > this.rx.length) {
      const size = Math.max(2 * this.rx.length, this.queued + data.length);
      const next = new Uint8Array(size);
      next.set(this.rx.subarray(this.rxStart, this.rxEnd));
      this.rxEnd -= this.rxStart;
      this.rxStart = 0;
      this.rx = next;
    }
    this.rx.set(data, this.rxEnd);
    this.rxEnd += data.length;
  }

  /** What the socket took from the guest, in order. */
  written(): Uint8Array {
    return this.tx.slice(0, this.txLength);
  }

  /**
   * Peeks from byte `from` of the queue. Nothing new: 0 at the end of the
   * stream, else -1; without a kernel peek offset, as the real layer's
   * scratch iovec does, the end shows only once nothing is left queued.
   */
  peek(slab: Uint8Array, desc: Uint32Array, count: number, from: number, peekOffset: boolean): number {
    this.peekCalls++;
    const avail = this.queued - from;
    if (avail <= 0) return this.peerEof && (peekOffset || this.queued === 0) ? 0 : -1;
    let at = this.rxStart + from;
    let got = 0;
    for (let i = 0; i < count && got < avail; i++) {
      const n = Math.min(desc[2 * i + 1] as number, avail - got);
      if (this.copyData) slab.set(this.rx.subarray(at, at + n), desc[2 * i] as number);
      at += n;
      got += n;
    }
    return got;
  }

  discard(n: number): number {
    const k = Math.min(n, this.queued);
    this.rxStart += k;
    if (this.rxStart === this.rxEnd) {
      this.rxStart = 0;
      this.rxEnd = 0;
    }
    if (this.record) this.discards.push(n);
    return k;
  }

  send(slab: Uint8Array, desc: Uint32Array, count: number): number {
    this.sendCalls++;
    if (this.record) this.sendPieces.push(count);
    let limit = this.room;
    if (this.takes.length > 0) limit = Math.min(limit, this.takes.shift() as number);
    if (limit <= 0) return -1;
    let took = 0;
    for (let i = 0; i < count && took < limit; i++) {
      const off = desc[2 * i] as number;
      const n = Math.min(desc[2 * i + 1] as number, limit - took);
      if (this.copyData) {
        if (this.txLength + n > this.tx.length) {
          const next = new Uint8Array(Math.max(2 * this.tx.length, this.txLength + n));
          next.set(this.tx.subarray(0, this.txLength));
          this.tx = next;
        }
        this.tx.set(slab.subarray(off, off + n), this.txLength);
      }
      this.txLength += n;
      took += n;
    }
    this.room -= took;
    return took;
  }
}

/** The fake layer: every socket it made, by handle, and what it was asked. */
export class FakeSockets implements TcpSocketLayer {
  peekOffsetSupported: boolean;
  readonly sockets = new Map<TcpHandle, FakeSocket>();
  readonly opened: FakeSocket[] = [];
  private next = 10;
  /** How the next connects end, in order; 'now' when empty. */
  readonly connects: ConnectMode[] = [];
  /** Error codes the next open() calls throw. */
  readonly failOpens: string[] = [];
  private batchEnd: () => void = () => {};
  /** Record every data-path call (false for the allocation test). */
  record = true;

  constructor(peekOffsetSupported = true) {
    this.peekOffsetSupported = peekOffsetSupported;
  }

  get(h: TcpHandle): FakeSocket {
    const s = this.sockets.get(h);
    if (!s) throw errno('EBADF');
    return s;
  }

  /** The only (or last) socket opened for a connection (not a listener). */
  last(): FakeSocket {
    const s = this.opened.filter((x) => x.listening === null).at(-1);
    if (!s) throw new Error('no socket opened');
    return s;
  }

  live(): FakeSocket[] {
    return this.opened.filter((s) => !s.closed && s.listening === null);
  }

  /** Delivers readiness to `s`'s watch callback, then ends the batch as the embedder's loop does. */
  fire(s: FakeSocket, ready: number): void {
    if (s.closed || s.callback === null) throw new Error(`socket ${s.handle} is not watched`);
    s.callback(ready);
    this.batchEnd();
  }

  private make(family: Family, side: Side): FakeSocket {
    const s = new FakeSocket(this.next++, family, side);
    this.sockets.set(s.handle, s);
    this.opened.push(s);
    return s;
  }

  open(family: Family, side: Side): TcpHandle {
    const fail = this.failOpens.shift();
    if (fail !== undefined) throw errno(fail);
    return this.make(family, side).handle;
  }

  listen(spec: ListenSpec): TcpHandle {
    const s = this.make(spec.family, spec.side);
    s.listening = spec;
    return s.handle;
  }

  /** The listener for (family, port). */
  listener(family: Family, port: number): FakeSocket {
    const l = this.opened.find((s) => s.listening?.family === family && s.listening.port === port && !s.closed);
    if (!l) throw new Error(`no listener for IPv${family} port ${port}`);
    return l;
  }

  accept(listener: TcpHandle, peer: AcceptedPeer): TcpHandle {
    const l = this.get(listener);
    const p = l.backlog.shift();
    if (!p) return -1;
    peer.family = p.family;
    peer.addr.fill(0);
    peer.addr.set(p.addr);
    peer.port = p.port;
    peer.scopeId = 0;
    return this.make(p.family, l.side).handle;
  }

  connect(h: TcpHandle, family: Family, addr: Uint8Array, at: number, port: number, scopeId: number): boolean {
    const s = this.get(h);
    s.connectedTo = { family, addr: addr.slice(at, at + (family === 4 ? 4 : 16)), port, scopeId };
    const mode = this.connects.shift() ?? 'now';
    if (mode === 'now') return true;
    if (mode === 'later') return false;
    throw errno(mode.throws);
  }

  error(h: TcpHandle): string | null {
    const s = this.get(h);
    const e = s.pendingError;
    s.pendingError = null;
    return e;
  }

  peek(h: TcpHandle, slab: Uint8Array, desc: Uint32Array, count: number, skip: number): number {
    const s = this.get(h);
    if (this.peekOffsetSupported) {
      const got = s.peek(slab, desc, count, s.peekPos, true);
      if (got > 0) s.peekPos += got;
      return got;
    }
    return s.peek(slab, desc, count, skip, false);
  }

  discard(h: TcpHandle, n: number): number {
    const s = this.get(h);
    const k = s.discard(n);
    // The kernel moves its peek offset back by what was dropped (sk_peek_offset_bwd).
    if (this.peekOffsetSupported) s.peekPos = Math.max(0, s.peekPos - k);
    return k;
  }

  send(h: TcpHandle, slab: Uint8Array, desc: Uint32Array, count: number): number {
    return this.get(h).send(slab, desc, count);
  }

  shutdownWrite(h: TcpHandle): void {
    this.get(h).shutWrite = true;
  }

  setPeekOffset(h: TcpHandle, offset: number): void {
    if (!this.peekOffsetSupported) throw errno('EINVAL');
    this.get(h).peekPos = offset;
  }

  info(_h: TcpHandle, out: Float64Array): void {
    out.fill(-1);
  }

  outQueue(h: TcpHandle): number {
    return this.get(h).outQueue;
  }

  sendBuffer(h: TcpHandle): number {
    return this.get(h).sendBuffer;
  }

  setMaxSeg(h: TcpHandle, mss: number): void {
    this.get(h).maxSegSet = mss;
  }

  maxSeg(h: TcpHandle): number {
    return this.get(h).maxSegSet;
  }

  setNoDelay(h: TcpHandle): void {
    this.get(h).noDelay = true;
  }

  resetOnClose(h: TcpHandle): void {
    this.get(h).resetOnClose = true;
  }

  watch(h: TcpHandle, events: number, cb: (ready: number) => void): void {
    const s = this.get(h);
    s.callback = cb;
    s.interest = events;
    if (this.record) s.interests.push(events);
  }

  onBatchEnd(fn: () => void): void {
    this.batchEnd = fn;
  }

  rewatch(h: TcpHandle, events: number): void {
    const s = this.get(h);
    if (s.callback === null) throw new Error(`rewatch of unwatched socket ${h}`);
    s.interest = events;
    if (this.record) s.interests.push(events);
  }

  unwatch(h: TcpHandle): void {
    const s = this.get(h);
    s.callback = null;
    s.interest = 0;
  }

  close(h: TcpHandle): void {
    const s = this.get(h);
    if (s.closed) throw new Error(`socket ${h} closed twice`);
    s.closed = true;
    s.callback = null;
  }

  pipe(_size: number, out: Int32Array): void {
    out[0] = this.make(4, 'host').handle;
    out[1] = this.make(4, 'host').handle;
  }

  splice(_from: TcpHandle, _to: TcpHandle, _n: number, _more: boolean): number {
    return -1;
  }
}

interface FakeTimer {
  ms: number;
  due: number;
  fn: () => void;
  live: boolean;
}

/** Time moves only in advance(); `every` timers run as it passes their due times. */
export class FakeClock implements Clock {
  private t = 1_000_000;
  private readonly timers: FakeTimer[] = [];

  now(): number {
    return this.t;
  }

  every(ms: number, fn: () => void): TimerHandle {
    const timer: FakeTimer = { ms, due: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.live = false;
      },
    };
  }

  /** Moves time forward by `ms`, running each timer as its time comes, in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let first: FakeTimer | undefined;
      for (const x of this.timers) if (x.live && x.due <= end && (first === undefined || x.due < first.due)) first = x;
      if (first === undefined) break;
      this.t = first.due;
      first.due += first.ms;
      first.fn();
    }
    this.t = end;
  }
}

export const quietLogger: Logger = { debug() {}, info() {}, warn() {} };
