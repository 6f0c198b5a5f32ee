import { describe, expect, it } from 'vitest';
import { get32 } from '@x/l2';
import { QemuStreamSink, type StreamWriter } from '../src/index.js';

/** A stream that accepts a scripted number of bytes per writev and records what it got. */
class ScriptedStream implements StreamWriter {
  received: number[] = [];
  messages: number[] = [];
  /** Bytes to accept on successive calls; when exhausted, accept everything. */
  script: number[] = [];
  fail = false;
  writev(parts: Uint8Array[]): number {
    if (this.fail) throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
    const total = parts.reduce((a, p) => a + p.length, 0);
    const n = Math.min(total, this.script.length > 0 ? (this.script.shift() as number) : total);
    let left = n;
    for (const p of parts) {
      const take = Math.min(left, p.length);
      for (let i = 0; i < take; i++) this.received.push(p[i]!);
      left -= take;
    }
    if (n > 0) this.messages.push(n);
    return n;
  }
  /** Splits the received byte stream back into frames, as qemu would. */
  frames(): number[][] {
    const b = Uint8Array.from(this.received);
    const out: number[][] = [];
    let p = 0;
    while (p + 4 <= b.length) {
      const len = get32(b, p);
      if (p + 4 + len > b.length) throw new Error(`stream ends inside a frame at ${p}`);
      out.push([...b.subarray(p + 4, p + 4 + len)]);
      p += 4 + len;
    }
    if (p !== b.length) throw new Error('trailing bytes');
    return out;
  }
}

/** Lays frames out in a slab the way the engine does: 4 spare bytes in front of each. */
function batch(sizes: number[], seed = 0) {
  const slab = new Uint8Array(sizes.reduce((a, s) => a + s + 8, 0));
  const offsets = new Uint32Array(sizes.length);
  const lengths = new Uint32Array(sizes.length);
  const frames: number[][] = [];
  let p = 0;
  sizes.forEach((s, i) => {
    p += 4;
    offsets[i] = p;
    lengths[i] = s;
    const f: number[] = [];
    for (let k = 0; k < s; k++) {
      slab[p + k] = (seed + i * 31 + k) & 0xff;
      f.push(slab[p + k]!);
    }
    frames.push(f);
    p += s + 4;
  });
  return { slab, offsets, lengths, frames, count: sizes.length };
}

const send = (sink: QemuStreamSink, b: ReturnType<typeof batch>) => sink.sendFrames(b.slab, b.offsets, b.lengths, b.count);

describe('QemuStreamSink', () => {
  it('prefixes each frame with its big-endian length', () => {
    const st = new ScriptedStream();
    const sink = new QemuStreamSink(st);
    const b = batch([60, 1500, 3]);
    expect(send(sink, b)).toBe(3);
    expect(st.frames()).toEqual(b.frames);
    expect(st.received.slice(0, 4)).toEqual([0, 0, 0, 60]);
  });

  it('groups frames into messages of at most 32767 bytes', () => {
    const st = new ScriptedStream();
    const sink = new QemuStreamSink(st);
    const b = batch(Array.from({ length: 30 }, () => 9000));
    send(sink, b);
    expect(st.messages.every((m) => m <= 32767)).toBe(true);
    expect(st.messages).toEqual(Array.from({ length: 10 }, () => 3 * 9004));
    expect(st.frames()).toEqual(b.frames);
  });

  it('writes a frame larger than the limit alone', () => {
    const st = new ScriptedStream();
    const sink = new QemuStreamSink(st);
    send(sink, batch([100, 40000, 100]));
    expect(st.messages).toEqual([104, 40004, 104]);
  });

  it('completes a cut message before anything newer, on the next writable event', () => {
    const st = new ScriptedStream();
    const wants: boolean[] = [];
    const sink = new QemuStreamSink(st, { onWantWritable: (w) => wants.push(w) });
    const a = batch([100, 200, 300], 1);
    st.script = [150, 0]; // cut inside the second frame, then would block
    expect(send(sink, a)).toBe(3);
    expect(sink.queuedBytes).toBe(612 - 150);
    expect(wants).toEqual([true]);
    // New frames arrive while the remainder is pending: they queue behind it.
    const b = batch([50], 2);
    st.script = [0];
    expect(send(sink, b)).toBe(1);
    st.script = [10]; // still short
    sink.onWritable();
    sink.onWritable();
    expect(sink.queuedBytes).toBe(0);
    expect(wants).toEqual([true, false]);
    expect(st.frames()).toEqual([...a.frames, ...b.frames]);
    expect(sink.stats.shortWrites).toBeGreaterThanOrEqual(3);
  });

  it('keeps framing intact whatever the write sizes', () => {
    for (let trial = 0; trial < 20; trial++) {
      const st = new ScriptedStream();
      const sink = new QemuStreamSink(st);
      const all: number[][] = [];
      for (let round = 0; round < 5; round++) {
        const b = batch(
          Array.from({ length: 1 + ((trial + round) % 7) }, (_, i) => 1 + ((trial * 997 + round * 131 + i * 7919) % 9000)),
          trial + round,
        );
        st.script = Array.from({ length: 3 }, (_, i) => ((trial + 1) * (round + 3) * (i + 5) * 101) % 30000);
        send(sink, b);
        all.push(...b.frames);
        sink.onWritable();
      }
      st.script = [];
      sink.onWritable();
      expect(st.frames()).toEqual(all);
    }
  });

  it('drops and counts frames beyond the bounded queue, never blocking', () => {
    const st = new ScriptedStream();
    const sink = new QemuStreamSink(st, { queueBytes: 128 * 1024 });
    st.script = [0];
    const first = batch(Array.from({ length: 20 }, () => 10000));
    const accepted = send(sink, first);
    expect(accepted).toBe(13); // 13 * 10004 bytes fit in 128 KiB
    expect(sink.stats.dropped).toBe(7);
    sink.onWritable();
    expect(st.frames()).toEqual(first.frames.slice(0, 13));
  });

  it('reuses queue space once it has been written (compaction)', () => {
    const st = new ScriptedStream();
    const sink = new QemuStreamSink(st, { queueBytes: 128 * 1024 });
    st.script = [0];
    const a = batch(Array.from({ length: 6 }, () => 10000), 1);
    send(sink, a); // 60024 bytes queued
    st.script = [40000, 0]; // one whole message of 3 frames (30012 bytes), then would block
    sink.onWritable();
    expect(sink.queuedBytes).toBe(30012);
    st.script = [0];
    const b = batch(Array.from({ length: 8 }, () => 10000), 2);
    expect(send(sink, b)).toBe(8); // only fits after moving the pending bytes to the front
    expect(sink.stats.dropped).toBe(0);
    st.script = [];
    sink.onWritable();
    expect(st.frames()).toEqual([...a.frames, ...b.frames]);
  });

  it('drops what is pending when the stream fails', () => {
    const st = new ScriptedStream();
    const sink = new QemuStreamSink(st);
    st.script = [0];
    send(sink, batch([10, 10]));
    st.fail = true;
    sink.onWritable();
    expect(sink.stats).toMatchObject({ writeErrors: 1, dropped: 2 });
    expect(sink.queuedBytes).toBe(0);
  });
});
