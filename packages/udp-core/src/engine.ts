/**
 * Theory of operation.
 *
 * `UdpEngine` composes the pieces into passt's UDP layer (see udp.md):
 *
 *   guest frames ──fromGuest()──> group by (family, guest source port)
 *        │                         ├─ binding socket (bindings.ts), opened
 *        │                         │  on first use, bound to that port
 *        │                         ├─ destination mapping (gateway.ts)
 *        │                         └─ one sendmmsg per binding
 *        │
 *   host sockets ──readable──> recvmmsg into the frame slab at PAYLOAD_AT
 *   (forwarded ports            ├─ source rewrite + local bind (gateway.ts)
 *    and bindings)              ├─ headers written in place (frames.ts)
 *                               └─ one FrameSink.sendFrames per batch
 *
 *   pasta loopback <──> namespace loopback: SpliceRelay (splice.ts)
 *
 * Everything the datagram path touches is allocated in the constructor:
 * the frame slab and its offset/length arrays, the send descriptors, the
 * grouping tables, the address scratch space. Sockets are opened only on
 * first use of a guest port or a splice peer, and bounded by the caps.
 *
 * The engine is driven from outside: the embedder calls `fromGuest` with
 * each parsed burst of guest datagrams, the socket layer calls back when a
 * socket is readable, and the clock's timer runs the aging sweep. Nothing
 * here blocks, and no error escapes into the event loop: socket failures
 * become counted drops and debug log lines.
 */
import { RateLimitedLog } from './aging.js';
import { BindingTable } from './bindings.js';
import { createCounters, type UdpCounters } from './counters.js';
import { ADDR_STRIDE, bytesEqual, copyBytes, FAMILIES, familyOf, type AddressFamily } from './family.js';
import { buildFrame, FRAME_SLOT_SIZE, frameLength, headerLength, PAYLOAD_AT, type FrameFields } from './frames.js';
import { AddressMap, DestKind, type GatewayConfig } from './gateway.js';
import { Grouper } from './grouping.js';
import { appendGuestFrame, createGuestDatagrams, FrameVerdict, type GuestDatagrams } from './guest-input.js';
import type { Clock, FrameSink, Logger, TimerHandle } from './platform.js';
import { PortForwards } from './ports.js';
import {
  createRecvBatch,
  createSendBatch,
  errorCode,
  type RecvBatch,
  type SendBatch,
  type SocketHandle,
  type SocketLayer,
} from './sockets.js';
import { SpliceRelay } from './splice.js';

export interface UdpEngineConfig extends GatewayConfig {
  /** Our MAC address: the source of every frame to the guest. */
  ourMac: Uint8Array;
  /** The guest's MAC; broadcast until the embedder learns it (setGuestMac). */
  guestMac?: Uint8Array;
  /** Families in use (default: both). */
  ipv4?: boolean;
  ipv6?: boolean;
  /** Host ports forwarded to the guest (-u). */
  inbound?: PortForwards;
  /** Namespace ports forwarded to the host's loopback (-U, pasta splice only). */
  outbound?: PortForwards;
  /** pasta: relay loopback traffic on forwarded ports socket to socket. */
  splice?: boolean;
  /** The host's IPv6 link-local address, bound when the guest talks to a link-local peer. */
  hostLinkLocal6?: Uint8Array;
  /** Interface index for link-local IPv6 destinations on the host side. */
  scopeId6?: number;
  /** Idle time before a binding, local bind or splice flow is dropped (default 180 000 ms). */
  idleTimeoutMs?: number;
  /** How often the aging sweep runs (default 1000 ms). */
  sweepIntervalMs?: number;
  /** Most live guest-port bindings (default 4096). */
  maxBindings?: number;
  /** Most live splice flows (default 4096). */
  maxSpliceFlows?: number;
  /** Never evict an entry idle for less than this; drop the newcomer instead (default 0). */
  evictMinIdleMs?: number;
  /** Datagrams per recvmmsg for frames (default 32, at least 16). */
  frameBatch?: number;
  /** Datagrams per recvmmsg for splice (default 128, at least 128). */
  spliceBatch?: number;
  /** Largest guest burst `fromGuest` accepts at once (default 1024). */
  guestBatch?: number;
  /** Recv batches per readiness callback before yielding to other sockets (default 8). */
  drainRounds?: number;
  /** Compute the optional UDP checksum over IPv4 (default false: 0, as passt). */
  udpChecksum4?: boolean;
}

