/**
 * Theory of operation.
 *
 * qemu's `-netdev stream` sends each Ethernet frame as a 4-byte big-endian
 * length followed by the frame. A stream has no boundaries: one read may
 * end in the middle of a length or of a frame, or hold dozens of frames.
 * `QemuStreamReader` is the one reader of that framing (the writer is
 * qemu-stream-writer.ts); the embedder owns the socket and reads into
 * `buf` at `fill`, then calls `received`.
 *
 * Reads land in one buffer that always has room for a leftover partial
 * frame plus the largest frame. After each read the bytes are walked from
 * the start: every complete frame becomes an (offset, length) pair into
 * that same buffer, and the pairs go to the frame handler in batches,
 * exactly like a tap's frames, so the transports read payloads where read()
 * put them. What is left at the end (part of a prefix or of a frame) is
 * moved to the front and the next read appends to it. That move is the
 * only copy, and it only happens to a frame that straddles two reads.
 *
 *   buffer  [ len | frame | len | frame | len | fra ]   <- one read()
 *            └── handed on in place ──┘   └ moved to the front
 *
 * A length of zero or above the largest frame cannot be recovered from:
 * nothing in the stream marks where the next frame starts. The frames
 * before it are still delivered, and `received` reports the bad length so
 * that the embedder closes the connection.
 */
import { get32, STREAM_DEFAULT_MAX_FRAME, STREAM_LENGTH_PREFIX } from '@x/l2';

/** Called with each batch of complete frames: buf[offsets[i], + lengths[i]). */
export type StreamFramesHandler = (buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number) => void;

export interface QemuStreamReaderOptions {
  /** Largest frame length accepted (default: an IP packet of 65535 bytes plus Ethernet and one VLAN tag). */
  maxFrame?: number;
  /** Frames per handler call (default 1024). */
  batch?: number;
  /** Largest frames the buffer holds at once (default 16): how much one read may take. */
  bufferFrames?: number;
}

export class QemuStreamReader {
  readonly maxFrame: number;
  /** Read into buf[fill, buf.length). */
  readonly buf: Uint8Array;
  private filled = 0;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;

  constructor(o: QemuStreamReaderOptions = {}) {
    this.maxFrame = o.maxFrame ?? STREAM_DEFAULT_MAX_FRAME;
    const frames = Math.max(2, o.bufferFrames ?? 16);
    this.buf = new Uint8Array(frames * (STREAM_LENGTH_PREFIX + this.maxFrame));
    const batch = o.batch ?? 1024;
    this.offsets = new Uint32Array(batch);
    this.lengths = new Uint32Array(batch);
  }

  /** Where the next read goes. */
  get fill(): number {
    return this.filled;
  }

  /** Bytes the next read may take. */
  get room(): number {
    return this.buf.length - this.filled;
  }

  /**
   * `n` bytes were read into buf at `fill`: hands on every complete frame,
   * keeps the incomplete tail.
   * @returns -1, or the bad length that ended the stream's framing
   */
  received(n: number, onFrames: StreamFramesHandler): number {
    this.filled += n;
    const buf = this.buf;
    const end = this.filled;
    let pos = 0;
    let count = 0;
    let garbage = -1;
    while (end - pos >= STREAM_LENGTH_PREFIX) {
      const len = get32(buf, pos);
      if (len === 0 || len > this.maxFrame) {
        garbage = len;
        break;
      }
      if (end - pos - STREAM_LENGTH_PREFIX < len) break;
      if (count === this.offsets.length) {
        onFrames(buf, this.offsets, this.lengths, count);
        count = 0;
      }
      this.offsets[count] = pos + STREAM_LENGTH_PREFIX;
      this.lengths[count] = len;
      count++;
      pos += STREAM_LENGTH_PREFIX + len;
    }
    if (count > 0) onFrames(buf, this.offsets, this.lengths, count);
    if (garbage >= 0) return garbage;
    if (pos > 0) {
      buf.copyWithin(0, pos, end);
      this.filled = end - pos;
    }
    return -1;
  }

  /** Bytes held of a frame not yet complete. */
  get pending(): number {
    return this.filled;
  }
}
