/**
 * Theory of operation.
 *
 * Bindings and splice flows are closed after a period without traffic
 * (180 s by default, like passt), and when their number reaches a cap the
 * least recently used one is evicted early. Both needs are met by one
 * structure: a doubly linked list of integer slots ordered by last use,
 * kept in typed arrays so that "touch" (move to the tail) and "remove" are
 * O(1) and allocate nothing.
 *
 *   head (least recently used) <-> ... <-> tail (just used)
 *
 * The aging sweep walks from the head and stops at the first slot that is
 * still fresh, so its cost is the number of expired entries, not the
 * number of live ones. Eviction at the cap takes the head.
 *
 * Timestamps are milliseconds from the injected Clock, stored in a
 * Float64Array (not object fields) so that writing them never boxes a
 * number.
 */

export class LruList {
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly linked: Uint8Array;
  /** Last-use time of each slot, in Clock milliseconds. */
  readonly lastUsed: Float64Array;
  private headSlot = -1;
  private tailSlot = -1;
  private count = 0;

  /** @param slots the number of distinct slot ids, 0..slots-1 */
  constructor(slots: number) {
    this.prev = new Int32Array(slots);
    this.next = new Int32Array(slots);
    this.linked = new Uint8Array(slots);
    this.lastUsed = new Float64Array(slots);
  }

  get size(): number {
    return this.count;
  }

  /** The least recently used slot, or -1 when empty. */
  get oldest(): number {
    return this.headSlot;
  }

  /** The slot used next after `slot` (toward the most recent), or -1. */
  after(slot: number): number {
    return this.linked[slot] === 1 ? (this.next[slot] as number) : -1;
  }

  has(slot: number): boolean {
    return this.linked[slot] === 1;
  }

  /** Marks `slot` used at `now`: appends it, or moves it to the tail. */
  touch(slot: number, now: number): void {
    this.lastUsed[slot] = now;
    if (this.linked[slot] === 1) {
      if (this.tailSlot === slot) return;
      this.unlink(slot);
    }
    this.linked[slot] = 1;
    this.count++;
    this.prev[slot] = this.tailSlot;
    this.next[slot] = -1;
    if (this.tailSlot >= 0) this.next[this.tailSlot] = slot;
    else this.headSlot = slot;
    this.tailSlot = slot;
  }

  remove(slot: number): void {
    if (this.linked[slot] === 1) this.unlink(slot);
  }

  private unlink(slot: number): void {
    const p = this.prev[slot] as number;
    const n = this.next[slot] as number;
    if (p >= 0) this.next[p] = n;
    else this.headSlot = n;
    if (n >= 0) this.prev[n] = p;
    else this.tailSlot = p;
    this.linked[slot] = 0;
    this.count--;
  }

  /**
   * Calls `expire(slot)` for every slot idle for more than `idleMs` at
   * `now`, oldest first. `expire` must `remove` the slot.
   */
  sweep(now: number, idleMs: number, expire: (slot: number) => void): void {
    for (;;) {
      const h = this.headSlot;
      if (h < 0 || now - (this.lastUsed[h] as number) <= idleMs) return;
      expire(h);
      if (this.headSlot === h) this.unlink(h); // defend against a callback that forgot
    }
  }
}

/**
 * Rate-limits a repeated warning: the first occurrence is logged at once,
 * later ones at most every `intervalMs`, with the number suppressed in
 * between. A guest scanning ports must not be able to flood the log.
 */
export class RateLimitedLog {
  private last = -Infinity;
  private suppressed = 0;
  constructor(
    private readonly intervalMs: number,
    private readonly emit: (msg: string) => void,
  ) {}

  report(now: number, msg: () => string): void {
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    const extra = this.suppressed > 0 ? ` (${this.suppressed} similar events since the last report)` : '';
    this.suppressed = 0;
    this.last = now;
    this.emit(msg() + extra);
  }
}