export interface UdpEngineDeps {
  sockets: SocketLayer;
  frames: FrameSink;
  clock: Clock;
  logger: Logger;
}

/** A port that could not be bound: which family, on which side, and the errno name. */
export interface ForwardFailure {
  port: number;
  family: 4 | 6;
  side: 'host' | 'ns';
  code: string;
}

/**
 * Which way a forward added at run time goes: `inbound` listens on the host
 * and delivers to the guest (-u), `outbound` listens on the namespace's
 * loopback and delivers to the host's (-U, pasta only).
 */
export type ForwardDirection = 'inbound' | 'outbound';

/** What a run-time forward opened, so that removing it closes exactly that. */
interface RuntimeForward {
  readonly fam: AddressFamily;
  /** Binding slot of the permanent frame socket, or -1. */
  readonly slot: number;
  /** Side of the splice listener, or null when none was bound. */
  readonly spliceSide: 'host' | 'ns' | null;
}

/** Live object counts, for tests and status output. */
export interface UdpEngineStats {
  bindings: number;
  permanentSockets: number;
  spliceFlows: number;
}

const PORTS = 65536;

export class UdpEngine {
  readonly counters: UdpCounters = createCounters();

  private readonly sockets: SocketLayer;
  private readonly sink: FrameSink;
  private readonly clock: Clock;
  private readonly log: Logger;

  private readonly families: AddressFamily[];
  private readonly enabled = new Uint8Array(2);
  private readonly inbound: PortForwards;
  private readonly outbound: PortForwards;
  private readonly addresses: AddressMap;
  private readonly bindings = new BindingTable();
  private readonly splice: SpliceRelay | undefined;

  private readonly idleMs: number;
  private readonly sweepMs: number;
  private readonly maxBindings: number;
  private readonly evictMinIdleMs: number;
  private readonly drainRounds: number;
  private readonly scopeId6: number;
  private readonly hostLinkLocal6: Uint8Array | null;

  /** World -> guest: receive slab, and where each built frame starts/ends. */
  private readonly frameRecv: RecvBatch;
  private readonly frameOffsets: Uint32Array;
  private readonly frameLengths: Uint32Array;
  private readonly fields: FrameFields;
  private readonly srcScratch = new Uint8Array(ADDR_STRIDE);
  private readonly dstScratch = new Uint8Array(ADDR_STRIDE);
  /** Frames built and not yet handed to the sink, and their payload bytes. */
  private pendingFrames = 0;
  private pendingBytes = 0;
  /** Whether runs go to the sink as offload frames (it has sendSegmented and has not refused). */
  private segmenting: boolean;
  /** (offset, length) pairs of one offload frame. */
  private readonly runDesc = new Uint32Array(2 * MAX_SEGMENTS);

  /** Guest -> world: send descriptors and per-burst grouping. */
  private readonly guestSend: SendBatch;
  private readonly grouper: Grouper;
  private readonly parsed: GuestDatagrams;

  private readonly capLog: RateLimitedLog;
  private timer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  private readonly warnedWildcard = [false, false];
  /** Forwards added by addForward, keyed `${direction}/${family}/${port}`. */
  private readonly runtime = new Map<string, RuntimeForward>();
  private readonly permanentHandles: SocketHandle[] = [];
  /** The host's own addresses per family, bound by forwarded-port sockets in splice mode. */
  private readonly hostAddr: readonly [Uint8Array | undefined, Uint8Array | undefined];

