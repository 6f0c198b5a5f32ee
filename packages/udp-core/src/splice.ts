/**
 * Theory of operation.
 *
 * pasta only. Traffic between the host's loopback and the namespace's
 * loopback on forwarded ports never becomes frames: it is relayed socket
 * to socket. A listener is bound to loopback on a forwarded port on one
 * side ("host" for -u, "ns" for -U); what it receives from a local peer at
 * source port S is carried by a *flow*: a socket on the other side,
 * connected to loopback on the forward's target port, created on first use
 * per (listener, S).
 *
 *   host 127.0.0.1:S --> listener host 127.0.0.1:P
 *                        flow socket ns 127.0.0.1:E --connect--> ns 127.0.0.1:P'
 *   replies: ns :P' --> flow socket :E --> listener sendto 127.0.0.1:S
 *
 * P' is P after remap. The kernel picks E; we never need to know it,
 * because the flow socket's readiness callback already knows its flow,
 * which records the listener and the peer address and port to answer. That
 * replaces the 2021 code's table indexed by E, and keying flows by
 * (listener, S) rather than S alone means one host port talking to two
 * forwarded ports gets two flows instead of one sent to the wrong place.
 *
 * Batches: each readable socket is read up to `batch` (128) datagrams per
 * call and relayed with one send per run of same-flow datagrams (in the
 * common case, one sendmmsg per batch). Datagrams are relayed straight from
 * the receive slab; nothing is copied or allocated per datagram.
 *
 * Flows live in a fixed pool of `maxFlows` slots with an LRU list: idle
 * ones are closed by the aging sweep, and when the pool is full the least
 * recently used flow is evicted (logged, rate-limited).
 */
import {
  ADDR_STRIDE,
  copyBytes,
  createRecvBatch,
  createSendBatch,
  errorCode,
  formatAddress,
  LruList,
  RateLimitedLog,
  type AddressFamily,
  type Clock,
  type Logger,
  type RecvBatch,
  type SendBatch,
  type Side,
  type SocketHandle,
  type SocketLayer,
} from '@x/flow';
import type { DirectionCounters, UdpCounters } from './counters.js';

export interface SpliceOptions {
  /** Most live flows; the least recently used is evicted beyond it. */
  maxFlows: number;
  /** Datagrams per recvmmsg (>= 1; passt uses 128). */
  batch: number;
  /** Idle time after which a flow is closed, ms. */
  idleMs: number;
  /** A flow younger than this (idle time, ms) is never evicted; the new one is dropped instead. */
  evictMinIdleMs: number;
  /** How many recv batches one readiness callback may drain before yielding. */
  drainRounds: number;
}

export interface SpliceDeps {
  sockets: SocketLayer;
  clock: Clock;
  logger: Logger;
  counters: UdpCounters;
}

/** One loopback-bound socket on a forwarded port. */
interface Listener {
  readonly fam: AddressFamily;
  readonly side: Side;
  readonly port: number;
  readonly target: number;
  readonly handle: SocketHandle;
  /** Source port of the local peer -> flow slot. */
  readonly flows: Map<number, number>;
  /** Counters for listener -> flow traffic; replies count in `back`. */
  readonly forth: DirectionCounters;
  readonly back: DirectionCounters;
}

const SPLICE_SLOT = 65536;

export class SpliceRelay {
  private readonly listeners: Listener[] = [];
  private readonly recvBatch: RecvBatch;
  private readonly sendBatch: SendBatch;
  private readonly lru: LruList;
  private readonly flowHandle: Int32Array;
  private readonly flowListener: (Listener | undefined)[];
  private readonly flowPeerPort: Uint16Array;
  private readonly flowPeerAddr: Uint8Array;
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  private readonly capLog: RateLimitedLog;

  constructor(
    private readonly opts: SpliceOptions,
    private readonly deps: SpliceDeps,
  ) {
    if (opts.maxFlows < 1) throw new RangeError('maxSpliceFlows must be >= 1');
    this.recvBatch = createRecvBatch(opts.batch, SPLICE_SLOT, 0);
    this.sendBatch = createSendBatch(opts.batch, this.recvBatch.slab);
    const n = opts.maxFlows;
    this.lru = new LruList(n);
    this.flowHandle = new Int32Array(n).fill(-1);
    this.flowListener = new Array<Listener | undefined>(n).fill(undefined);
    this.flowPeerPort = new Uint16Array(n);
    this.flowPeerAddr = new Uint8Array(n * ADDR_STRIDE);
    this.freeSlots = new Int32Array(n);
    for (let i = 0; i < n; i++) this.freeSlots[i] = n - 1 - i;
    this.freeCount = n;
    this.capLog = new RateLimitedLog(10_000, (m) => deps.logger.warn(m));
  }

