// Opening connections: the guest's SYN becomes a host connect to the
// translated address, and the guest hears nothing until that connect is
// over: a SYN-ACK with our options when it worked, a RST with the ACK bit
// (so the guest's connect fails at once) when it did not. Also SYNs that
// must never reach the host (loopback, unspecified) and the 10 s
// handshake timeout. Both families.
import { describe, expect, it } from 'vitest';
import { formatIpAddr } from '@x/l2';
import { Ready } from '../src/index.js';
import { ACK, RST, SYN, ip, type Out } from './frames.js';
import { FAMS, GUEST_MSS, Guest, established, world } from './world.js';

for (const fam of FAMS) {
  const linkMss = fam.family === 4 ? 1460 : 1440;

  describe(`outbound handshake, IPv${fam.family}`, () => {
    it('SYN to the gateway: connect to loopback; SYN-ACK only once the connect is over; ACK establishes', () => {
      const w = world();
      const g = new Guest(w, fam, fam.gateway, 8080, 40001, 0xfffffff0);
      w.sockets.connects.push('later');
      w.send(g.seg(SYN, { mss: GUEST_MSS, ws: 7, window: 64240 }));
      const s = w.sockets.last();
      expect(s.family).toBe(fam.family);
      expect(s.side).toBe('host');
      expect(s.connectedTo && formatIpAddr(s.connectedTo.addr)).toBe(fam.loopback);
      expect(s.connectedTo?.port).toBe(8080);
      expect(s.maxSegSet).toBe(GUEST_MSS);
      expect(s.interest).toBe(Ready.WRITABLE);
      expect(w.sink.frames).toHaveLength(0);
      expect(w.engine.counters.connects).toBe(1);
      expect(w.engine.stats().tcpConns).toBe(1);

      w.sockets.fire(s, Ready.WRITABLE);
      const out = w.sink.take();
      expect(out).toHaveLength(1);
      const sa = out[0] as Out;
      expect(sa.flags).toBe(SYN | ACK);
      expect(sa.ack).toBe(0xfffffff1);
      expect(sa.mss).toBe(linkMss);
      expect(sa.ws).toBe(8);
      expect(sa.window).toBe(65535);
      expect(sa.src).toBe(fam.gateway);
      expect(sa.dst).toBe(fam.guest);
      expect(sa.sport).toBe(8080);
      expect(sa.dport).toBe(40001);
      // RFC 6528 ISN over (our address and port, the guest's), at the clock in microseconds.
      const a = Uint8Array.from([...ip(fam.gateway), ...ip(fam.guest)]);
      const n = fam.family === 4 ? 4 : 16;
      expect(sa.seq).toBe(w.isn.isn(fam.family, a, 0, 8080, a, n, 40001, w.clock.now() * 1000));
      // The socket is watched for data now (edge-triggered), not for writability.
      expect(s.interest & Ready.WRITABLE).toBe(0);
      expect(s.interest & Ready.READABLE).not.toBe(0);

      g.seq = 0xfffffff1;
      g.ack = (sa.seq + 1) >>> 0;
      w.send(g.seg(ACK));
      expect(w.sink.take()).toHaveLength(0);
      // Established: data now flows to the socket.
      g.data(Uint8Array.of(1, 2, 3));
      expect(Array.from(s.written())).toEqual([1, 2, 3]);
      const ack = w.sink.take();
      expect(ack.map((x) => x.ack)).toEqual([(0xfffffff1 + 3) >>> 0]);
    });

    it('no window scale from the guest: none offered back', () => {
      const w = world();
      const g = new Guest(w, fam, fam.remote, 80, 40002);
      w.send(g.seg(SYN, { mss: 1200 }));
      const sa = w.sink.take()[0] as Out;
      expect(sa.flags).toBe(SYN | ACK);
      expect(sa.ws).toBe(-1);
      expect(sa.mss).toBe(linkMss);
      // Any other destination is connected to as it is.
      expect(formatIpAddr(w.sockets.last().connectedTo!.addr)).toBe(fam.remote);
    });

    it('connect refused at once: RST|ACK acknowledging the SYN, flow freed, socket closed', () => {
      const w = world();
      const g = new Guest(w, fam, fam.remote, 81, 40003, 5000);
      w.sockets.connects.push({ throws: 'ECONNREFUSED' });
      w.send(g.seg(SYN, { mss: GUEST_MSS }));
      const out = w.sink.take();
      expect(out).toHaveLength(1);
      expect(out[0]!.flags).toBe(RST | ACK);
      expect(out[0]!.ack).toBe(5001);
      expect(out[0]!.sport).toBe(81);
      expect(w.sockets.last().closed).toBe(true);
      expect(w.engine.stats().tcpConns).toBe(0);
      expect(w.engine.counters.refused).toBe(1);
    });

    it('connect refused later (SO_ERROR ECONNREFUSED): the same RST', () => {
      const w = world();
      const g = new Guest(w, fam, fam.remote, 82, 40004, 7000);
      w.sockets.connects.push('later');
      w.send(g.seg(SYN, { mss: GUEST_MSS }));
      expect(w.sink.take()).toHaveLength(0);
      const s = w.sockets.last();
      s.pendingError = 'ECONNREFUSED';
      w.sockets.fire(s, Ready.WRITABLE | Ready.ERROR);
      const out = w.sink.take();
      expect(out.map((x) => x.flags)).toEqual([RST | ACK]);
      expect(out[0]!.ack).toBe(7001);
      expect(s.closed).toBe(true);
      expect(s.resetOnClose).toBe(false);
      expect(w.engine.stats().tcpConns).toBe(0);
      expect(w.engine.counters.refused).toBe(1);
    });

    for (const which of ['loopback', 'unspecified'] as const) {
      it(`SYN to the ${which} address: RST, refused, no socket`, () => {
        const w = world();
        const g = new Guest(w, fam, fam[which], 22, 40005, 9000);
        w.send(g.seg(SYN));
        const out = w.sink.take();
        expect(out.map((x) => x.flags)).toEqual([RST | ACK]);
        expect(out[0]!.ack).toBe(9001);
        expect(w.sockets.opened).toHaveLength(0);
        expect(w.engine.counters.refused).toBe(1);
        expect(w.engine.stats().tcpConns).toBe(0);
      });
    }

    it('a repeated SYN while connecting is ignored; after the SYN-ACK it gets the SYN-ACK again', () => {
      const w = world();
      const g = new Guest(w, fam, fam.remote, 83, 40006, 100);
      w.sockets.connects.push('later');
      const syn = g.seg(SYN, { mss: GUEST_MSS, ws: 7 });
      w.send(syn);
      w.send(syn);
      expect(w.sink.take()).toHaveLength(0);
      expect(w.sockets.opened).toHaveLength(1);
      w.sockets.fire(w.sockets.last(), Ready.WRITABLE);
      const first = w.sink.take();
      w.send(syn);
      const again = w.sink.take();
      expect(again).toHaveLength(1);
      expect(again[0]!.flags).toBe(SYN | ACK);
      expect(again[0]!.seq).toBe(first[0]!.seq);
    });

    it('handshake timeout while connecting (10 s): RST to the guest and to the peer', () => {
      const w = world();
      const g = new Guest(w, fam, fam.remote, 84, 40007, 300);
      w.sockets.connects.push('later');
      w.send(g.seg(SYN, { mss: GUEST_MSS }));
      const s = w.sockets.last();
      w.wait(9_000);
      expect(w.sink.take()).toHaveLength(0);
      expect(s.closed).toBe(false);
      w.wait(1_500);
      const out = w.sink.take();
      expect(out.map((x) => x.flags)).toEqual([RST | ACK]);
      expect(out[0]!.ack).toBe(301);
      expect(s.closed).toBe(true);
      expect(s.resetOnClose).toBe(true);
      expect(w.engine.counters.timeouts).toBe(1);
      expect(w.engine.stats().tcpConns).toBe(0);
    });

    it('handshake timeout when the guest never ACKs our SYN-ACK', () => {
      const w = world();
      const g = new Guest(w, fam, fam.remote, 85, 40008, 400);
      w.send(g.seg(SYN, { mss: GUEST_MSS }));
      expect(w.sink.take().map((x) => x.flags)).toEqual([SYN | ACK]);
      w.wait(10_500);
      expect(w.sink.take().map((x) => x.flags)).toEqual([RST | ACK]);
      expect(w.sockets.last().closed).toBe(true);
      expect(w.sockets.last().resetOnClose).toBe(true);
      expect(w.engine.stats().tcpConns).toBe(0);
    });

    it('an ACK with the wrong number does not establish', () => {
      const w = world();
      const g = established(w, fam);
      expect(w.engine.stats().tcpConns).toBe(1);
      const g2 = new Guest(w, fam, fam.remote, 86, 40009, 500);
      w.send(g2.seg(SYN, { mss: GUEST_MSS }));
      const sa = w.sink.take()[0] as Out;
      g2.seq = 501;
      g2.ack = (sa.seq + 2) >>> 0;
      w.send(g2.seg(ACK, { payload: Uint8Array.of(9) }));
      expect(w.sockets.last().txLength).toBe(0);
      expect(w.engine.counters.outOfWindow).toBe(1);
      expect(g.sock.closed).toBe(false);
    });
  });
}
