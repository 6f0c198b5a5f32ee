/**
 * The socket layer of @x/tcp-core, made of real sockets.
 *
 * Theory of operation
 *
 * tcp-core speaks in handles, Ready bits and caller-owned slabs; this
 * adapter maps each call to one @x/syscalls call. Readiness goes through
 * one EpollSet of our own (edge-triggered where tcp-core asks for it),
 * watched on Node's loop: one wake-up serves every socket that became
 * ready together, and after it tcp-core's batch-end hook sends what the
 * batch produced. The Ready bits are the EpollSet's own bits, so they pass
 * through unchanged.
 *
 * Sockets on the "ns" side (pasta: -T listeners, splice connections into
 * the namespace's loopback) are created on a helper thread inside the
 * guest's network namespace, NS_POOL at a time, and handed out from a pool
 * per family: a thread per connection would cost more than the rest of its
 * set-up. Everything else happens on the main thread.
 * Addresses become strings only here, once per listen, accept or connect.
 */
import {
  EpollSet,
  accept4,
  bind,
  bindToDevice,
  close,
  formatAddress,
  getMaxSeg,
  getSndBuf,
  listen,
  netnsTcpSockets,
  outQueue,
  peekOffsetSupported,
  pipe2,
  recvDiscard,
  recvPeekPieces,
  sendPieces,
  setLingerZero,
  setMaxSeg,
  setNoDelay,
  setPeekOffset,
  setPipeSize,
  setQuickAck,
  shutdown,
  socketError,
  splice,
  tcpConnect,
  tcpInfoInto,
  tcpSocket,
} from "@x/syscalls";
import { parseIpAddr, isWireError } from "@x/l2";
import type { AcceptedPeer, ListenSpec, TcpHandle, TcpSocketLayer } from "@x/tcp-core";
import { IPV4, IPV6, type Family, type Side } from "@x/flow";
import { outboundOf, type HostSocketPolicy } from "./socket-layer.js";

/** ns-side sockets made per trip into the namespace. */
const NS_POOL = 16;

export class TcpSyscallSockets implements TcpSocketLayer {
  readonly peekOffsetSupported: boolean;
  private set: EpollSet | undefined;
  private readonly callbacks = new Map<number, (ready: number) => void>();
  private batchEnd: () => void = () => {};
  private readonly nsPool: [number[], number[]] = [[], []];

  /** Handles of sockets in the namespace: the outbound policy is for host sockets only. */
  private readonly nsHandles = new Set<number>();

  /**
   * `nsFd`: the guest's network namespace, for "ns" side sockets (pasta
   * only); `policy`: how host sockets are bound (-o, --outbound-if4/6,
   * --freebind).
   */
  constructor(
    private readonly nsFd?: number,
    private readonly policy: HostSocketPolicy = {},
  ) {
    // PASST_TS_TCP_PEEK_OFF=0 takes the path of kernels before 6.9 (no
    // SO_PEEK_OFF for TCP) on a newer one, so that both are tested here.
    this.peekOffsetSupported = process.env.PASST_TS_TCP_PEEK_OFF !== "0" && peekOffsetSupported();
  }

  open(family: Family, side: Side): TcpHandle {
    if (side === "ns") {
      if (this.nsFd === undefined) throw Object.assign(new Error("no guest namespace for an ns-side socket"), { code: "EINVAL" });
      const pool = this.nsPool[family === 4 ? 0 : 1];
      if (pool.length === 0) pool.push(...netnsTcpSockets(this.nsFd, family, NS_POOL));
      const h = pool.pop() as number;
      this.nsHandles.add(h);
      return h;
    }
    return tcpSocket(family);
  }

  listen(spec: ListenSpec): TcpHandle {
    const fd = this.open(spec.family, spec.side);
    try {
      const address = spec.address ? formatAddress(spec.address.subarray(0, spec.family === 4 ? 4 : 16)) : "";
      if (spec.interface) bindToDevice(fd, spec.interface);
      const freebind = spec.side === "host" && address !== "" && this.policy.freebind === true;
      bind(fd, spec.family, address, spec.port, { reuseAddr: true, freebind, ...(spec.family === 6 ? { v6only: true } : {}) });
      listen(fd, spec.backlog ?? 128);
    } catch (e) {
      close(fd);
      throw e;
    }
    return fd;
  }

  accept(listener: TcpHandle, peer: AcceptedPeer): TcpHandle {
    const a = accept4(listener);
    if (a.fd < 0) return -1;
    const bytes = parseIpAddr(a.address);
    peer.addr.fill(0);
    if (isWireError(bytes)) {
      peer.family = a.family === 6 ? 6 : 4;
    } else {
      peer.family = bytes.length === 4 ? 4 : 6;
      peer.addr.set(bytes);
    }
    peer.port = a.port;
    peer.scopeId = a.scopeId;
    return a.fd;
  }

  connect(h: TcpHandle, family: Family, addr: Uint8Array, at: number, port: number, scopeId: number): boolean {
    const address = formatAddress(addr.subarray(at, at + (family === 4 ? 4 : 16)));
    if (!this.nsHandles.has(h) && !(family === 4 ? IPV4 : IPV6).isLoopback(addr, at)) this.bindOutbound(h, family);
    return tcpConnect(h, family, address, port, scopeId || undefined) === "connected";
  }

  error(h: TcpHandle): string | null {
    return socketError(h);
  }

  peek(h: TcpHandle, slab: Uint8Array, desc: Uint32Array, count: number, skip: number): number {
    return recvPeekPieces(h, slab, desc, count, skip);
  }

  discard(h: TcpHandle, n: number): number {
    return recvDiscard(h, n);
  }

  send(h: TcpHandle, slab: Uint8Array, desc: Uint32Array, count: number): number {
    return sendPieces(h, slab, desc, count);
  }

  shutdownWrite(h: TcpHandle): void {
    shutdown(h, "write");
  }

  setPeekOffset(h: TcpHandle, offset: number): void {
    setPeekOffset(h, offset);
  }

  info(h: TcpHandle, out: Float64Array): void {
    tcpInfoInto(h, out);
  }

  outQueue(h: TcpHandle): number {
    return outQueue(h);
  }

  sendBuffer(h: TcpHandle): number {
    return getSndBuf(h);
  }

  setMaxSeg(h: TcpHandle, mss: number): void {
    setMaxSeg(h, mss);
  }

  maxSeg(h: TcpHandle): number {
    return getMaxSeg(h);
  }

  setNoDelay(h: TcpHandle): void {
    setNoDelay(h);
    setQuickAck(h);
  }

  resetOnClose(h: TcpHandle): void {
    setLingerZero(h);
  }

  private epoll(): EpollSet {
    this.set ??= new EpollSet(
      (token, events) => {
        const cb = this.callbacks.get(token);
        if (cb) cb(events);
      },
      { unref: true, after: () => this.batchEnd() },
    );
    return this.set;
  }

  watch(h: TcpHandle, events: number, cb: (ready: number) => void): void {
    const set = this.epoll();
    if (this.callbacks.has(h)) set.modify(h, events, h);
    else set.add(h, events, h);
    this.callbacks.set(h, cb);
  }

  onBatchEnd(fn: () => void): void {
    this.batchEnd = fn;
  }

  rewatch(h: TcpHandle, events: number): void {
    this.set?.modify(h, events, h);
  }

  unwatch(h: TcpHandle): void {
    if (!this.callbacks.delete(h)) return;
    this.set?.remove(h);
  }

  close(h: TcpHandle): void {
    this.unwatch(h);
    this.nsHandles.delete(h);
    close(h);
  }

  /**
   * -o and --outbound-if4/6 for a connection the guest opens toward
   * anything but the host's loopback (which no outbound interface reaches).
   */
  private bindOutbound(h: TcpHandle, family: Family): void {
    const { device, source } = outboundOf(this.policy, family);
    if (device) bindToDevice(h, device);
    if (source) bind(h, family, formatAddress(source), 0, family === 6 ? { v6only: true } : undefined);
  }

  pipe(size: number, out: Int32Array): void {
    const [r, w] = pipe2();
    try {
      setPipeSize(w, size);
    } catch {
      /* the default size then (pipe-max-size, or the user's pipe quota) */
    }
    out[0] = r;
    out[1] = w;
  }

  splice(from: TcpHandle, to: TcpHandle, n: number, more: boolean): number {
    return splice(from, to, n, more);
  }

  /** Closes the epoll set (shutdown). */
  stop(): void {
    for (const pool of this.nsPool) while (pool.length > 0) close(pool.pop() as number);
    this.set?.close();
    this.set = undefined;
    this.callbacks.clear();
  }
}