  /** Live flows. */
  get flowCount(): number {
    return this.lru.size;
  }

  /**
   * Binds a listener to loopback:`port` on `side` and relays what it
   * receives to loopback:`target` on the other side. Throws the socket
   * layer's error when the port cannot be bound.
   */
  addListener(fam: AddressFamily, side: Side, port: number, target: number): void {
    const handle = this.deps.sockets.open({ family: fam.family, side, address: fam.loopback, port, v6only: true });
    const c = this.deps.counters;
    const l: Listener = {
      fam,
      side,
      port,
      target,
      handle,
      flows: new Map(),
      forth: side === 'host' ? c.spliceToNs : c.spliceToHost,
      back: side === 'host' ? c.spliceToHost : c.spliceToNs,
    };
    this.listeners.push(l);
    this.deps.sockets.watch(handle, () => this.drainListener(l));
  }

  /**
   * Closes the listener bound to loopback:`port` on `side`, and its flows.
   * Returns false when there is no such listener.
   */
  removeListener(fam: AddressFamily, side: Side, port: number): boolean {
    const at = this.listeners.findIndex((l) => l.fam === fam && l.side === side && l.port === port);
    if (at < 0) return false;
    const l = this.listeners[at] as Listener;
    for (const slot of [...l.flows.values()]) this.closeFlow(slot);
    this.listeners.splice(at, 1);
    this.deps.sockets.unwatch(l.handle);
    this.deps.sockets.close(l.handle);
    return true;
  }

  private drainListener(l: Listener): void {
    const { sockets } = this.deps;
    const rb = this.recvBatch;
    const sb = this.sendBatch;
    for (let round = 0; round < this.opts.drainRounds; round++) {
      let n: number;
      try {
        n = sockets.recv(l.handle, rb, rb.capacity);
      } catch (e) {
        this.deps.logger.debug(`splice recv on port ${l.port}: ${errorCode(e)}`);
        return;
      }
      if (n <= 0) return;
      const now = this.deps.clock.now();
      // Relay runs of consecutive datagrams from the same peer port, so
      // that order is kept and a flow evicted to make room for a later
      // peer is never used after it was closed.
      let i = 0;
      while (i < n) {
        const peer = rb.ports[i] as number;
        let j = i + 1;
        while (j < n && rb.ports[j] === peer) j++;
        let flow = l.flows.get(peer);
        if (flow === undefined) flow = this.openFlow(l, i, now);
        if (flow < 0) {
          l.forth.noBinding += j - i;
        } else {
          this.lru.touch(flow, now);
          let m = 0;
          for (let k = i; k < j; k++, m++) {
            sb.offsets[m] = k * rb.slotSize + rb.offset;
            sb.lengths[m] = rb.lengths[k] as number;
            sb.families[m] = 0;
          }
          this.relay(this.flowHandle[flow] as number, m, l.forth);
        }
        i = j;
      }
      if (n < rb.capacity) return;
    }
  }

  /** Sends the first `m` entries of the send batch and counts the outcome. */
  private relay(handle: SocketHandle, m: number, dir: DirectionCounters): void {
    const sb = this.sendBatch;
    let sent = 0;
    try {
      sent = this.deps.sockets.send(handle, sb, 0, m);
    } catch (e) {
      this.deps.logger.debug(`splice send: ${errorCode(e)}`);
    }
    let bytes = 0;
    for (let k = 0; k < sent; k++) bytes += sb.lengths[k] as number;
    dir.datagrams += sent;
    dir.bytes += bytes;
    dir.sendError += m - sent;
  }

