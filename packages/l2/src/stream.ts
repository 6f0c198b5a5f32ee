/**
 * Theory of operation.
 *
 * qemu's `-netdev stream` (and passt's qemu mode) carry Ethernet frames on
 * a byte stream, each prefixed by its length as a 4-byte big-endian
 * integer. A read from the socket returns an arbitrary slice of that
 * stream: half a length prefix, several frames, a frame split over three
 * reads. `StreamDecoder` turns chunks back into frames:
 *
 *  - a frame wholly inside the current chunk is returned as a subarray of
 *    it (no copy);
 *  - a frame (or length prefix) that straddles chunks is assembled into a
 *    buffer of its own, the only copy made;
 *  - once `next()` has returned `null` the decoder holds no reference to
 *    the chunk, so the caller may reuse its read buffer. Subarray frames it
 *    returned of course still point into that chunk.
 *
 * A zero length or one above the maximum cannot be recovered from (there
 * is no resynchronisation marker), so the decoder reports it and stays
 * failed. On the way out, frames are prefixed and grouped into messages no
 * larger than qemu's 32767-byte limit on one transfer.
 */
import { get32, set32 } from './bytes.js';
import { malformed, type WireError } from './errors.js';

const LENGTH_PREFIX = 4;

export const STREAM_LENGTH_PREFIX = LENGTH_PREFIX;
/** Largest IPv4/IPv6 packet plus an Ethernet header with one VLAN tag. */
export const STREAM_DEFAULT_MAX_FRAME = 65535 + 18;
/** qemu reads at most this many bytes of stream per message. */
export const STREAM_MAX_MESSAGE = 32767;

export class StreamDecoder {
  private readonly maxFrame: number;
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private readonly header = new Uint8Array(LENGTH_PREFIX);
  private headerFill = 0;
  private partial: Uint8Array | null = null;
  private partialFill = 0;
  private failure: WireError | null = null;

  constructor(options: { maxFrameLength?: number } = {}) {
    this.maxFrame = options.maxFrameLength ?? STREAM_DEFAULT_MAX_FRAME;
  }

  /**
   * Queue the next chunk; call `next()` until it returns null before pushing
   * another. If the previous chunk was not drained, its remainder is joined
   * to this one (a copy) so no frame is lost.
   */
  push(chunk: Uint8Array): void {
    if (this.pos < this.chunk.length) {
      const rest = this.chunk.length - this.pos;
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(this.chunk.subarray(this.pos), 0);
      joined.set(chunk, rest);
      chunk = joined;
    }
    this.chunk = chunk;
    this.pos = 0;
  }

  /** The next complete frame, a sticky error, or null when the chunk is used up. */
  next(): Uint8Array | WireError | null {
    if (this.failure !== null) return this.failure;
    const c = this.chunk;
    if (this.partial !== null) {
      const want = this.partial.length - this.partialFill;
      const take = Math.min(want, c.length - this.pos);
      this.partial.set(c.subarray(this.pos, this.pos + take), this.partialFill);
      this.partialFill += take;
      this.pos += take;
      if (this.partialFill < this.partial.length) return this.drained();
      const frame = this.partial;
      this.partial = null;
      return frame;
    }
    let len: number;
    if (this.headerFill === 0 && c.length - this.pos >= LENGTH_PREFIX) {
      len = get32(c, this.pos);
      this.pos += LENGTH_PREFIX;
    } else {
      while (this.headerFill < LENGTH_PREFIX && this.pos < c.length) this.header[this.headerFill++] = c[this.pos++] as number;
      if (this.headerFill < LENGTH_PREFIX) return this.drained();
      this.headerFill = 0;
      len = get32(this.header, 0);
    }
    if (len === 0 || len > this.maxFrame) {
      this.failure = malformed(`stream frame length ${len} (allowed 1..${this.maxFrame})`);
      this.chunk = new Uint8Array(0);
      this.pos = 0;
      return this.failure;
    }
    if (c.length - this.pos >= len) {
      const frame = c.subarray(this.pos, this.pos + len);
      this.pos += len;
      return frame;
    }
    this.partial = new Uint8Array(len);
    this.partialFill = 0;
    return this.next();
  }

  /** Convenience: push a chunk and yield every frame (or the error) it completes. */
  *decode(chunk: Uint8Array): Generator<Uint8Array | WireError, void, void> {
    this.push(chunk);
    for (;;) {
      const f = this.next();
      if (f === null) return;
      yield f;
      if (f === this.failure) return;
    }
  }

  /** Bytes received but not yet returned as a frame (a partial prefix or frame). */
  get pendingBytes(): number {
    return this.headerFill + (this.partial === null ? 0 : this.partialFill) + (this.chunk.length - this.pos);
  }

  get failed(): WireError | null {
    return this.failure;
  }

  private drained(): null {
    this.chunk = new Uint8Array(0);
    this.pos = 0;
    return null;
  }
}

/** Bytes one frame occupies on the stream. */
export function streamFrameLength(frameLength: number): number {
  return LENGTH_PREFIX + frameLength;
}

/**
 * Groups consecutive frames into messages of at most `maxMessage` stream
 * bytes. Returns the exclusive end index of each message in `frameLengths`.
 * A frame too large for any message gets a message of its own rather than
 * being dropped; the caller decides whether that is acceptable.
 */
export function planMessages(frameLengths: ArrayLike<number>, maxMessage = STREAM_MAX_MESSAGE): number[] {
  const ends: number[] = [];
  let size = 0;
  for (let i = 0; i < frameLengths.length; i++) {
    const n = streamFrameLength(frameLengths[i] ?? 0);
    if (size > 0 && size + n > maxMessage) {
      ends.push(i);
      size = 0;
    }
    size += n;
  }
  if (size > 0) ends.push(frameLengths.length);
  return ends;
}

/**
 * Writes `frame` with its length prefix at `out[at..]`; returns the offset
 * after it, or -1 when `out` is too small (nothing written).
 */
export function writeStreamFrame(frame: Uint8Array, out: Uint8Array, at = 0): number {
  const end = at + LENGTH_PREFIX + frame.length;
  if (end > out.length) return -1;
  set32(out, at, frame.length);
  out.set(frame, at + LENGTH_PREFIX);
  return end;
}

/**
 * Writes just the 4-byte prefix, for callers that already built the frame
 * at `out[at + 4..]` and want no copy.
 */
export function writeStreamPrefix(frameLength: number, out: Uint8Array, at = 0): void {
  set32(out, at, frameLength);
}

/**
 * Encodes `frames` into messages (each a fresh Uint8Array of at most
 * `maxMessage` bytes unless a single frame is larger). Allocation per
 * message, so this is for convenience and tests; hot paths use
 * `planMessages` with `writeStreamFrame` into their own buffers.
 */
export function encodeStreamMessages(frames: readonly Uint8Array[], maxMessage = STREAM_MAX_MESSAGE): Uint8Array[] {
  const ends = planMessages(
    frames.map((f) => f.length),
    maxMessage,
  );
  const out: Uint8Array[] = [];
  let start = 0;
  for (const end of ends) {
    let size = 0;
    for (let i = start; i < end; i++) size += streamFrameLength((frames[i] as Uint8Array).length);
    const msg = new Uint8Array(size);
    let at = 0;
    for (let i = start; i < end; i++) at = writeStreamFrame(frames[i] as Uint8Array, msg, at);
    out.push(msg);
    start = end;
  }
  return out;
}
