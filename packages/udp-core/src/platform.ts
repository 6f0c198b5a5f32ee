/**
 * Theory of operation.
 *
 * The small services udp-core borrows from its embedder, kept as
 * interfaces so tests can substitute deterministic versions:
 * - `Clock`: monotonic milliseconds and a repeating timer. Production passes
 *   `systemClock` (performance.now and setInterval); tests pass a fake
 *   whose time only moves when the test says so, which is how aging is
 *   tested without waiting three minutes.
 * - `Logger`: where rare events go (a binding evicted at the cap, a socket
 *   that could not be opened). Never called per datagram.
 * - `FrameSink`: where finished Ethernet frames for the guest go: the tap
 *   device (pasta) or qemu's stream socket (passt, see stream-writer.ts).
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
