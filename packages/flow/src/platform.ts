/**
 * Theory of operation.
 *
 * The small services the transport cores borrow from their embedder, kept as
 * interfaces so tests can substitute deterministic versions:
 * - `Clock`: monotonic milliseconds and a repeating timer. Production passes
 *   `systemClock` (performance.now and setInterval); tests pass a fake
 *   whose time only moves when the test says so, which is how aging is
 *   tested without waiting three minutes.
 * - `Logger`: where rare events go (a binding evicted at the cap, a socket
 *   that could not be opened). Never called per datagram.
 * - `FrameSink`: where finished Ethernet frames for the guest go: the tap
 *   device (pasta) or qemu's stream socket (passt, see stream-writer.ts).
 *   A sink whose device can cut one large UDP frame into datagrams itself
 *   (a tap with a virtio-net header: UDP segmentation offload) also offers
 *   `sendSegmented`, and a burst from one peer then crosses into the guest
 *   as one write instead of one per datagram.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic time in milliseconds. */
  now(): number;
  /** Runs `fn` every `ms` milliseconds until cancelled. */
  every(ms: number, fn: () => void): TimerHandle;
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * Receives finished frames for the guest. Frame i is
 * `slab[offsets[i], offsets[i] + lengths[i])`, and the 4 bytes before each
 * frame are free for the sink to use (passt writes qemu's length prefix
 * there). The slab is reused as soon as `sendFrames` returns, so the sink
 * must write or copy synchronously.
 * @returns how many frames were accepted; the rest count as send errors.
 */
export interface FrameSink {
  sendFrames(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  /**
   * Optional: one run of `count` datagrams from one peer to one guest port,
   * every payload `segment` bytes but the last (which may be shorter), sent
   * as a single segmentation-offload frame. `desc` holds (offset, length)
   * pairs into `slab`: the first is the Ethernet/IP/UDP headers, whose
   * lengths cover the whole run and whose UDP checksum field holds the
   * pseudo-header sum, followed by the first payload; each further pair is
   * a payload where it was received. `ipHeaderLen` is 20 or 40.
   * @returns `count` when written, 0 when refused (counted as send errors),
   *   -1 when the device cannot segment at all: the engine then stops
   *   asking and sends such runs frame by frame.
   */
  sendSegmented?(
    slab: Uint8Array,
    desc: Uint32Array,
    count: number,
    segment: number,
    ipHeaderLen: number,
  ): number;
}

/** Node's clock: performance.now() and an unref'd setInterval so timers never keep the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};

/** A logger that discards everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };
