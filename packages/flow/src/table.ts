/**
 * Theory of operation.
 *
 * Every conversation we translate, whatever its transport, is one *flow*
 * in one table, as in the C implementation's flow.c. A flow has two sides:
 * the side that started it (INITIATOR) and the side we carried it to
 * (TARGET). Each side names the interface it lives on (`Pif`: the guest's
 * link, the host's sockets, or pasta's namespace sockets for splice) and
 * four values seen from that interface: our address and port there, and
 * the endpoint's address and port. A UDP datagram from the guest at
 * 198.51.100.2:40000 to the gateway's port 53 is one flow:
 *
 *   INITIATOR  pif TAP   endpoint 198.51.100.2:40000  ours 198.51.100.1:53
 *   TARGET     pif HOST  endpoint 127.0.0.1:53        ours *:40000
 *
 * and the answer from 127.0.0.1:53 is found by the TARGET side's tuple,
 * translated by reading the INITIATOR side. ICMP echo uses the identifier
 * where ports would be; TCP will use its ports.
 *
 * Addresses are stored in one representation for both families: 16 bytes,
 * IPv4 as v4-mapped IPv6 (address.ts, `storeMapped`). Callers hand in the
 * packet's own 4 or 16 bytes at an offset; hashing and comparison read
 * them as if mapped, so nothing is copied to look a flow up.
 *
 * Storage is flat and allocated once: typed arrays indexed by flow number
 * (struct of arrays), a free list, and an open-addressing hash of the
 * sides, keyed by (protocol, interface, endpoint, ours) and seeded with a
 * random key so that a guest cannot aim for collisions. Both sides of a
 * flow may be hashed; an entry is `2 * flow + side + 1` (0 is empty),
 * probing is linear and removal shifts the following entries back, so
 * there are no tombstones and lookups never degrade over time. The table
 * holds at least four slots per flow (both sides at half load).
 *
 * Life cycle: `alloc` (typed: UDP, ICMP, later TCP), `setSide` and `hash`
 * for each side the transport wants found, `touch` on traffic, then freed
 * by the transport (`free`), by the aging sweep after its type's idle
 * time, or by eviction at the cap. Aging and eviction call the type's
 * `release` hook first, so the transport closes what the flow owned (a
 * socket) before the slot is reused. Each type keeps its flows on its own
 * least-recently-used list: the sweep walks from the oldest and stops at
 * the first fresh one, and eviction takes the oldest head among the types.
 * Per-type state (a socket handle, a guest identifier) lives in the
 * transport's own arrays indexed by flow number: the table never knows
 * what a transport keeps.
 */
import { LruList, RateLimitedLog } from './aging.js';
import { familyOf, loadMapped, storeMapped, type AddressFamily, type Family } from './address.js';
import { hashTuple, mappedEquals, randomSeed } from './hash.js';
import { listFlows, type FlowInfo } from './listing.js';
import type { Logger } from './platform.js';

/** The interface a flow side lives on. */
export const Pif = { None: 0, Tap: 1, Host: 2, Splice: 3 } as const;
export type Pif = (typeof Pif)[keyof typeof Pif];

/** A flow's transport type; the index of its aging rule. */
export const FlowType = { None: 0, Udp: 1, Icmp: 2, Tcp: 3, UdpSplice: 4, TcpSplice: 5 } as const;
export type FlowType = (typeof FlowType)[keyof typeof FlowType];
const TYPES = 6;
/** How far eviction looks past pinned flows in each type's LRU order before giving up on that type. */
const PINNED_WALK = 64;
/** Flow types by name, for log lines and listings. */
export const TYPE_NAMES = ['none', 'udp', 'icmp', 'tcp', 'udp-splice', 'tcp-splice'] as const;

export const INITIATOR = 0;
export const TARGET = 1;
export type SideIndex = 0 | 1;

/** Why a flow was released. */
export type ReleaseReason = 'aged' | 'evicted';

/** What a transport registers for its flow type. */
export interface FlowTypeRule {
  /** Idle time after which the sweep frees a flow of this type, ms. */
  readonly idleMs: number;
  /** Called before the table frees a flow by aging or eviction; close what the flow owns. */
  release(flow: number, reason: ReleaseReason): void;
}

