/**
 * Theory of operation.
 *
 * A batch of guest datagrams interleaves flows; each flow should leave
 * through its own socket in one sendmmsg(), and datagrams of one flow must
 * keep their order. `Grouper` threads the messages of a batch into one
 * chain per key (a linked list through a `next` array) and lists the keys
 * in order of first appearance, in O(n) and without allocating: the
 * per-key tables are stamped with a batch number instead of being cleared.
 */

export class Grouper {
  private readonly stamp: Uint32Array;
  private readonly tail: Int32Array;
  /** Next message of the same key, -1 at the end of a chain. */
  readonly next: Int32Array;
  /** First message of each group, in order of first appearance. */
  readonly heads: Int32Array;
  groups = 0;
  private epoch = 0;

  /**
   * @param keySpace keys are integers in [0, keySpace)
   * @param capacity the largest batch
   */
  constructor(keySpace: number, capacity: number) {
    this.stamp = new Uint32Array(keySpace);
    this.tail = new Int32Array(keySpace);
    this.next = new Int32Array(capacity);
    this.heads = new Int32Array(capacity);
  }

  get capacity(): number {
    return this.next.length;
  }

  /** Starts a new batch. */
  reset(): void {
    this.groups = 0;
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      // After 2^32 batches, stale stamps could collide: clear once.
      this.stamp.fill(0);
      this.epoch = 1;
    }
  }

  /** Appends message `i` (increasing) to the chain of `key`. */
  add(key: number, i: number): void {
    this.next[i] = -1;
    if (this.stamp[key] !== this.epoch) {
      this.stamp[key] = this.epoch;
      this.heads[this.groups++] = i;
    } else {
      this.next[this.tail[key] as number] = i;
    }
    this.tail[key] = i;
  }
}
