/**
 * Theory of operation.
 *
 * passt talks to qemu over a UNIX stream socket (qemu's `-netdev stream`),
 * where each Ethernet frame is preceded by its length as a 4-byte
 * big-endian number. A stream has no message boundaries, which gives two
 * rules:
 *
 * 1. A short write must be completed before anything else is written. If
 *    half a frame went out and the next write started with a fresh length
 *    prefix, qemu would read payload bytes as a length and lose framing for
 *    good. So whatever a write leaves behind is kept and written first,
 *    ahead of any newer frame.
 * 2. Writes are grouped into messages of at most 32767 bytes, as passt
 *    does: qemu drops the connection on larger ones. A single frame larger
 *    than that is written alone.
 *
 * `QemuStreamSink` is a FrameSink. On the fast path (nothing pending) it
 * writes each frame's length prefix into the 4 spare bytes the frame
 * builder leaves in front of it, and hands the socket views of the frames
 * where they lie: no payload copy. When the socket cannot take everything,
 * the remainder of the cut message and any later frames are copied into a
 * bounded queue (a preallocated byte buffer), written out on the next
 * `onWritable()` or before the next frames. A frame that does not fit in
 * the queue is dropped and counted: UDP may be lost, the process must not
 * block and memory must not grow.
 *
 * Queue layout: `buf[head, tail)` holds length-prefixed frames back to
 * back; `cutEnd`, when set, is where the message that was cut short ends.
 */
import { get32, set32 } from '@x/l2';
import type { FrameSink } from './platform.js';

/** The embedder's non-blocking stream socket. */
export interface StreamWriter {
  /** Writes the concatenation of `parts`; returns bytes written, 0 if it would block. May throw (EPIPE...). */
  writev(parts: Uint8Array[]): number;
}

export interface QemuStreamOptions {
  /** Queue size in bytes (default 1 MiB, at least 128 KiB so any frame's remainder fits). */
  queueBytes?: number;
  /** Largest message (default 32767, what qemu accepts). */
  maxMessage?: number;
  /** Told true when there is pending data to flush on writability, false when there is none. */
  onWantWritable?: (want: boolean) => void;
}

export interface StreamStats {
  /** Frames committed to the stream: written, or queued behind a short write. */
  frames: number;
  /** Their bytes, length prefixes included. */
  bytes: number;
  /** Frames dropped because the queue was full (or the stream failed). */
  dropped: number;
  /** Writes that went out partially or not at all. */
  shortWrites: number;
  writeErrors: number;
}

const PREFIX = 4;
const MIN_QUEUE = 128 * 1024;

export class QemuStreamSink implements FrameSink {
  readonly stats: StreamStats = { frames: 0, bytes: 0, dropped: 0, shortWrites: 0, writeErrors: 0 };
  private readonly buf: Uint8Array;
  private head = 0;
  private tail = 0;
  private cutEnd = -1;
  private wanting = false;
  private readonly maxMessage: number;
  private readonly parts: Uint8Array[] = [];
  private readonly one: Uint8Array[] = [];
  private readonly onWant: ((want: boolean) => void) | undefined;

  constructor(
    private readonly writer: StreamWriter,
    opts: QemuStreamOptions = {},
  ) {
    const q = opts.queueBytes ?? 1 << 20;
    if (!(q >= MIN_QUEUE)) throw new RangeError(`queueBytes must be at least ${MIN_QUEUE}`);
    this.buf = new Uint8Array(q);
    this.maxMessage = opts.maxMessage ?? 32767;
    if (!(this.maxMessage >= 64)) throw new RangeError('maxMessage must be at least 64');
    this.onWant = opts.onWantWritable;
  }

  /** Bytes waiting in the queue (including a cut message's remainder). */
  get queuedBytes(): number {
    return this.tail - this.head;
  }

  sendFrames(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    if (this.tail > this.head) this.flush();
    let accepted = 0;
    let i = 0;
    // Fast path: frames go straight from the slab while nothing is pending.
    while (i < count && this.tail === this.head) {
      const first = i;
      let total = 0;
      const parts = this.parts;
      parts.length = 0;
      do {
        const off = offsets[i] as number;
        const len = lengths[i] as number;
        const size = PREFIX + len;
        if (parts.length > 0 && total + size > this.maxMessage) break;
        set32(slab, off - PREFIX, len);
        parts.push(slab.subarray(off - PREFIX, off + len));
        total += size;
        i++;
      } while (i < count);
      let written: number;
      try {
        written = this.writer.writev(parts);
      } catch {
        this.stats.writeErrors++;
        this.stats.dropped += count - first;
        parts.length = 0;
        return accepted;
      }
      parts.length = 0;
      if (written >= total) {
        this.countOut(i - first, total);
        accepted += i - first;
        continue;
      }
      this.stats.shortWrites++;
      // Keep the rest of the cut message; its frames already started count as sent.
      let done = 0;
      let k = first;
      for (; k < i; k++) {
        const size = PREFIX + (lengths[k] as number);
        if (done + size > written) break;
        done += size;
      }
      // Frames from k on go to the (empty) queue; the first may be partly
      // written already (skip bytes), which makes this a cut message.
      let skip = written - done;
      for (; k < i; k++) {
        const off = offsets[k] as number;
        const len = lengths[k] as number;
        this.buf.set(slab.subarray(off - PREFIX + skip, off + len), this.tail);
        this.tail += PREFIX + len - skip;
        skip = 0;
      }
      if (written > 0) this.cutEnd = this.tail;
      this.countOut(i - first, total);
      accepted += i - first;
      this.want(true);
    }
    // Slow path: append to the queue behind what is pending.
    for (; i < count; i++) {
      if (this.enqueue(slab, offsets[i] as number, lengths[i] as number)) accepted++;
      else this.stats.dropped++;
    }
    return accepted;
  }

  /** Call when the stream socket becomes writable: writes queued data in order. */
  onWritable(): void {
    this.flush();
  }

  private flush(): void {
    const one = this.one;
    while (this.tail > this.head) {
      const end = this.cutEnd >= 0 ? this.cutEnd : this.messageEnd(this.head);
      one.length = 0;
      one.push(this.buf.subarray(this.head, end));
      let written: number;
      try {
        written = this.writer.writev(one);
      } catch {
        this.stats.writeErrors++;
        this.dropQueue();
        return;
      }
      one.length = 0;
      if (written <= 0) {
        this.stats.shortWrites++;
        this.want(true);
        return;
      }
      this.head += written;
      if (this.head < end) {
        this.stats.shortWrites++;
        this.cutEnd = end;
        this.want(true);
        return;
      }
      this.cutEnd = -1;
    }
    this.head = 0;
    this.tail = 0;
    this.want(false);
  }

  /** End of the message that starts at `from`: whole frames up to maxMessage, at least one. */
  private messageEnd(from: number): number {
    let p = from + PREFIX + get32(this.buf, from);
    while (p < this.tail) {
      const next = p + PREFIX + get32(this.buf, p);
      if (next - from > this.maxMessage) break;
      p = next;
    }
    return p;
  }

  private enqueue(slab: Uint8Array, off: number, len: number): boolean {
    const size = PREFIX + len;
    if (this.tail + size > this.buf.length) {
      // Compact: the bytes before head are already written.
      if (this.tail - this.head + size > this.buf.length) return false;
      this.buf.copyWithin(0, this.head, this.tail);
      if (this.cutEnd >= 0) this.cutEnd -= this.head;
      this.tail -= this.head;
      this.head = 0;
    }
    set32(this.buf, this.tail, len);
    this.buf.set(slab.subarray(off, off + len), this.tail + PREFIX);
    this.tail += size;
    this.countOut(1, size);
    this.want(true);
    return true;
  }

  private dropQueue(): void {
    let p = this.head;
    let n = 0;
    if (this.cutEnd >= 0) {
      p = this.cutEnd;
      n++;
    }
    while (p < this.tail) {
      p += PREFIX + get32(this.buf, p);
      n++;
    }
    this.stats.dropped += n;
    this.head = this.tail = 0;
    this.cutEnd = -1;
    this.want(false);
  }

  private countOut(frames: number, bytes: number): void {
    this.stats.frames += frames;
    this.stats.bytes += bytes;
  }

  private want(yes: boolean): void {
    if (yes !== this.wanting) {
      this.wanting = yes;
      this.onWant?.(yes);
    }
  }
}