export interface FlowTableOptions {
  /** Most live flows (default 16384). */
  capacity?: number;
  /** Never evict a flow idle for less than this (default 0); the new flow is refused instead. */
  evictMinIdleMs?: number;
  /** Hash key; random by default. Tests fix it. */
  seed?: number;
  /** log2 of the hash size; default fits four slots per flow. Tests shrink it to force collisions. */
  hashBits?: number;
  logger?: Logger;
}

/** Per side: our address (16 bytes) then the endpoint's (16 bytes). */
const SIDE_ADDR = 32;

export class FlowTable {
  readonly capacity: number;
  private readonly type: Uint8Array;
  private readonly proto: Uint8Array;
  private readonly family: Uint8Array;
  private readonly pif: Uint8Array;
  private readonly hashed: Uint8Array;
  /** Flows eviction passes over (pin). */
  private readonly pinned: Uint8Array;
  /** Per side: ours at +0, endpoint at +16. */
  private readonly addr: Uint8Array;
  /** Per side: [ours, endpoint]. */
  private readonly port: Uint16Array;
  private readonly freeList: Int32Array;
  private freeCount: number;
  private readonly buckets: Int32Array;
  private readonly mask: number;
  private readonly seed: number;
  private readonly lru: LruList[] = [];
  private readonly rules: (FlowTypeRule | undefined)[] = new Array<FlowTypeRule | undefined>(TYPES).fill(undefined);
  private readonly live = new Uint32Array(TYPES);
  private readonly evictMinIdleMs: number;
  private readonly capLog: RateLimitedLog | undefined;
  /** Flows freed by eviction, per type (counters). */
  readonly evicted = new Uint32Array(TYPES);
  /** Flows freed by aging, per type (counters). */
  readonly aged = new Uint32Array(TYPES);

  constructor(o: FlowTableOptions = {}) {
    const cap = o.capacity ?? 16384;
    if (!Number.isInteger(cap) || cap < 1 || cap > 1 << 22) throw new RangeError(`flow capacity must be 1..${1 << 22}, got ${cap}`);
    this.capacity = cap;
    this.type = new Uint8Array(cap);
    this.proto = new Uint8Array(cap);
    this.family = new Uint8Array(cap);
    this.pif = new Uint8Array(2 * cap);
    this.hashed = new Uint8Array(2 * cap);
    this.pinned = new Uint8Array(cap);
    this.addr = new Uint8Array(2 * cap * SIDE_ADDR);
    this.port = new Uint16Array(4 * cap);
    this.freeList = new Int32Array(cap);
    // Lowest flow numbers first, so listings read naturally.
    for (let i = 0; i < cap; i++) this.freeList[i] = cap - 1 - i;
    this.freeCount = cap;
    let bits = o.hashBits ?? Math.max(4, Math.ceil(Math.log2(4 * cap)));
    if (bits < 1 || bits > 24) throw new RangeError(`hashBits must be 1..24, got ${bits}`);
    if (1 << bits < 2 * cap) bits = Math.ceil(Math.log2(2 * cap));
    this.buckets = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.seed = (o.seed ?? randomSeed()) >>> 0;
    for (let t = 0; t < TYPES; t++) this.lru.push(new LruList(cap));
    this.evictMinIdleMs = o.evictMinIdleMs ?? 0;
    const log = o.logger;
    this.capLog = log ? new RateLimitedLog(10_000, (m) => log.warn(m)) : undefined;
  }

  /** Sets the aging rule and release hook of a flow type; a transport calls it once. */
  register(type: FlowType, rule: FlowTypeRule): void {
    if (type === FlowType.None) throw new RangeError('cannot register FlowType.None');
    if (!(rule.idleMs > 0)) throw new RangeError(`idleMs must be positive, got ${rule.idleMs}`);
    this.rules[type] = rule;
  }

  /** Live flows in all. */
  get size(): number {
    return this.capacity - this.freeCount;
  }

  /** Live flows of one type. */
  countOf(type: FlowType): number {
    return this.live[type] as number;
  }

  /** The least recently used flow of one type, or -1: for a transport's own cap. */
  oldest(type: FlowType): number {
    return (this.lru[type] as LruList).oldest;
  }

  /**
   * A new flow of `type`, or -1 when the table is full and nothing may be
   * evicted. At the cap the least recently used flow of any type goes
   * (its type's release hook first) with a rate-limited log line.
   */
  alloc(type: FlowType, protocol: number, family: Family, now: number): number {
    if (this.rules[type] === undefined) throw new Error(`flow type ${TYPE_NAMES[type]} is not registered`);
    if (this.freeCount === 0 && !this.evictOldest(now)) return -1;
    const f = this.freeList[--this.freeCount] as number;
    this.type[f] = type;
    this.proto[f] = protocol;
    this.family[f] = family;
    this.pif[2 * f] = Pif.None;
    this.pif[2 * f + 1] = Pif.None;
    this.live[type] = (this.live[type] as number) + 1;
    (this.lru[type] as LruList).touch(f, now);
    return f;
  }

