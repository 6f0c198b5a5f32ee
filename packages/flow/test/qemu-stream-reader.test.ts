// What the old allocating decoder in @x/l2 proved about qemu's `-netdev stream` framing, proved
// again against the one reader (QemuStreamReader) and writer (QemuStreamSink) that exist now.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { get32, set32, STREAM_DEFAULT_MAX_FRAME, STREAM_LENGTH_PREFIX, STREAM_MAX_MESSAGE } from '@x/l2';
import { QemuStreamReader, QemuStreamSink, type QemuStreamReaderOptions, type StreamWriter } from '../src/index.js';

const runs = { numRuns: 300 };

/** Frames as the stream carries them: each behind its 4-byte big-endian length. */
function encode(frames: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + STREAM_LENGTH_PREFIX + f.length, 0));
  let at = 0;
  for (const f of frames) {
    set32(out, at, f.length);
    out.set(f, at + STREAM_LENGTH_PREFIX);
    at += STREAM_LENGTH_PREFIX + f.length;
  }
  return out;
}

/** Frame i of a test: `len` bytes that depend on both i and their position. */
function frameOf(len: number, i = 0): Uint8Array {
  return Uint8Array.from({ length: len }, (_, k) => (i * 37 + k * 7 + 1) & 0xff);
}

interface Fed {
  /** Copies of the frames handed on, in order. */
  frames: Uint8Array[];
  /** `count` of each handler call. */
  calls: number[];
  /** What each `received` returned. */
  results: number[];
}

/**
 * Plays the embedder: each chunk is one read() from the socket, into buf at fill. A chunk
 * larger than `room` is taken in several reads, as a read() of at most `room` bytes would.
 * Stops at the first bad length, as the embedder closes the connection then.
 */
function feed(reader: QemuStreamReader, chunks: readonly Uint8Array[]): Fed {
  const fed: Fed = { frames: [], calls: [], results: [] };
  const onFrames = (buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void => {
    expect(buf).toBe(reader.buf);
    fed.calls.push(count);
    for (let i = 0; i < count; i++) {
      const off = offsets[i]!;
      const len = lengths[i]!;
      expect(off + len).toBeLessThanOrEqual(buf.length);
      fed.frames.push(buf.slice(off, off + len));
    }
  };
  for (const chunk of chunks) {
    let p = 0;
    while (p < chunk.length) {
      const room = reader.room;
      expect(room).toBeGreaterThan(0);
      const n = Math.min(room, chunk.length - p);
      reader.buf.set(chunk.subarray(p, p + n), reader.fill);
      p += n;
      const r = reader.received(n, onFrames);
      fed.results.push(r);
      if (r >= 0) return fed;
    }
  }
  return fed;
}

/** Splits `bytes` at the given points (any order, duplicates and out-of-range points allowed). */
function cut(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => Math.min(Math.max(p, 0), bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** Where each frame's length prefix starts in encode(frames). */
function prefixStarts(frames: readonly Uint8Array[]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const f of frames) {
    starts.push(at);
    at += STREAM_LENGTH_PREFIX + f.length;
  }
  return starts;
}

const asArrays = (frames: readonly Uint8Array[]): number[][] => frames.map((f) => Array.from(f));

describe('QemuStreamReader: any split of the stream', () => {
  const frameArb = fc.array(fc.uint8Array({ minLength: 1, maxLength: 2000 }), { minLength: 1, maxLength: 20 });
  // Random cut points anywhere, plus cuts placed inside chosen length prefixes (1..3 bytes in).
  const splitArb = frameArb.chain((frames) => {
    const total = frames.reduce((n, f) => n + STREAM_LENGTH_PREFIX + f.length, 0);
    return fc.tuple(
      fc.constant(frames),
      fc.array(fc.integer({ min: 0, max: total }), { maxLength: 12 }),
      fc.array(fc.tuple(fc.nat(frames.length - 1), fc.integer({ min: 1, max: STREAM_LENGTH_PREFIX - 1 })), { maxLength: 6 }),
    );
  });

  const check = (options: QemuStreamReaderOptions) =>
    fc.assert(
      fc.property(splitArb, ([frames, points, inPrefix]) => {
        const stream = encode(frames);
        const starts = prefixStarts(frames);
        const all = [...points, ...inPrefix.map(([i, k]) => starts[i]! + k)];
        const reader = new QemuStreamReader(options);
        const fed = feed(reader, cut(stream, all));
        expect(fed.results.every((r) => r === -1)).toBe(true);
        expect(asArrays(fed.frames)).toEqual(asArrays(frames));
        expect(reader.pending).toBe(0);
      }),
      runs,
    );

  it('yields exactly the frames, in order and intact (default buffer)', () => check({}));
  it('yields exactly the frames with a buffer of two largest frames, reads capped at room', () =>
    check({ maxFrame: 2000, bufferFrames: 2 }));
  it('yields exactly the frames when handed on in batches of 3', () => check({ maxFrame: 2000, batch: 3 }));

  it('every pair of cut points over a small stream', () => {
    const frames = [Uint8Array.of(1, 2, 3), new Uint8Array(100).fill(7), Uint8Array.of(9)];
    const stream = encode(frames);
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const reader = new QemuStreamReader({ maxFrame: 200, bufferFrames: 2 });
        const fed = feed(reader, cut(stream, [a, b]));
        expect(asArrays(fed.frames)).toEqual(asArrays(frames));
        expect(reader.pending).toBe(0);
      }
    }
  });
});

