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
 * The slab has room for `batch` datagrams of 64 KiB (8 MiB), but its pages
 * are only made resident by what lands in them. A wake-up's first read
 * asks for SIZED_FIRST (32) datagrams, as many as the C pasta reads per
 * call; the next reads of the same wake-up ask for the whole batch only
 * while every datagram so far was at most SMALL_DATAGRAM. A flood of
 * 64 KiB datagrams so touches 2 MiB of the slab instead of 8, and a flood
 * of small ones still moves 128 per call.
 *
 * Flows live in the shared flow table (@x/flow) as type UdpSplice: the
 * listener's side (host or namespace loopback) is the initiator, keyed by
 * (peer address and port, our listening port), the connected socket's side
 * the target. The table ages them with UDP's idle time and calls back here
 * to close the socket; at `maxFlows` splice flows the least recently used
 * one is evicted (logged, rate-limited) before a new one is opened.
 */
import {
  ADDR_STRIDE,
  bytesEqual,
  createRecvBatch,
  createSendBatch,
  errorCode,
  FlowType,
  formatAddress,
  INITIATOR,
  Pif,
  RateLimitedLog,
  TARGET,
  type AddressFamily,
  type FlowTable,
  type Clock,
  type Logger,
  type RecvBatch,
  type SendBatch,
  type Side,
  type SocketHandle,
  type SocketLayer,
} from '@x/flow';
import { IpProtocol } from '@x/l2';
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
  /**
   * Where datagrams from the host's loopback land in the namespace, per
   * family index (0: IPv4): the namespace's own address, as the C pasta
   * does unless --host-lo-to-ns-lo; null keeps them on its loopback.
   */
  nsTarget?: readonly [Uint8Array | null, Uint8Array | null];
}

export interface SpliceDeps {
  sockets: SocketLayer;
  clock: Clock;
  logger: Logger;
  counters: UdpCounters;
  flows: FlowTable;
}

/** One loopback-bound socket on a forwarded port. */
interface Listener {
  readonly fam: AddressFamily;
  readonly side: Side;
  readonly port: number;
  readonly target: number;
  readonly handle: SocketHandle;
  /** Counters for listener -> flow traffic; replies count in `back`. */
  readonly forth: DirectionCounters;
  readonly back: DirectionCounters;
}

const SPLICE_SLOT = 65536;
/** Datagrams asked for by a wake-up's first read (the C pasta's batch). */
const SIZED_FIRST = 32;
/** Datagrams up to this size let the next read ask for the whole batch: 128 of them touch at most 2 MiB. */
const SMALL_DATAGRAM = 16384;

function pifOf(side: Side): Pif {
  return side === 'host' ? Pif.Host : Pif.Splice;
}

export class SpliceRelay {
  private readonly listeners: Listener[] = [];
  private readonly recvBatch: RecvBatch;
  private readonly sendBatch: SendBatch;
  /** Datagrams a wake-up's first read asks for. */
  private readonly firstRead: number;
  /** Per flow number: the connected socket (-1 none) and its listener. */
  private readonly flowHandle: Int32Array;
  private readonly flowListener: (Listener | undefined)[];
  private readonly capLog: RateLimitedLog;
  private readonly flows: FlowTable;

  constructor(
    private readonly opts: SpliceOptions,
    private readonly deps: SpliceDeps,
  ) {
    if (opts.maxFlows < 1) throw new RangeError('maxSpliceFlows must be >= 1');
    this.recvBatch = createRecvBatch(opts.batch, SPLICE_SLOT, 0);
    this.firstRead = Math.min(SIZED_FIRST, opts.batch);
    this.sendBatch = createSendBatch(opts.batch, this.recvBatch.slab);
    this.flows = deps.flows;
    const n = deps.flows.capacity;
    this.flowHandle = new Int32Array(n).fill(-1);
    this.flowListener = new Array<Listener | undefined>(n).fill(undefined);
    this.capLog = new RateLimitedLog(10_000, (m) => deps.logger.warn(m));
    deps.flows.register(FlowType.UdpSplice, {
      idleMs: opts.idleMs,
      release: (f, reason) => {
        this.closeSocket(f);
        if (reason === 'aged') deps.counters.events.spliceFlowsAged++;
        else deps.counters.events.spliceFlowsEvicted++;
      },
    });
  }

  /** Live flows. */
  get flowCount(): number {
    return this.flows.countOf(FlowType.UdpSplice);
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
    for (let f = 0; f < this.flowListener.length; f++) if (this.flowListener[f] === l) this.closeFlow(f);
    this.listeners.splice(at, 1);
    this.deps.sockets.unwatch(l.handle);
    this.deps.sockets.close(l.handle);
    return true;
  }