  constructor(config: UdpEngineConfig, deps: UdpEngineDeps) {
    this.sockets = deps.sockets;
    this.sink = deps.frames;
    this.segmenting = deps.frames.sendSegmented !== undefined;
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

    this.idleMs = positive(config.idleTimeoutMs ?? 180_000, 'idleTimeoutMs');
    this.sweepMs = positive(config.sweepIntervalMs ?? 1000, 'sweepIntervalMs');
    this.maxBindings = atLeast(config.maxBindings ?? 4096, 1, 'maxBindings');
    this.evictMinIdleMs = config.evictMinIdleMs ?? 0;
    this.drainRounds = atLeast(config.drainRounds ?? 8, 1, 'drainRounds');
    this.scopeId6 = config.scopeId6 ?? 0;
    this.hostLinkLocal6 = config.hostLinkLocal6 ?? null;
    this.addresses = new AddressMap(config, this.idleMs);
    this.hostAddr = [config.hostAddress4, config.hostAddress6];

    const frameBatch = atLeast(config.frameBatch ?? 32, 16, 'frameBatch');
    this.frameRecv = createRecvBatch(frameBatch, FRAME_SLOT_SIZE, PAYLOAD_AT);
    this.frameOffsets = new Uint32Array(frameBatch);
    this.frameLengths = new Uint32Array(frameBatch);
    if (config.ourMac.length !== 6) throw new RangeError('ourMac must be 6 bytes');
    this.fields = {
      guestMac: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      ourMac: Uint8Array.from(config.ourMac),
      srcAddr: this.srcScratch,
      srcAt: 0,
      dstAddr: this.dstScratch,
      dstAt: 0,
      srcPort: 0,
      dstPort: 0,
      udpChecksum4: config.udpChecksum4 ?? false,
    };
    if (config.guestMac) this.setGuestMac(config.guestMac);

    const guestBatch = atLeast(config.guestBatch ?? 1024, 1, 'guestBatch');
    this.guestSend = createSendBatch(guestBatch);
    this.grouper = new Grouper(2 * PORTS, guestBatch);
    this.parsed = createGuestDatagrams(guestBatch);

    this.capLog = new RateLimitedLog(10_000, (m) => this.log.warn(m));

    if (config.splice) {
      this.splice = new SpliceRelay(
        {
          maxFlows: atLeast(config.maxSpliceFlows ?? 4096, 1, 'maxSpliceFlows'),
          batch: atLeast(config.spliceBatch ?? 128, 128, 'spliceBatch'),
          idleMs: this.idleMs,
          evictMinIdleMs: this.evictMinIdleMs,
          drainRounds: this.drainRounds,
        },
        { sockets: this.sockets, clock: this.clock, logger: this.log, counters: this.counters },
      );
    }
  }

  /** The guest's MAC, once the embedder has learnt it from the guest's frames. */
  setGuestMac(mac: Uint8Array): void {
    if (mac.length !== 6) throw new RangeError('guest MAC must be 6 bytes');
    copyBytes(this.fields.guestMac, 0, mac, 0, 6);
  }

  /**
   * Records an address the guest was seen using (the embedder may call it
   * for non-UDP traffic too; UDP sources are noted automatically).
   */
  noteGuestAddress(addr: Uint8Array): void {
    const fam = addr.length === 4 ? familyOf(4) : addr.length === 16 ? familyOf(6) : undefined;
    if (fam) this.addresses.noteGuestSource(fam, addr, 0);
  }

  /**
   * Opens the sockets of forwarded ports and starts the aging timer.
   * A port that cannot be bound is logged and skipped, as passt does; the
   * list of failures is returned so the embedder can decide to abort.
   */
  start(): ForwardFailure[] {
    if (this.started) throw new Error('UdpEngine already started');
    this.started = true;
    const failures: ForwardFailure[] = [];
    for (const l of this.inbound.listeners()) {
      const fam = familyOf(l.family) as AddressFamily;
      if (this.enabled[fam.index] === 1) this.openInbound(fam, l.port, l.target, l.bindAddress, failures);
    }
    if (this.splice) {
      for (const l of this.outbound.listeners()) {
        const fam = familyOf(l.family) as AddressFamily;
        if (this.enabled[fam.index] === 1) this.openSpliceListener(fam, 'ns', l.port, l.target, failures);
      }
    }
    this.timer = this.clock.every(this.sweepMs, () => this.sweep());
    return failures;
  }