  /**
   * Keeps flow f from eviction at the cap, or lets it go again: an
   * established TCP connection is worth more than a SYN from a flood, so a
   * flood evicts half-open connections and idle datagram flows, never a
   * live connection. Aging still applies.
   */
  pin(f: number, on: boolean): void {
    this.pinned[f] = on ? 1 : 0;
  }

  private evictOldest(now: number): boolean {
    let victim = -1;
    let oldest = Infinity;
    for (let t = 1; t < TYPES; t++) {
      const l = this.lru[t] as LruList;
      // The oldest flow of this type that is not pinned, within a few steps.
      let h = l.oldest;
      for (let k = 0; h >= 0 && this.pinned[h] === 1 && k < PINNED_WALK; k++) h = l.after(h);
      if (h >= 0 && this.pinned[h] !== 1 && (l.lastUsed[h] as number) < oldest) {
        oldest = l.lastUsed[h] as number;
        victim = h;
      }
    }
    const idle = now - oldest;
    if (victim < 0 || idle < this.evictMinIdleMs) {
      this.capLog?.report(now, () => `flow: ${this.capacity} flows in use, none idle enough to evict; refusing new ones`);
      return false;
    }
    const t = this.type[victim] as FlowType;
    this.capLog?.report(
      now,
      () => `flow: ${this.capacity} flows in use, evicted the least recently used (${TYPE_NAMES[t]} flow ${victim}, idle ${Math.round(idle / 1000)} s)`,
    );
    (this.rules[t] as FlowTypeRule).release(victim, 'evicted');
    this.evicted[t] = (this.evicted[t] as number) + 1;
    if (this.type[victim] !== FlowType.None) this.free(victim);
    return true;
  }

  /**
   * Sets one side's interface and tuple. Addresses are read as `fam.addrLen`
   * bytes at the given offsets; `ourAddr` null means unspecified.
   */
  setSide(
    f: number,
    side: SideIndex,
    pif: Pif,
    fam: AddressFamily,
    ourAddr: Uint8Array | null,
    ourAt: number,
    ourPort: number,
    endAddr: Uint8Array,
    endAt: number,
    endPort: number,
  ): void {
    const s = 2 * f + side;
    if (this.hashed[s] === 1) this.unhash(s);
    this.pif[s] = pif;
    const base = s * SIDE_ADDR;
    if (ourAddr === null) storeMapped(fam, this.addr, base, fam.any, 0);
    else storeMapped(fam, this.addr, base, ourAddr, ourAt);
    storeMapped(fam, this.addr, base + 16, endAddr, endAt);
    this.port[2 * s] = ourPort;
    this.port[2 * s + 1] = endPort;
  }

  /** Makes a side findable by `lookup`. */
  hash(f: number, side: SideIndex): void {
    const s = 2 * f + side;
    if (this.hashed[s] === 1) return;
    let b = this.hashStored(s) & this.mask;
    while (this.buckets[b] !== 0) b = (b + 1) & this.mask;
    this.buckets[b] = s + 1;
    this.hashed[s] = 1;
  }

  /**
   * The flow side whose (protocol, interface, endpoint, ours) tuple this
   * is, as `2 * flow + side`, or -1. Addresses are the packet's own bytes.
   */
  lookup(
    protocol: number,
    pif: Pif,
    fam: AddressFamily,
    endAddr: Uint8Array,
    endAt: number,
    endPort: number,
    ourAddr: Uint8Array,
    ourAt: number,
    ourPort: number,
  ): number {
    let b = hashTuple(this.seed, protocol, pif, fam.family, endAddr, endAt, endPort, ourAddr, ourAt, ourPort) & this.mask;
    for (;;) {
      const e = this.buckets[b] as number;
      if (e === 0) return -1;
      const s = e - 1;
      const f = s >> 1;
      if (
        this.pif[s] === pif &&
        this.proto[f] === protocol &&
        this.family[f] === fam.family &&
        this.port[2 * s + 1] === endPort &&
        this.port[2 * s] === ourPort &&
        mappedEquals(fam, this.addr, s * SIDE_ADDR + 16, endAddr, endAt) &&
        mappedEquals(fam, this.addr, s * SIDE_ADDR, ourAddr, ourAt)
      ) {
        return s;
      }
      b = (b + 1) & this.mask;
    }
  }

