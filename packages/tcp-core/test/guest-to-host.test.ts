// Guest -> host data: in-order payload of a batch is gathered and written
// with one send per batch; only what the socket took is acknowledged, and
// once the socket drains the guest hears a window update plus three
// duplicate ACKs (its fast retransmit). Out-of-order data is not kept (a
// duplicate ACK says what is missing), and old data is only re-ACKed.
// Run for both families and with and without the kernel's peek offset.
import { describe, expect, it } from 'vitest';
import { Ready } from '../src/index.js';
import { ACK, pattern } from './frames.js';
import { FAMS, established, world } from './world.js';

for (const fam of FAMS) {
  describe(`guest to host, IPv${fam.family}`, () => {
    it('in-order segments of one batch: one send gathering every piece; the ACK carries seqFromTap', () => {
      const w = world();
      const g = established(w, fam);
      const base = g.seq;
      const a = pattern(0, 700);
      const b = pattern(700, 500);
      const c = pattern(1200, 300);
      g.data(a, b, c);
      expect(g.sock.sendCalls).toBe(1);
      expect(g.sock.sendPieces).toEqual([3]);
      expect(g.sock.written()).toEqual(pattern(0, 1500));
      const out = w.sink.take();
      expect(out).toHaveLength(1);
      expect(out[0]!.flags).toBe(ACK);
      expect(out[0]!.ack).toBe((base + 1500) >>> 0);
      expect(out[0]!.seq).toBe((g.ourIsn + 1) >>> 0);
      // The window offered: the socket's buffer less a sixteenth, less what is queued, scaled by 8.
      const buf = g.sock.sendBuffer;
      expect(out[0]!.window).toBe(Math.floor((buf - (buf >> 4) - g.sock.outQueue) / 256));
      expect(w.engine.counters.bytesFromGuest).toBe(1500);
    });

    it('the offered window follows the socket: outQueue and sendBuffer', () => {
      const w = world();
      const g = established(w, fam);
      g.sock.sendBuffer = 64 * 1024;
      g.sock.outQueue = 20_000;
      g.data(pattern(0, 10));
      const out = w.sink.take();
      expect(out[0]!.window).toBe(Math.floor((65536 - 4096 - 20_000) / 256));
    });

    it('a partial take: only what was taken is acknowledged; WRITABLE brings a window update and three identical duplicate ACKs', () => {
      const w = world();
      const g = established(w, fam);
      const base = g.seq;
      g.sock.room = 1200;
      g.data(pattern(0, 500), pattern(500, 500), pattern(1000, 500));
      expect(g.sock.written()).toEqual(pattern(0, 1200));
      const out = w.sink.take();
      expect(out.map((x) => x.ack)).toEqual([(base + 1200) >>> 0]);
      expect(g.sock.interest & Ready.WRITABLE).not.toBe(0);

      g.sock.room = 1 << 20;
      w.sockets.fire(g.sock, Ready.WRITABLE);
      const after = w.sink.take();
      expect(after).toHaveLength(4);
      for (const x of after) {
        expect(x.flags).toBe(ACK);
        expect(x.ack).toBe((base + 1200) >>> 0);
        expect(x.seq).toBe(after[0]!.seq);
        expect(x.window).toBe(after[0]!.window);
        expect(x.payload.length).toBe(0);
      }
      expect(w.engine.counters.dupAcksSent).toBe(3);
      expect(g.sock.interest & Ready.WRITABLE).toBe(0);

      // The guest sends the refused bytes again, from 1200 (overlapping what was taken).
      g.seq = (base + 1000) >>> 0;
      g.data(pattern(1000, 500));
      expect(g.sock.written()).toEqual(pattern(0, 1500));
      expect(w.sink.take().map((x) => x.ack)).toEqual([(base + 1500) >>> 0]);
    });

    it('a socket that takes nothing (-1): nothing acknowledged', () => {
      const w = world();
      const g = established(w, fam);
      const base = g.seq;
      g.sock.room = 0;
      g.data(pattern(0, 100));
      expect(g.sock.txLength).toBe(0);
      expect(w.sink.take().map((x) => x.ack)).toEqual([base]);
    });

    it('out-of-order data: a duplicate ACK, nothing written', () => {
      const w = world();
      const g = established(w, fam);
      const base = g.seq;
      g.seq = (base + 1000) >>> 0;
      g.data(pattern(1000, 100));
      expect(g.sock.sendCalls).toBe(0);
      const out = w.sink.take();
      expect(out.map((x) => x.ack)).toEqual([base]);
      expect(w.engine.counters.outOfOrder).toBe(1);
    });

    it('retransmitted old data: re-ACK only; a partly new segment writes only its new bytes', () => {
      const w = world();
      const g = established(w, fam);
      const base = g.seq;
      g.data(pattern(0, 100));
      w.sink.take();
      g.seq = base;
      g.data(pattern(0, 100));
      expect(g.sock.sendCalls).toBe(1);
      expect(w.sink.take().map((x) => x.ack)).toEqual([(base + 100) >>> 0]);
      g.seq = (base + 50) >>> 0;
      g.data(pattern(50, 100));
      expect(g.sock.written()).toEqual(pattern(0, 150));
      expect(w.sink.take().map((x) => x.ack)).toEqual([(base + 150) >>> 0]);
    });

    it('a zero-length probe one byte behind gets our ACK and window', () => {
      const w = world();
      const g = established(w, fam);
      w.send(g.seg(ACK, { seq: (g.seq - 1) >>> 0 }));
      expect(w.sink.take().map((x) => x.ack)).toEqual([g.seq]);
    });

    // A write of 256 gathered pieces that the socket takes only in part:
    // the next segment lies beyond what was written and must not be
    // appended after the short write (that would skip the refused bytes).
    it('more than 256 pieces in one batch with a partial write: the socket gets a prefix of the stream', () => {
      const w = world();
      const g = established(w, fam);
      g.sock.takes.push(2000);
      const pieces = Array.from({ length: 257 }, (_, i) => pattern(10 * i, 10));
      g.data(...pieces);
      const got = g.sock.written();
      expect(got).toEqual(pattern(0, got.length));
    });
  });
}

describe('guest to host without a kernel peek offset', () => {
  it('works the same', () => {
    const w = world({ peekOffset: false });
    const g = established(w, FAMS[0]!);
    g.data(pattern(0, 300), pattern(300, 300));
    expect(g.sock.written()).toEqual(pattern(0, 600));
  });
});