  private drainListener(l: Listener): void {
    const { sockets } = this.deps;
    const rb = this.recvBatch;
    const sb = this.sendBatch;
    let count = this.firstRead;
    for (let round = 0; round < this.opts.drainRounds; round++) {
      let n: number;
      try {
        n = sockets.recv(l.handle, rb, count);
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
      const alen = l.fam.addrLen;
      while (i < n) {
        const peer = rb.ports[i] as number;
        let j = i + 1;
        while (j < n && rb.ports[j] === peer && bytesEqual(rb.addrs, i * ADDR_STRIDE, rb.addrs, j * ADDR_STRIDE, alen)) j++;
        const hit = this.flows.lookup(IpProtocol.Udp, pifOf(l.side), l.fam, rb.addrs, i * ADDR_STRIDE, peer, l.fam.loopback, 0, l.port);
        const flow = hit >= 0 ? hit >> 1 : this.openFlow(l, i, now);
        if (flow < 0) {
          l.forth.noBinding += j - i;
        } else {
          this.flows.touch(flow, now);
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
      if (n < count) return;
      count = this.nextCount(n);
    }
  }

  /** How many datagrams the read after one of `n` may ask for: the whole batch only after small ones. */
  private nextCount(n: number): number {
    const rb = this.recvBatch;
    for (let k = 0; k < n; k++) if ((rb.lengths[k] as number) > SMALL_DATAGRAM) return this.firstRead;
    return rb.capacity;
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

  /** Opens the flow for the peer of datagram `i` of the receive batch; returns its number or -1. */
  private openFlow(l: Listener, i: number, now: number): number {
    const flows = this.flows;
    if (flows.countOf(FlowType.UdpSplice) >= this.opts.maxFlows) {
      const victim = flows.oldest(FlowType.UdpSplice);
      const idle = victim < 0 ? 0 : now - flows.lastUsed(victim);
      if (victim < 0 || idle < this.opts.evictMinIdleMs) {
        l.forth.capReached++;
        return -1;
      }
      const vl = this.flowListener[victim] as Listener;
      const vport = flows.endPort(victim, INITIATOR);
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
    const f = flows.alloc(FlowType.UdpSplice, IpProtocol.Udp, l.fam.family, now);
    if (f < 0) {
      l.forth.capReached++;
      return -1;
    }
    // From the namespace's own address to itself, unless kept to loopback
    // (SpliceOptions.nsTarget); toward the host, always its loopback.
    const to = (other === 'ns' ? this.opts.nsTarget?.[l.fam.index] : null) ?? l.fam.loopback;
    let h: SocketHandle;
    try {
      h = this.deps.sockets.open({
        family: l.fam.family,
        side: other,
        address: to,
        port: 0,
        v6only: true,
        connect: { address: to, port: l.target },
      });
    } catch (e) {
      flows.free(f);
      this.deps.counters.events.openErrors++;
      this.deps.logger.debug(`udp splice: cannot open flow to ${other} port ${l.target}: ${errorCode(e)}`);
      return -1;
    }
    const peer = rb.ports[i] as number;
    flows.setSide(f, INITIATOR, pifOf(l.side), l.fam, l.fam.loopback, 0, l.port, rb.addrs, i * ADDR_STRIDE, peer);
    // Our port on the far side is the kernel's choice; nothing looks it up.
    flows.setSide(f, TARGET, pifOf(other), l.fam, to, 0, 0, to, 0, l.target);
    flows.hash(f, INITIATOR);
    this.flowHandle[f] = h;
    this.flowListener[f] = l;
    this.deps.counters.events.spliceFlowsOpened++;
    this.deps.sockets.watch(h, () => this.drainFlow(f, h));
    this.deps.logger.debug(
      `udp splice: IPv${l.fam.family} ${formatAddress(l.fam, rb.addrs, i * ADDR_STRIDE)}:${peer} -> ` +
        `${l.side} port ${l.port} -> ${other} port ${l.target}`,
    );
    return f;
  }

  /** Replies on a flow's connected socket go back through the listener to the peer. */
  private drainFlow(slot: number, h: SocketHandle): void {
    const rb = this.recvBatch;
    const sb = this.sendBatch;
    let count = this.firstRead;
    for (let round = 0; round < this.opts.drainRounds; round++) {
      if (this.flowHandle[slot] !== h) return; // closed meanwhile
      const l = this.flowListener[slot] as Listener;
      let n: number;
      try {
        n = this.deps.sockets.recv(h, rb, count);
      } catch (e) {
        // A connected UDP socket reports ICMP port unreachable as ECONNREFUSED.
        this.deps.logger.debug(`splice flow recv: ${errorCode(e)}`);
        return;
      }
      if (n <= 0) return;
      this.flows.touch(slot, this.deps.clock.now());
      const peerPort = this.flows.endPort(slot, INITIATOR);
      for (let k = 0; k < n; k++) {
        sb.offsets[k] = k * rb.slotSize + rb.offset;
        sb.lengths[k] = rb.lengths[k] as number;
        sb.families[k] = l.fam.family;
        sb.ports[k] = peerPort;
        sb.scopeIds[k] = 0;
        this.flows.endAddr(slot, INITIATOR, sb.addrs, k * ADDR_STRIDE);
      }
      this.relay(l.handle, n, l.back);
      if (n < count) return;
      count = this.nextCount(n);
    }
  }

  /** Closes flow f's socket and frees the flow. */
  private closeFlow(f: number): void {
    if (this.flowHandle[f] === -1) return;
    this.closeSocket(f);
    this.flows.free(f);
  }

  private closeSocket(f: number): void {
    const h = this.flowHandle[f] as number;
    if (h < 0) return;
    this.flowHandle[f] = -1;
    this.flowListener[f] = undefined;
    this.deps.sockets.unwatch(h);
    this.deps.sockets.close(h);
  }

  /** Closes every flow and listener. */
  close(): void {
    for (let f = 0; f < this.flowHandle.length; f++) this.closeFlow(f);
    for (const l of this.listeners) {
      this.deps.sockets.unwatch(l.handle);
      this.deps.sockets.close(l.handle);
    }
    this.listeners.length = 0;
  }
}