  /** Marks traffic on a flow now: it moves to the fresh end of its type's list. */
  touch(f: number, now: number): void {
    (this.lru[this.type[f] as number] as LruList).touch(f, now);
  }

  /** Last traffic on a flow, Clock ms. */
  lastUsed(f: number): number {
    return (this.lru[this.type[f] as number] as LruList).lastUsed[f] as number;
  }

  /** Frees a flow now (the transport's own end of a flow: it has already closed what it owned). */
  free(f: number): void {
    const t = this.type[f] as number;
    if (t === FlowType.None) return;
    if (this.hashed[2 * f] === 1) this.unhash(2 * f);
    if (this.hashed[2 * f + 1] === 1) this.unhash(2 * f + 1);
    (this.lru[t] as LruList).remove(f);
    this.pinned[f] = 0;
    this.type[f] = FlowType.None;
    this.live[t] = (this.live[t] as number) - 1;
    this.freeList[this.freeCount++] = f;
  }

  /** Frees every flow idle past its type's rule, after its release hook. */
  sweep(now: number): void {
    for (let t = 1; t < TYPES; t++) {
      const rule = this.rules[t];
      if (rule === undefined) continue;
      (this.lru[t] as LruList).sweep(now, rule.idleMs, (f) => {
        rule.release(f, 'aged');
        this.aged[t] = (this.aged[t] as number) + 1;
        if (this.type[f] !== FlowType.None) this.free(f);
      });
    }
  }

  typeOf(f: number): FlowType {
    return this.type[f] as FlowType;
  }

  familyOf(f: number): AddressFamily {
    return familyOf(this.family[f] as number) as AddressFamily;
  }

  pifOf(f: number, side: SideIndex): Pif {
    return this.pif[2 * f + side] as Pif;
  }

  ourPort(f: number, side: SideIndex): number {
    return this.port[4 * f + 2 * side] as number;
  }

  endPort(f: number, side: SideIndex): number {
    return this.port[4 * f + 2 * side + 1] as number;
  }

  /** Writes our address on `side` in packet form (4 or 16 bytes) to out[outAt..]. */
  ourAddr(f: number, side: SideIndex, out: Uint8Array, outAt: number): void {
    this.copyOut(f, (2 * f + side) * SIDE_ADDR, out, outAt);
  }

  /** Writes the endpoint's address on `side` in packet form to out[outAt..]. */
  endAddr(f: number, side: SideIndex, out: Uint8Array, outAt: number): void {
    this.copyOut(f, (2 * f + side) * SIDE_ADDR + 16, out, outAt);
  }

  private copyOut(f: number, at: number, out: Uint8Array, outAt: number): void {
    loadMapped(this.familyOf(f), out, outAt, this.addr, at);
  }

  /** Every live flow, in text (allocates: for counters and a control socket, not for data paths). */
  list(now: number): FlowInfo[] {
    return listFlows(this, now);
  }

  private hashStored(s: number): number {
    const f = s >> 1;
    const base = s * SIDE_ADDR;
    // Stored addresses are already mapped: hash them as IPv6 bytes.
    return hashTuple(
      this.seed,
      this.proto[f] as number,
      this.pif[s] as number,
      this.family[f] as number,
      this.addr,
      base + 16,
      this.port[2 * s + 1] as number,
      this.addr,
      base,
      this.port[2 * s] as number,
      true,
    );
  }

  /** Removes side `s` from the hash and shifts the following run back over the hole. */
  private unhash(s: number): void {
    const m = this.mask;
    let b = this.hashStored(s) & m;
    while (this.buckets[b] !== s + 1) {
      if (this.buckets[b] === 0) throw new Error(`flow table: side ${s} missing from its hash chain`);
      b = (b + 1) & m;
    }
    this.hashed[s] = 0;
    let hole = b;
    let j = b;
    for (;;) {
      j = (j + 1) & m;
      const e = this.buckets[j] as number;
      if (e === 0) break;
      const home = this.hashStored(e - 1) & m;
      // Move e into the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        this.buckets[hole] = e;
        hole = j;
      }
    }
    this.buckets[hole] = 0;
  }
}