  /** Opens the flow for the peer of datagram `i` of the receive batch; returns its slot or -1. */
  private openFlow(l: Listener, i: number, now: number): number {
    if (this.freeCount === 0) {
      const victim = this.lru.oldest;
      const idle = victim < 0 ? 0 : now - (this.lru.lastUsed[victim] as number);
      if (victim < 0 || idle < this.opts.evictMinIdleMs) {
        l.forth.capReached++;
        return -1;
      }
      const vl = this.flowListener[victim] as Listener;
      const vport = this.flowPeerPort[victim] as number;
      this.closeFlow(victim);
      this.deps.counters.events.spliceFlowsEvicted++;
      this.capLog.report(
        now,
        () =>
          `udp splice: ${this.opts.maxFlows} flows reached, closed the least recently used ` +
          `(IPv${vl.fam.family} ${vport} -> ${vl.port}, idle ${Math.round(idle / 1000)} s)`,
      );
    }
    const rb = this.recvBatch;
    const other: Side = l.side === 'host' ? 'ns' : 'host';
    let h: SocketHandle;
    try {
      h = this.deps.sockets.open({
        family: l.fam.family,
        side: other,
        address: l.fam.loopback,
        port: 0,
        v6only: true,
        connect: { address: l.fam.loopback, port: l.target },
      });
    } catch (e) {
      this.deps.counters.events.openErrors++;
      this.deps.logger.debug(`udp splice: cannot open flow to ${other} port ${l.target}: ${errorCode(e)}`);
      return -1;
    }
    const slot = this.freeSlots[--this.freeCount] as number;
    this.flowHandle[slot] = h;
    this.flowListener[slot] = l;
    const peer = rb.ports[i] as number;
    this.flowPeerPort[slot] = peer;
    copyBytes(this.flowPeerAddr, slot * ADDR_STRIDE, rb.addrs, i * ADDR_STRIDE, l.fam.addrLen);
    l.flows.set(peer, slot);
    this.lru.touch(slot, now);
    this.deps.counters.events.spliceFlowsOpened++;
    this.deps.sockets.watch(h, () => this.drainFlow(slot, h));
    this.deps.logger.debug(
      `udp splice: IPv${l.fam.family} ${formatAddress(l.fam, rb.addrs, i * ADDR_STRIDE)}:${peer} -> ` +
        `${l.side} port ${l.port} -> ${other} port ${l.target}`,
    );
    return slot;
  }

  /** Replies on a flow's connected socket go back through the listener to the peer. */
  private drainFlow(slot: number, h: SocketHandle): void {
    const rb = this.recvBatch;
    const sb = this.sendBatch;
    for (let round = 0; round < this.opts.drainRounds; round++) {
      if (this.flowHandle[slot] !== h) return; // closed meanwhile
      const l = this.flowListener[slot] as Listener;
      let n: number;
      try {
        n = this.deps.sockets.recv(h, rb, rb.capacity);
      } catch (e) {
        // A connected UDP socket reports ICMP port unreachable as ECONNREFUSED.
        this.deps.logger.debug(`splice flow recv: ${errorCode(e)}`);
        return;
      }
      if (n <= 0) return;
      this.lru.touch(slot, this.deps.clock.now());
      const peerPort = this.flowPeerPort[slot] as number;
      const len = l.fam.addrLen;
      for (let k = 0; k < n; k++) {
        sb.offsets[k] = k * rb.slotSize + rb.offset;
        sb.lengths[k] = rb.lengths[k] as number;
        sb.families[k] = l.fam.family;
        sb.ports[k] = peerPort;
        sb.scopeIds[k] = 0;
        copyBytes(sb.addrs, k * ADDR_STRIDE, this.flowPeerAddr, slot * ADDR_STRIDE, len);
      }
      this.relay(l.handle, n, l.back);
      if (n < rb.capacity) return;
    }
  }

  private closeFlow(slot: number): void {
    const h = this.flowHandle[slot] as number;
    if (h < 0) return;
    const l = this.flowListener[slot] as Listener;
    l.flows.delete(this.flowPeerPort[slot] as number);
    this.flowHandle[slot] = -1;
    this.flowListener[slot] = undefined;
    this.lru.remove(slot);
    this.freeSlots[this.freeCount++] = slot;
    this.deps.sockets.unwatch(h);
    this.deps.sockets.close(h);
  }

  /** Closes flows idle for longer than the timeout. */
  sweep(now: number): void {
    this.lru.sweep(now, this.opts.idleMs, (slot) => {
      this.closeFlow(slot);
      this.deps.counters.events.spliceFlowsAged++;
    });
  }

  /** Closes every flow and listener. */
  close(): void {
    for (let s = 0; s < this.flowHandle.length; s++) this.closeFlow(s);
    for (const l of this.listeners) {
      this.deps.sockets.unwatch(l.handle);
      this.deps.sockets.close(l.handle);
    }
    this.listeners.length = 0;
  }
}