  /**
   * Opens the sockets of one inbound forward, as start() does: in pasta a
   * loopback splice listener (unless the forward binds another address)
   * and a frame socket on the host's address; in passt a frame socket on
   * the wildcard or the given address.
   * @returns the binding slot of the frame socket (-1 if none) and whether a splice listener was bound
   */
  private openInbound(
    fam: AddressFamily,
    port: number,
    target: number,
    bindAddress: Uint8Array | null,
    failures: ForwardFailure[],
  ): { slot: number; spliced: boolean } {
    let spliced = false;
    const loopbackOnly = bindAddress !== null && fam.isLoopback(bindAddress, 0);
    if (this.splice && (bindAddress === null || loopbackOnly)) {
      spliced = this.openSpliceListener(fam, 'host', port, target, failures);
    }
    // In pasta, loopback belongs to the splice listeners, so the frame
    // socket binds the host's own address instead of the wildcard.
    if (this.splice && loopbackOnly) return { slot: -1, spliced };
    const address = bindAddress ?? (this.splice ? (this.hostAddr[fam.index] ?? null) : null);
    if (this.splice && address === null && !this.warnedWildcard[fam.index]) {
      this.warnedWildcard[fam.index] = true;
      this.log.warn(
        `udp: splice mode without hostAddress${fam.family}: forwarded ports bind the IPv${fam.family} ` +
          'wildcard address, which the kernel may refuse next to the loopback splice listeners',
      );
    }
    try {
      const h = this.sockets.open({ family: fam.family, side: 'host', address, port, v6only: true });
      const slot = BindingTable.slot(fam, target);
      this.bindings.setPermanent(slot, h);
      this.permanentHandles.push(h);
      this.sockets.watch(h, () => this.drainToGuest(fam, target, h));
      return { slot, spliced };
    } catch (e) {
      failures.push({ port, family: fam.family, side: 'host', code: errorCode(e) });
      this.log.warn(`udp: cannot bind IPv${fam.family} port ${port}: ${errorCode(e)}`);
      return { slot: -1, spliced };
    }
  }

  /**
   * Adds one forward at run time (pasta's `-u auto` / `-U auto`), on `port`
   * to the same port, with the sockets start() would open for it, for each
   * enabled family of `families` (default: both). A family on which the
   * port is already forwarded (from the configuration or an earlier call),
   * or is the target of a configured forward, is left alone. A dynamic
   * binding the guest opened on that port is replaced by the forward's
   * permanent socket. Ports that cannot be bound are logged and returned;
   * nothing is recorded for a family where nothing could be bound, so a
   * later call tries again.
   */
  addForward(direction: ForwardDirection, port: number, families: readonly (4 | 6)[] = [4, 6]): ForwardFailure[] {
    this.checkRuntime(direction, port);
    const failures: ForwardFailure[] = [];
    for (const fam of this.families) {
      if (!families.includes(fam.family)) continue;
      const key = `${direction}/${fam.family}/${port}`;
      if (this.runtime.has(key)) continue;
      if (direction === 'inbound') {
        const slot = BindingTable.slot(fam, port);
        if (this.inbound.isForwarded(fam, port) || this.bindings.permanent[slot] === 1) continue;
        if (this.bindings.handle[slot] !== -1) {
          this.log.debug(`udp: IPv${fam.family} binding on port ${port} replaced by a forward`);
          this.closeBinding(slot);
        }
        const opened = this.openInbound(fam, port, port, null, failures);
        if (opened.slot >= 0 || opened.spliced) {
          this.runtime.set(key, { fam, slot: opened.slot, spliceSide: opened.spliced ? 'host' : null });
        }
      } else {
        if (this.outbound.isForwarded(fam, port)) continue;
        if (this.openSpliceListener(fam, 'ns', port, port, failures)) {
          this.runtime.set(key, { fam, slot: -1, spliceSide: 'ns' });
        }
      }
    }
    return failures;
  }

  /**
   * Removes a forward added by addForward, closing its sockets (and the
   * splice flows through it), for each family of `families` (default:
   * both). Configured forwards are never removed.
   * @returns whether anything was removed
   */
  removeForward(direction: ForwardDirection, port: number, families: readonly (4 | 6)[] = [4, 6]): boolean {
    this.checkRuntime(direction, port);
    let removed = false;
    for (const family of families) {
      const key = `${direction}/${family}/${port}`;
      const f = this.runtime.get(key);
      if (!f) continue;
      this.runtime.delete(key);
      removed = true;
      if (f.slot >= 0) {
        const h = this.bindings.handle[f.slot] as number;
        const at = this.permanentHandles.indexOf(h);
        if (at >= 0) this.permanentHandles.splice(at, 1);
        this.closeBinding(f.slot);
      }
      if (f.spliceSide) this.splice?.removeListener(f.fam, f.spliceSide, port);
    }
    return removed;
  }

