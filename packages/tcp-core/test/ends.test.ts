// How connections end and what is refused: the guest's FIN becomes
// shutdown(SHUT_WR), the peer's end of stream a FIN after all the data,
// and once both are acknowledged the socket is closed and the flow freed.
// RSTs and SYNs follow RFC 5961 (exact RST closes, in-window gets a
// challenge ACK, outside nothing). Malformed segments are counted and
// dropped silently; segments for no connection get a RST (never a RST
// for a RST). Both families.
import { describe, expect, it } from 'vitest';
import { Ready } from '../src/index.js';
import { ACK, FIN, PSH, RST, SYN, pattern, segment } from './frames.js';
import { FAMS, established, world } from './world.js';

for (const fam of FAMS) {
  describe(`ends, IPv${fam.family}`, () => {
    it('guest FIN, then peer EOF: shutdownWrite, our FIN after all the data, both acked -> closed and freed', () => {
      const w = world();
      const g = established(w, fam);
      g.data(pattern(0, 10));
      w.sink.take();
      w.send(g.seg(FIN | ACK));
      g.seq = (g.seq + 1) >>> 0;
      expect(g.sock.shutWrite).toBe(true);
      expect(w.sink.take().map((x) => [x.flags, x.ack])).toEqual([[ACK, g.seq]]);

      g.sock.push(pattern(0, 1500));
      g.sock.peerEof = true;
      w.sockets.fire(g.sock, Ready.READABLE | Ready.HANGUP);
      const data = w.sink.take();
      expect(data.map((x) => x.flags)).toEqual([ACK, ACK | PSH]);
      // As in passt, the FIN goes when a read finds nothing new after the end
      // of stream: here on the guest's ACK of the data, never before the data.
      g.ackTo((g.ourIsn + 1 + 1500) >>> 0);
      expect(g.sock.discards).toEqual([1500]);
      const fin = w.sink.take();
      expect(fin.map((x) => x.flags)).toEqual([FIN | ACK]);
      expect(fin[0]!.seq).toBe((g.ourIsn + 1 + 1500) >>> 0);
      expect(fin[0]!.ack).toBe(g.seq);
      expect(g.sock.closed).toBe(false);

      g.ackTo((g.ourIsn + 1 + 1501) >>> 0);
      expect(g.sock.closed).toBe(true);
      expect(g.sock.resetOnClose).toBe(false);
      expect(w.engine.stats().tcpConns).toBe(0);
      expect(w.engine.counters.closed).toBe(1);
    });

    it('peer EOF first, then the guest FIN|ACK of our FIN: our last ACK, closed', () => {
      const w = world();
      const g = established(w, fam);
      g.sock.peerEof = true;
      w.sockets.fire(g.sock, Ready.HANGUP);
      const fin = w.sink.take();
      expect(fin.map((x) => x.flags)).toEqual([FIN | ACK]);
      expect(fin[0]!.seq).toBe((g.ourIsn + 1) >>> 0);
      g.ack = (g.ourIsn + 2) >>> 0;
      w.send(g.seg(FIN | ACK));
      const out = w.sink.take();
      expect(out.map((x) => [x.flags, x.ack])).toEqual([[ACK, (g.seq + 1) >>> 0]]);
      expect(g.sock.shutWrite).toBe(true);
      expect(g.sock.closed).toBe(true);
      expect(w.engine.stats().tcpConns).toBe(0);
    });

    it('a FIN the socket could not take with its data is not acknowledged', () => {
      const w = world();
      const g = established(w, fam);
      const base = g.seq;
      g.sock.room = 5;
      w.send(g.seg(FIN | ACK, { payload: pattern(0, 10) }));
      expect(g.sock.shutWrite).toBe(false);
      expect(w.sink.take().map((x) => x.ack)).toEqual([(base + 5) >>> 0]);
    });

    it('RST with the exact sequence number: socket closed with a RST to the peer, nothing to the guest', () => {
      const w = world();
      const g = established(w, fam);
      w.send(g.seg(RST));
      expect(w.sink.take()).toHaveLength(0);
      expect(g.sock.closed).toBe(true);
      expect(g.sock.resetOnClose).toBe(true);
      expect(w.engine.counters.resetsFromGuest).toBe(1);
      expect(w.engine.stats().tcpConns).toBe(0);
    });

    it('RST in the window but not exact: a challenge ACK, the connection kept', () => {
      const w = world();
      const g = established(w, fam);
      w.send(g.seg(RST, { seq: (g.seq + 100) >>> 0 }));
      const out = w.sink.take();
      expect(out.map((x) => [x.flags, x.ack])).toEqual([[ACK, g.seq]]);
      expect(g.sock.closed).toBe(false);
      expect(w.engine.counters.outOfWindow).toBe(1);
      g.data(pattern(0, 3));
      expect(g.sock.written()).toEqual(pattern(0, 3));
    });

    it('RST outside the window: ignored', () => {
      const w = world();
      const g = established(w, fam);
      w.send(g.seg(RST, { seq: (g.seq - 100) >>> 0 }));
      w.send(g.seg(RST, { seq: (g.seq + 0x4000_0000) >>> 0 }));
      expect(w.sink.take()).toHaveLength(0);
      expect(g.sock.closed).toBe(false);
      expect(w.engine.counters.outOfWindow).toBe(2);
    });

    it('SYN on an established connection: a challenge ACK', () => {
      const w = world();
      const g = established(w, fam);
      w.send(g.seg(SYN, { seq: (g.seq + 5000) >>> 0 }));
      expect(w.sink.take().map((x) => [x.flags, x.ack])).toEqual([[ACK, g.seq]]);
      expect(g.sock.closed).toBe(false);
      expect(w.engine.stats().tcpConns).toBe(1);
    });

    it('a socket error (reset by the peer): RST to the guest, closed', () => {
      const w = world();
      const g = established(w, fam);
      g.sock.pendingError = 'ECONNRESET';
      w.sockets.fire(g.sock, Ready.ERROR | Ready.GONE);
      expect(w.sink.take().map((x) => x.flags)).toEqual([RST | ACK]);
      expect(g.sock.closed).toBe(true);
      expect(w.engine.stats().tcpConns).toBe(0);
    });
  });

  describe(`malformed and stray segments, IPv${fam.family}`, () => {
    const base = { src: fam.guest, dst: fam.remote, sport: 41000, dport: 80, seq: 1234, flags: SYN };

    it('bad checksum, data offset below 5, options past the header: counted, nothing sent, no socket', () => {
      const w = world();
      w.send(
        segment({ ...base, mss: 1000, badChecksum: true }),
        segment({ ...base, dataOffset: 16 }),
        // MSS option claiming 8 bytes in a 24-byte header.
        segment({ ...base, options: [2, 8, 5, 0], dataOffset: 24 }),
      );
      expect(w.engine.counters.malformed).toBe(3);
      expect(w.sink.frames).toHaveLength(0);
      expect(w.sockets.opened).toHaveLength(0);
    });

    it('a malformed segment on a live connection changes nothing', () => {
      const w = world();
      const g = established(w, fam);
      w.send(g.seg(RST, { badChecksum: true }));
      w.send(g.seg(ACK, { payload: pattern(0, 10), badChecksum: true }));
      expect(g.sock.closed).toBe(false);
      expect(g.sock.txLength).toBe(0);
      expect(w.sink.frames).toHaveLength(0);
      expect(w.engine.counters.malformed).toBe(2);
    });

    it('no connection: RST (seq from its ACK, or RST|ACK covering it); none for a RST', () => {
      const w = world();
      w.send(segment({ ...base, flags: ACK, seq: 10, ack: 777 }));
      w.send(segment({ ...base, flags: PSH, seq: 20, payload: pattern(0, 30) }));
      w.send(segment({ ...base, flags: RST, seq: 30 }));
      const out = w.sink.take();
      expect(out.map((x) => [x.flags, x.seq, x.ack])).toEqual([
        [RST, 777, 0],
        [RST | ACK, 0, 50],
      ]);
      expect(out[0]!.sport).toBe(80);
      expect(out[0]!.dport).toBe(41000);
      expect(out[0]!.src).toBe(fam.remote);
      expect(out[0]!.dst).toBe(fam.guest);
      expect(w.engine.counters.noConnection).toBe(3);
      expect(w.sockets.opened).toHaveLength(0);
    });
  });
}
