/**
 * Frames to and from a tap device (pasta).
 *
 * A tap gives one frame per read() and takes one per write(). The reader
 * drains the device in batches into a slab allocated once, slot by slot,
 * and hands the batch on; the writer sends udp-core's finished frames with
 * one native call per batch. When the tap's queue is full, frames are
 * dropped and counted: a tap never blocks, and UDP tolerates loss better
 * than a stalled process.
 */
import { READABLE, Watcher, readBatch, writeBatch, write } from "@x/syscalls";
import type { FrameSink } from "@x/udp-core";

/** Room for the largest frame a tap can carry (65520 MTU + Ethernet header), rounded. */
export const TAP_SLOT = 65536 + 64;

export type FramesHandler = (slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number) => void;

export class TapReader {
  private readonly slab: Uint8Array;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private watcher: Watcher | undefined;
  frames = 0;
  errors = 0;

  constructor(
    private readonly fd: number,
    private readonly onFrames: FramesHandler,
    private readonly batch = 64,
    /** Bytes left free before each frame (udp-core writes replies in place). */
    private readonly headroom = 4,
  ) {
    this.slab = new Uint8Array(batch * TAP_SLOT);
    this.offsets = new Uint32Array(batch);
    this.lengths = new Uint32Array(batch);
    for (let i = 0; i < batch; i++) this.offsets[i] = i * TAP_SLOT + headroom;
  }

  start(): void {
    this.watcher = new Watcher(this.fd, READABLE, () => this.drain());
  }

  /** Reads until the tap is empty (bounded rounds, so sockets get their turn). */
  drain(): void {
    for (let round = 0; round < 16; round++) {
      let n: number;
      try {
        n = readBatch(this.fd, this.slab, TAP_SLOT, this.headroom, this.batch, this.lengths);
      } catch {
        this.errors++;
        return;
      }
      if (n === 0) return;
      this.frames += n;
      this.onFrames(this.slab, this.offsets, this.lengths, n);
      if (n < this.batch) return;
    }
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

export class TapSink implements FrameSink {
  private readonly desc: Uint32Array;
  frames = 0;
  dropped = 0;
  onFrame: ((frame: Uint8Array) => void) | undefined;

  constructor(
    private readonly fd: number,
    capacity = 1024,
  ) {
    this.desc = new Uint32Array(capacity * 2);
  }

  sendFrames(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    const n = Math.min(count, this.desc.length / 2);
    for (let i = 0; i < n; i++) {
      this.desc[2 * i] = offsets[i] as number;
      this.desc[2 * i + 1] = lengths[i] as number;
      if (this.onFrame) {
        const o = offsets[i] as number;
        this.onFrame(slab.subarray(o, o + (lengths[i] as number)));
      }
    }
    let done = 0;
    while (done < n) {
      let k: number;
      try {
        k = writeBatch(this.fd, slab, done === 0 ? this.desc : this.desc.subarray(2 * done), n - done);
      } catch {
        // The kernel refused a frame (EIO while the link is down, say).
        // FrameSink's contract is "the first `done` were written", so stop
        // here: this frame and the rest of the batch are udp-core's send
        // errors, and counted as dropped here.
        break;
      }
      if (k === 0) break;
      done += k;
    }
    this.frames += done;
    this.dropped += count - done;
    return done;
  }

  /** Sends one frame (responders' replies). */
  sendOne(frame: Uint8Array): boolean {
    this.onFrame?.(frame);
    try {
      const ok = write(this.fd, frame) > 0;
      if (ok) this.frames++;
      else this.dropped++;
      return ok;
    } catch {
      this.dropped++;
      return false;
    }
  }
}