  /** Ports with a forward added at run time in `direction`, on any family, in order. */
  runtimeForwards(direction: ForwardDirection): number[] {
    const ports = new Set<number>();
    for (const key of this.runtime.keys()) {
      const [d, , p] = key.split('/');
      if (d === direction) ports.add(Number(p));
    }
    return [...ports].sort((a, b) => a - b);
  }

  private checkRuntime(direction: ForwardDirection, port: number): void {
    if (!this.started || this.stopped) throw new Error('UdpEngine is not running');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port ${port} is not in 1..65535`);
    if (direction === 'outbound' && !this.splice) throw new RangeError('outbound (-U) forwards need splice mode (pasta)');
  }

  /** Binds a splice listener; false (logged, and added to `failures`) when it cannot. */
  private openSpliceListener(
    fam: AddressFamily,
    side: 'host' | 'ns',
    port: number,
    target: number,
    failures: ForwardFailure[],
  ): boolean {
    if (!this.splice) return false;
    try {
      this.splice.addListener(fam, side, port, target);
      return true;
    } catch (e) {
      failures.push({ port, family: fam.family, side, code: errorCode(e) });
      this.log.warn(`udp splice: cannot bind IPv${fam.family} loopback port ${port} (${side}): ${errorCode(e)}`);
      return false;
    }
  }

  /** Closes every socket and stops the timer. The engine cannot be restarted. */
  stop(): void {
    this.stopped = true;
    this.runtime.clear();
    this.timer?.cancel();
    this.timer = undefined;
    for (let slot = 0; slot < 2 * PORTS; slot++) {
      if (this.bindings.handle[slot] !== -1) this.closeBinding(slot);
    }
    this.splice?.close();
  }

  stats(): UdpEngineStats {
    return {
      bindings: this.bindings.dynamicCount,
      permanentSockets: this.permanentHandles.length,
      spliceFlows: this.splice?.flowCount ?? 0,
    };
  }

  /** Runs the aging sweep now (the timer calls this every sweepIntervalMs). */
  sweep(): void {
    const now = this.clock.now();
    this.bindings.lru.sweep(now, this.idleMs, (slot) => {
      this.log.debug(
        `udp: IPv${BindingTable.familyIndexOf(slot) === 0 ? 4 : 6} binding on port ${BindingTable.portOf(slot)} idle, closed`,
      );
      this.closeBinding(slot);
      this.counters.events.bindingsAged++;
    });
    this.splice?.sweep(now);
  }

  private closeBinding(slot: number): void {
    const h = this.bindings.clear(slot);
    if (h === -1) return;
    this.sockets.unwatch(h);
    this.sockets.close(h);
  }

  // ---------------------------------------------------------------- guest -> world

  /**
   * Parses raw guest frames (Ethernet) and sends the UDP ones.
   * Frames that are not UDP are left to the caller; malformed ones are
   * counted in `counters.fromGuest.malformed`.
   * @returns how many frames were UDP and handled here
   */
  fromGuestFrames(slab: Uint8Array, offsets: ArrayLike<number>, lengths: ArrayLike<number>, count: number): number {
    const b = this.parsed;
    b.slab = slab;
    b.count = 0;
    let udp = 0;
    for (let i = 0; i < count; i++) {
      if (b.count === b.capacity) {
        this.fromGuest(b);
        b.count = 0;
      }
      const v = appendGuestFrame(b, slab, offsets[i] as number, lengths[i] as number);
      if (v === FrameVerdict.Udp) udp++;
      else if (v === FrameVerdict.Malformed) {
        udp++;
        this.counters.fromGuest.malformed++;
      }
    }
    if (b.count > 0) this.fromGuest(b);
    return udp;
  }

  /**
   * Sends a burst of parsed guest datagrams: grouped by (family, source
   * port), each group through its binding with one sendmmsg.
   */
  fromGuest(batch: GuestDatagrams): void {
    const c = this.counters.fromGuest;
    const g = this.grouper;
    const slab = batch.slab;
    let count = batch.count;
    if (count > g.capacity) {
      // Should not happen with a batch from createGuestDatagrams(guestBatch);
      // the excess is dropped rather than trusted.
      c.malformed += count - g.capacity;
      count = g.capacity;
    }
    g.reset();
    for (let i = 0; i < count; i++) {
      const fam = familyOf(batch.families[i] as number);
      const srcPort = batch.srcPorts[i] as number;
      const off = batch.payloadOffsets[i] as number;
      const len = batch.payloadLengths[i] as number;
      if (
        fam === undefined ||
        this.enabled[fam.index] !== 1 ||
        srcPort === 0 ||
        batch.dstPorts[i] === 0 ||
        off + len > slab.length
      ) {
        c.malformed++;
        continue;
      }
      this.addresses.noteGuestSource(fam, batch.srcAddrs, i * ADDR_STRIDE);
      g.add(BindingTable.slot(fam, srcPort), i);
    }
    const now = this.clock.now();
    for (let k = 0; k < g.groups; k++) this.sendGroup(batch, g.heads[k] as number, now);
  }

  private sendGroup(batch: GuestDatagrams, head: number, now: number): void {
    const c = this.counters.fromGuest;
    const fam = familyOf(batch.families[head] as number) as AddressFamily;
    const srcPort = batch.srcPorts[head] as number;
    const slot = BindingTable.slot(fam, srcPort);
    const sb = this.guestSend;
    sb.slab = batch.slab;
    const next = this.grouper.next;

    // Fill descriptors first: mapping may refuse some datagrams, and the
    // first datagram decides whether a new binding is bound link-local.
    let m = 0;
    let linkLocal = false;
    let last = head;
    for (let i = head; i >= 0; i = next[i] as number) {
      last = i;
      const kind = this.addresses.mapDestination(
        fam,
        batch.dstAddrs,
        i * ADDR_STRIDE,
        batch.dstPorts[i] as number,
        now,
        sb.addrs,
        m * ADDR_STRIDE,
      );
      if (kind === DestKind.Refused) {
        c.malformed++;
        continue;
      }
      if (kind === DestKind.LinkLocal && m === 0) linkLocal = true;
      sb.offsets[m] = batch.payloadOffsets[i] as number;
      sb.lengths[m] = batch.payloadLengths[i] as number;
      sb.families[m] = fam.family;
      sb.ports[m] = batch.dstPorts[i] as number;
      sb.scopeIds[m] = kind === DestKind.LinkLocal ? this.scopeId6 : 0;
      m++;
    }
    if (m === 0) return;

    let h = this.bindings.handle[slot] as number;
    if (h === -1) {
      h = this.openBinding(fam, srcPort, linkLocal, now, m);
      if (h === -1) return;
    } else {
      this.bindings.touch(slot, now);
    }
    // Replies go back to the address this port last sent from.
    copyBytes(this.bindings.guestAddr, slot * ADDR_STRIDE, batch.srcAddrs, last * ADDR_STRIDE, fam.addrLen);
    this.bindings.guestAddrKnown[slot] = 1;

    let sent = 0;
    try {
      sent = this.sockets.send(h, sb, 0, m);
    } catch (e) {
      this.log.debug(`udp: send from IPv${fam.family} port ${srcPort}: ${errorCode(e)}`);
    }
    let bytes = 0;
    for (let k = 0; k < sent; k++) bytes += sb.lengths[k] as number;
    c.datagrams += sent;
    c.bytes += bytes;
    c.sendError += m - sent;
  }

  /** Opens the binding for (fam, port), evicting at the cap; -1 (and counted drops of `m`) on failure. */
  private openBinding(fam: AddressFamily, port: number, linkLocal: boolean, now: number, m: number): SocketHandle {
    const c = this.counters.fromGuest;
    const lru = this.bindings.lru;
    if (lru.size >= this.maxBindings) {
      const victim = lru.oldest;
      const idle = victim < 0 ? 0 : now - (lru.lastUsed[victim] as number);
      if (victim < 0 || idle < this.evictMinIdleMs) {
        c.capReached += m;
        this.capLog.report(now, () => `udp: ${this.maxBindings} bindings reached, nothing idle to evict; dropping`);
        return -1;
      }
      this.closeBinding(victim);
      this.counters.events.bindingsEvicted++;
      this.capLog.report(
        now,
        () =>
          `udp: ${this.maxBindings} bindings reached, closed the least recently used ` +
          `(IPv${BindingTable.familyIndexOf(victim) === 0 ? 4 : 6} port ${BindingTable.portOf(victim)}, ` +
          `idle ${Math.round(idle / 1000)} s)`,
      );
    }
    const ll = linkLocal && fam.family === 6 && this.hostLinkLocal6 !== null;
    let h: SocketHandle;
    try {
      h = this.sockets.open({
        family: fam.family,
        side: 'host',
        address: ll ? this.hostLinkLocal6 : null,
        scopeId: ll ? this.scopeId6 : 0,
        port,
        v6only: true,
      });
    } catch (e) {
      c.noBinding += m;
      this.counters.events.openErrors++;
      this.log.debug(`udp: cannot bind IPv${fam.family} port ${port}: ${errorCode(e)}`);
      return -1;
    }
    const slot = BindingTable.slot(fam, port);
    this.bindings.setDynamic(slot, h, now);
    this.counters.events.bindingsOpened++;
    this.sockets.watch(h, () => this.drainToGuest(fam, port, h));
    return h;
  }

  // ---------------------------------------------------------------- world -> guest

  /**
   * Reads a host socket whose datagrams go to guest port `guestPort`, and
   * turns them into frames. Where the sink can segment (sendSegmented), a
   * run of consecutive datagrams from one peer with equal payloads (the last
   * may be shorter) leaves as one offload frame: headers are written once, in
   * front of the run's first payload, and the other payloads stay where
   * recvmmsg put them. Everything else, and everything when the sink cannot
   * segment, leaves frame by frame in one sendFrames call; frames keep their
   * order either way.
   */
  private drainToGuest(fam: AddressFamily, guestPort: number, h: SocketHandle): void {
    const slot = BindingTable.slot(fam, guestPort);
    const rb = this.frameRecv;
    const c = this.counters.toGuest;
    const f = this.fields;
    for (let round = 0; round < this.drainRounds; round++) {
      if (this.bindings.handle[slot] !== h) return; // closed (aged, evicted) meanwhile
      let n: number;
      try {
        n = this.sockets.recv(h, rb, rb.capacity);
      } catch (e) {
        this.log.debug(`udp: recv on IPv${fam.family} port ${guestPort}: ${errorCode(e)}`);
        return;
      }
      if (n <= 0) return;
      const now = this.clock.now();
      this.bindings.touch(slot, now);
      this.pendingFrames = 0;
      this.pendingBytes = 0;
      for (let i = 0; i < n; ) {
        const len = rb.lengths[i] as number;
        if (rb.families[i] !== fam.family || len > rb.slotSize - rb.offset) {
          c.malformed++;
          i++;
          continue;
        }
        const srcAt = i * ADDR_STRIDE;
        const srcPort = rb.ports[i] as number;
        this.addresses.rewriteSource(fam, rb.addrs, srcAt, srcPort, now, this.srcScratch, 0);
        const run = this.segmenting ? this.runLength(fam, i, n) : 1;
        if (this.bindings.guestAddrKnown[slot] === 1) {
          copyBytes(this.dstScratch, 0, this.bindings.guestAddr, slot * ADDR_STRIDE, fam.addrLen);
        } else if (!this.addresses.guestDestination(fam, this.srcScratch, 0, this.dstScratch, 0)) {
          c.noBinding += run;
          i += run;
          continue;
        }
        f.srcPort = srcPort;
        f.dstPort = guestPort;
        if (run > 1 && this.sendRun(fam, i, run)) {
          i += run;
          continue;
        }
        for (let k = i; k < i + run; k++) this.queueFrame(fam, k);
        i += run;
      }
      this.flushFrames(fam);
      if (n < rb.capacity) return;
    }
  }

  /**
   * How many datagrams from index `i` on can go as one offload frame: same
   * peer (address and port), the payload size of the first for all but the
   * last, the last no larger, within the segment and byte limits.
   */
  private runLength(fam: AddressFamily, i: number, n: number): number {
    const rb = this.frameRecv;
    const segment = rb.lengths[i] as number;
    if (segment === 0) return 1;
    const room = 65535 - 8 - fam.ipHeaderLen;
    let total = segment;
    let j = i + 1;
    for (; j < n && j - i < MAX_SEGMENTS; j++) {
      const len = rb.lengths[j] as number;
      if (len === 0 || len > segment || total + len > room) break;
      if (rb.families[j] !== fam.family || rb.ports[j] !== rb.ports[i]) break;
      if (!bytesEqual(rb.addrs, i * ADDR_STRIDE, rb.addrs, j * ADDR_STRIDE, fam.addrLen)) break;
      total += len;
      if (len < segment) {
        j++;
        break;
      }
    }
    return j - i;
  }

  /** Sends datagrams [i, i + run) as one offload frame; false when the sink cannot segment (then never asked again). */
  private sendRun(fam: AddressFamily, i: number, run: number): boolean {
    const rb = this.frameRecv;
    const c = this.counters.toGuest;
    const sink = this.sink;
    if (sink.sendSegmented === undefined) return false;
    let total = 0;
    for (let k = i; k < i + run; k++) total += rb.lengths[k] as number;
    const first = rb.lengths[i] as number;
    this.flushFrames(fam);
    const start = buildFrame(fam, rb.slab, i * rb.slotSize, total, this.fields, true);
    const d = this.runDesc;
    d[0] = start;
    d[1] = headerLength(fam) + first;
    for (let k = 1; k < run; k++) {
      d[2 * k] = (i + k) * rb.slotSize + rb.offset;
      d[2 * k + 1] = rb.lengths[i + k] as number;
    }
    let sent = 0;
    try {
      sent = sink.sendSegmented(rb.slab, d, run, first, fam.ipHeaderLen);
    } catch (e) {
      this.log.debug(`udp: frame sink (offload): ${errorCode(e)}`);
    }
    if (sent < 0) {
      this.segmenting = false;
      this.log.info('udp: the frame sink cannot segment UDP; sending frame by frame');
      return false;
    }
    if (sent >= run) {
      c.datagrams += run;
      c.bytes += total;
      this.counters.events.offloadFrames++;
    } else {
      c.sendError += run;
    }
    return true;
  }

  /** Builds datagram k's frame in place and queues it for the next flushFrames. */
  private queueFrame(fam: AddressFamily, k: number): void {
    const rb = this.frameRecv;
    const len = rb.lengths[k] as number;
    const q = this.pendingFrames;
    this.frameOffsets[q] = buildFrame(fam, rb.slab, k * rb.slotSize, len, this.fields);
    this.frameLengths[q] = frameLength(fam, len);
    this.pendingFrames = q + 1;
    this.pendingBytes += len;
  }

  /** Hands the queued frames to the sink in one call and counts the outcome. */
  private flushFrames(fam: AddressFamily): void {
    const frames = this.pendingFrames;
    if (frames === 0) return;
    const c = this.counters.toGuest;
    const rb = this.frameRecv;
    this.pendingFrames = 0;
    let accepted = 0;
    try {
      accepted = this.sink.sendFrames(rb.slab, this.frameOffsets, this.frameLengths, frames);
    } catch (e) {
      this.log.debug(`udp: frame sink: ${errorCode(e)}`);
    }
    if (accepted >= frames) {
      c.datagrams += frames;
      c.bytes += this.pendingBytes;
    } else {
      const headers = headerLength(fam);
      for (let k = 0; k < accepted; k++) c.bytes += (this.frameLengths[k] as number) - headers;
      c.datagrams += accepted;
      c.sendError += frames - accepted;
    }
    this.pendingBytes = 0;
  }
}

/** Datagrams in one offload frame at most (Linux segments up to 64 per UDP GSO skb comfortably; its limit is 128). */
const MAX_SEGMENTS = 64;

function positive(v: number, name: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number, got ${v}`);
  return v;
}

function atLeast(v: number, min: number, name: string): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}