describe('QemuStreamReader', () => {
  it('hands on several frames of one read in one call, in place', () => {
    const frames = [frameOf(3, 0), frameOf(60, 1), frameOf(1, 2)];
    const reader = new QemuStreamReader();
    const stream = encode(frames);
    reader.buf.set(stream, reader.fill);
    const seen: { offsets: number[]; lengths: number[] }[] = [];
    const r = reader.received(stream.length, (buf, offsets, lengths, count) => {
      expect(buf).toBe(reader.buf);
      seen.push({ offsets: Array.from(offsets.subarray(0, count)), lengths: Array.from(lengths.subarray(0, count)) });
    });
    expect(r).toBe(-1);
    expect(seen).toEqual([{ offsets: [4, 4 + 3 + 4, 4 + 3 + 4 + 60 + 4], lengths: [3, 60, 1] }]);
    expect(reader.pending).toBe(0);
    expect(reader.fill).toBe(0);
  });

  it('keeps a frame that straddles reads and delivers it when complete', () => {
    const frame = frameOf(100, 5);
    const stream = encode([frame, frameOf(2, 6)]);
    const reader = new QemuStreamReader({ maxFrame: 200, bufferFrames: 2 });
    const first = feed(reader, [stream.subarray(0, 54)]);
    expect(first.frames).toEqual([]);
    expect(reader.pending).toBe(54);
    expect(reader.fill).toBe(54);
    const second = feed(reader, [stream.subarray(54, 100)]);
    expect(second.frames).toEqual([]);
    expect(reader.pending).toBe(100);
    // The rest of the first frame and half of the second frame's prefix.
    const third = feed(reader, [stream.subarray(100, 106)]);
    expect(asArrays(third.frames)).toEqual([Array.from(frame)]);
    expect(reader.pending).toBe(2);
    const fourth = feed(reader, [stream.subarray(106)]);
    expect(asArrays(fourth.frames)).toEqual([[...frameOf(2, 6)]]);
    expect(reader.pending).toBe(0);
  });

  it('moves a partial frame to the front of the buffer', () => {
    const frames = [frameOf(10, 0), frameOf(30, 1)];
    const stream = encode(frames);
    const reader = new QemuStreamReader({ maxFrame: 100, bufferFrames: 2 });
    const offsets: number[] = [];
    const take = (n: number, from: number): number => {
      reader.buf.set(stream.subarray(from, from + n), reader.fill);
      return reader.received(n, (_b, o, _l, count) => {
        for (let i = 0; i < count; i++) offsets.push(o[i]!);
      });
    };
    expect(take(14 + 20, 0)).toBe(-1);
    expect(reader.fill).toBe(20);
    expect(take(stream.length - 34, 34)).toBe(-1);
    expect(offsets).toEqual([4, 4]);
  });

  it('hands on a read holding more frames than the batch in several calls', () => {
    const frames = Array.from({ length: 10 }, (_, i) => frameOf(5 + i, i));
    const reader = new QemuStreamReader({ batch: 4 });
    const fed = feed(reader, [encode(frames)]);
    expect(fed.calls).toEqual([4, 4, 2]);
    expect(asArrays(fed.frames)).toEqual(asArrays(frames));
  });

  it('hands on exactly one full batch in one call', () => {
    const frames = Array.from({ length: 4 }, (_, i) => frameOf(9, i));
    const fed = feed(new QemuStreamReader({ batch: 4 }), [encode(frames)]);
    expect(fed.calls).toEqual([4]);
  });

  it('reports a zero length, after delivering the frames before it', () => {
    const a = frameOf(3, 0);
    const b = frameOf(4, 1);
    const stream = new Uint8Array([...encode([a]), 0, 0, 0, 0, ...encode([b])]);
    const fed = feed(new QemuStreamReader(), [stream]);
    expect(fed.results).toEqual([0]);
    expect(asArrays(fed.frames)).toEqual([Array.from(a)]);
    expect(feed(new QemuStreamReader(), [Uint8Array.of(0, 0, 0, 0)]).results).toEqual([0]);
  });

  it('reports a length above maxFrame, after delivering the frames before it', () => {
    const frames = [frameOf(3, 0), frameOf(51, 1), frameOf(1, 2)];
    const fed = feed(new QemuStreamReader({ maxFrame: 50 }), [encode(frames)]);
    expect(fed.results).toEqual([51]);
    expect(asArrays(fed.frames)).toEqual([Array.from(frames[0]!)]);
    const huge = feed(new QemuStreamReader(), [Uint8Array.of(0xff, 0xff, 0xff, 0xff)]);
    expect(huge.results).toEqual([0xffffffff]);
  });

  it('reports a bad length whose prefix straddles reads', () => {
    const stream = new Uint8Array([...encode([frameOf(8, 0)]), 0, 1, 0, 0]);
    const reader = new QemuStreamReader({ maxFrame: 1000 });
    const fed = feed(reader, [stream.subarray(0, 14), stream.subarray(14)]);
    expect(fed.results).toEqual([-1, 0x10000]);
    expect(fed.frames.length).toBe(1);
  });

  it('accepts a frame of exactly maxFrame', () => {
    const frame = frameOf(STREAM_DEFAULT_MAX_FRAME, 3);
    const fed = feed(new QemuStreamReader({ bufferFrames: 2 }), cut(encode([frame]), [2, 30000]));
    expect(fed.results.every((r) => r === -1)).toBe(true);
    expect(fed.frames.length).toBe(1);
    expect(fed.frames[0]!.every((x, i) => x === frame[i])).toBe(true);
  });

  it('never throws on random bytes, and only reports lengths out of range', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 5 }), (chunks) => {
        const reader = new QemuStreamReader({ maxFrame: 1000, bufferFrames: 2, batch: 2 });
        let fed: Fed | undefined;
        expect(() => {
          fed = feed(reader, chunks);
        }).not.toThrow();
        for (const r of fed!.results) expect(r === -1 || r === 0 || r > 1000).toBe(true);
        for (const f of fed!.frames) expect(f.length >= 1 && f.length <= 1000).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

/** A socket that takes everything and records each writev as one message. */
class RecordingStream implements StreamWriter {
  readonly messages: Uint8Array[] = [];
  writev(parts: Uint8Array[]): number {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const msg = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      msg.set(p, at);
      at += p.length;
    }
    this.messages.push(msg);
    return total;
  }
}

/** Lays frames out as the frame builder does: 4 spare bytes in front of each. */
function slabOf(frames: readonly Uint8Array[]) {
  const slab = new Uint8Array(frames.reduce((n, f) => n + STREAM_LENGTH_PREFIX + f.length, 0));
  const offsets = new Uint32Array(frames.length);
  const lengths = new Uint32Array(frames.length);
  let at = 0;
  frames.forEach((f, i) => {
    at += STREAM_LENGTH_PREFIX;
    offsets[i] = at;
    lengths[i] = f.length;
    slab.set(f, at);
    at += f.length;
  });
  return { slab, offsets, lengths, count: frames.length };
}

function write(frames: readonly Uint8Array[]): Uint8Array[] {
  const stream = new RecordingStream();
  const sink = new QemuStreamSink(stream);
  const s = slabOf(frames);
  expect(sink.sendFrames(s.slab, s.offsets, s.lengths, s.count)).toBe(frames.length);
  return stream.messages;
}

describe('QemuStreamSink output, read back by QemuStreamReader', () => {
  it('groups frames into messages of at most STREAM_MAX_MESSAGE, a larger frame alone', () => {
    const lens = [1500, 30000, 1000, 1000, 40000, 10];
    const messages = write(lens.map((n, i) => frameOf(n, i)));
    expect(messages.map((m) => m.length)).toEqual([32512, 1004, 40004, 14]);
  });

  it('messages never exceed the limit but for a single large frame, and read back to the frames', () => {
    const arb = fc.array(
      fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 2000 }) },
        { weight: 1, arbitrary: fc.integer({ min: 2001, max: 40000 }) },
      ),
      { minLength: 1, maxLength: 25 },
    ).chain((lens) =>
      fc.tuple(
        fc.constant(lens.map((n, i) => frameOf(n, i))),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.boolean(),
      ),
    );
    fc.assert(
      fc.property(arb, ([frames, points, recut]) => {
        const messages = write(frames);
        for (const m of messages) {
          if (m.length > STREAM_MAX_MESSAGE) expect(m.length).toBe(STREAM_LENGTH_PREFIX + get32(m, 0));
        }
        const stream = new Uint8Array(messages.reduce((n, m) => n + m.length, 0));
        let at = 0;
        for (const m of messages) {
          stream.set(m, at);
          at += m.length;
        }
        expect(Array.from(stream)).toEqual(Array.from(encode(frames)));
        // One read per message, or the stream cut anywhere.
        const chunks = recut ? cut(stream, points.map((p) => p % (stream.length + 1))) : messages;
        const reader = new QemuStreamReader();
        const fed = feed(reader, chunks);
        expect(fed.results.every((r) => r === -1)).toBe(true);
        expect(fed.frames.length).toBe(frames.length);
        fed.frames.forEach((f, i) => expect(f.length === frames[i]!.length && f.every((x, k) => x === frames[i]![k])).toBe(true));
        expect(reader.pending).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});
