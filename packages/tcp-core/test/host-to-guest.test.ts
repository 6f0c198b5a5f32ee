// Host -> guest data, where the socket is the only send buffer: bytes are
// peeked into frames of at most the guest's MSS and never beyond its
// window less what is in flight, dropped from the socket (discard) only
// when the guest acknowledges them, and sent again from the last
// acknowledged byte after a duplicate ACK or the 2 s acknowledgement
// timer (a RST after the retries). A zero window gets a probe. Each case
// runs for both families, with the kernel's peek offset and without it
// (the skip argument), since the two paths compute "what is new" apart.
import { describe, expect, it } from 'vitest';
import { Ready, TIMEOUTS } from '../src/index.js';
import { ACK, PSH, RST, pattern, type Out } from './frames.js';
import { FAMS, GUEST_MSS, established, world } from './world.js';

const concat = (frames: Out[]): Uint8Array => {
  const n = frames.reduce((k, f) => k + f.payload.length, 0);
  const b = new Uint8Array(n);
  let at = 0;
  for (const f of frames) {
    b.set(f.payload, at);
    at += f.payload.length;
  }
  return b;
};

for (const fam of FAMS) {
  for (const peekOffset of [true, false]) {
    describe(`host to guest, IPv${fam.family}, ${peekOffset ? 'SO_PEEK_OFF' : 'skip'}`, () => {
      it('peer data + READABLE: frames of the guest MSS with consecutive seqs, PSH on the last', () => {
        const w = world({ peekOffset });
        const g = established(w, fam);
        g.sock.push(pattern(0, 2500));
        w.sockets.fire(g.sock, Ready.READABLE);
        const out = w.sink.take();
        expect(out.map((x) => x.payload.length)).toEqual([GUEST_MSS, GUEST_MSS, 500]);
        expect(out.map((x) => x.seq)).toEqual([0, 1000, 2000].map((k) => (g.ourIsn + 1 + k) >>> 0));
        expect(out.map((x) => x.flags)).toEqual([ACK, ACK, ACK | PSH]);
        for (const x of out) {
          expect(x.ack).toBe(g.seq);
          expect(x.src).toBe(fam.remote);
          expect(x.dst).toBe(fam.guest);
          expect(x.sport).toBe(80);
          expect(x.dport).toBe(40000);
        }
        expect(concat(out)).toEqual(pattern(0, 2500));
        // Nothing is dropped from the socket before the guest acknowledges it.
        expect(g.sock.queued).toBe(2500);
        expect(g.sock.discards).toEqual([]);
        expect(w.engine.counters.bytesToGuest).toBe(2500);
      });

      it("the guest's window bounds what is in flight; its ACKs discard and open it", () => {
        const w = world({ peekOffset });
        const g = established(w, fam, { ws: 0, window: 2500 });
        g.sock.push(pattern(0, 6000));
        w.sockets.fire(g.sock, Ready.READABLE);
        let out = w.sink.take();
        expect(out.map((x) => x.payload.length)).toEqual([1000, 1000, 500]);
        // Window full: more data and READABLE send nothing.
        g.sock.push(pattern(6000, 1000));
        w.sockets.fire(g.sock, Ready.READABLE);
        expect(w.sink.take()).toHaveLength(0);
        // The guest acknowledges 1000: dropped from the socket, 1000 more may go.
        g.ackTo((g.ourIsn + 1 + 1000) >>> 0, 2500);
        expect(g.sock.discards).toEqual([1000]);
        out = w.sink.take();
        expect(out.map((x) => x.payload.length)).toEqual([1000]);
        expect(out[0]!.seq).toBe((g.ourIsn + 1 + 2500) >>> 0);
        expect(out[0]!.payload).toEqual(pattern(2500, 1000));
        // Everything acknowledged: a whole window again.
        g.ackTo((g.ourIsn + 1 + 3500) >>> 0, 2500);
        expect(g.sock.discards).toEqual([1000, 2500]);
        out = w.sink.take();
        expect(concat(out)).toEqual(pattern(3500, 2500));
      });

      it('a duplicate ACK sends the unacknowledged bytes again', () => {
        const w = world({ peekOffset });
        const g = established(w, fam);
        g.sock.push(pattern(0, 3000));
        w.sockets.fire(g.sock, Ready.READABLE);
        const first = w.sink.take();
        expect(first).toHaveLength(3);
        g.ackTo((g.ourIsn + 1 + 1000) >>> 0);
        expect(w.sink.take()).toHaveLength(0);
        g.ackTo();
        const again = w.sink.take();
        expect(again.map((x) => x.seq)).toEqual([first[1]!.seq, first[2]!.seq]);
        expect(concat(again)).toEqual(pattern(1000, 2000));
        expect(w.engine.counters.retransmits).toBe(1);
        expect(g.sock.discards).toEqual([1000]);
      });

      it('the acknowledgement timer resends from the last acknowledged byte, then gives up with a RST', () => {
        const w = world({ peekOffset });
        const g = established(w, fam);
        g.sock.push(pattern(0, 1500));
        w.sockets.fire(g.sock, Ready.READABLE);
        expect(w.sink.take()).toHaveLength(2);
        g.ackTo((g.ourIsn + 1 + 500) >>> 0);
        w.sink.take();
        w.wait(TIMEOUTS.ackMs + 100);
        let out = w.sink.take();
        expect(out.map((x) => x.seq)).toEqual([(g.ourIsn + 1 + 500) >>> 0]);
        expect(out[0]!.payload).toEqual(pattern(500, 1000));
        // Retries back off: 2 s, then 4 s, then 8 s; the next expiry resets.
        w.wait(2_000);
        expect(w.sink.take()).toHaveLength(1);
        w.wait(4_000);
        expect(w.sink.take()).toHaveLength(1);
        expect(g.sock.closed).toBe(false);
        w.wait(8_000);
        out = w.sink.take();
        expect(out.map((x) => x.flags)).toEqual([RST | ACK]);
        expect(g.sock.closed).toBe(true);
        expect(g.sock.resetOnClose).toBe(true);
        expect(w.engine.counters.timeouts).toBe(1);
        expect(w.engine.stats().tcpConns).toBe(0);
      });

      it('a zero window: nothing sent, a window probe after the timer, data once the window opens', () => {
        const w = world({ peekOffset });
        const g = established(w, fam, { window: 0 });
        g.sock.push(pattern(0, 800));
        w.sockets.fire(g.sock, Ready.READABLE);
        expect(w.sink.take()).toHaveLength(0);
        w.wait(TIMEOUTS.windowProbeMs + 100);
        const probe = w.sink.take();
        expect(probe).toHaveLength(1);
        expect(probe[0]!.flags).toBe(ACK);
        expect(probe[0]!.payload.length).toBe(0);
        // One byte behind: the guest must answer with its window.
        expect(probe[0]!.seq).toBe(g.ourIsn);
        g.ackTo(g.ack, 1024);
        const out = w.sink.take();
        expect(concat(out)).toEqual(pattern(0, 800));
        expect(out[0]!.seq).toBe((g.ourIsn + 1) >>> 0);
      });

      it('frames the sink refused are sent again', () => {
        const w = world({ peekOffset });
        const g = established(w, fam);
        g.sock.push(pattern(0, 3000));
        w.sink.refuse = 2;
        w.sockets.fire(g.sock, Ready.READABLE);
        expect(w.sink.take()).toHaveLength(1);
        w.sink.refuse = 0;
        // The next batch (here: the guest acknowledging the frame it got) sends the rest.
        g.ackTo((g.ourIsn + 1 + 1000) >>> 0);
        const out = w.sink.take();
        expect(concat(out)).toEqual(pattern(1000, 2000));
      });
    });
  }
}
