// Connections in (-t): a listener per forwarded port and family; a peer
// accepted from outside the host's loopback reaches the guest through the
// tap as our SYN (with MSS and window scale), the guest's SYN-ACK
// establishes (we ACK), a RST answer closes and resets the peer, and no
// answer within 10 s resets both. Both families.
import { describe, expect, it } from 'vitest';
import { PortForwards } from '@x/flow';
import { Ready } from '../src/index.js';
import { ACK, RST, SYN, ip, pattern, segment, type Out } from './frames.js';
import { FAMS, world, type Fam, type World } from './world.js';

/** -t 2222:22 */
const forwards = (): PortForwards => PortForwards.from([{ start: 2222, end: 2222, toStart: 22 }]);

/** A peer connects to the listener; returns our SYN to the guest and the accepted socket. */
function accept(w: World, fam: Fam, port = 50_000): { syn: Out; sock: ReturnType<World['sockets']['last']> } {
  const l = w.sockets.listener(fam.family, 2222);
  l.backlog.push({ family: fam.family, addr: ip(fam.peer), port });
  w.sockets.fire(l, Ready.READABLE);
  const out = w.sink.take();
  if (out.length !== 1) throw new Error(`expected one SYN, got ${out.length}`);
  return { syn: out[0] as Out, sock: w.sockets.last() };
}

for (const fam of FAMS) {
  const linkMss = fam.family === 4 ? 1460 : 1440;
  describe(`inbound, IPv${fam.family}`, () => {
    it('listeners from the forwards, for both families', () => {
      const w = world({ inbound: forwards() });
      expect(w.failures).toEqual([]);
      expect(w.engine.isListening(fam.family, 'host', 2222)).toBe(true);
      const l = w.sockets.listener(fam.family, 2222);
      expect(l.listening?.side).toBe('host');
      expect(l.interest & Ready.READABLE).not.toBe(0);
    });

    it('an accepted peer: SYN to the guest with options; SYN-ACK -> our ACK, established, data flows', () => {
      const w = world({ inbound: forwards() });
      const { syn, sock } = accept(w, fam);
      expect(syn.flags).toBe(SYN);
      expect(syn.src).toBe(fam.peer);
      expect(syn.dst).toBe(fam.guest);
      expect(syn.sport).toBe(50_000);
      expect(syn.dport).toBe(22);
      expect(syn.mss).toBe(linkMss);
      expect(syn.ws).toBe(8);
      expect(w.engine.counters.accepted).toBe(1);
      expect(w.engine.stats().tcpConns).toBe(1);

      const gs = { src: fam.guest, dst: fam.peer, sport: 22, dport: 50_000 };
      w.send(segment({ ...gs, seq: 9000, ack: (syn.seq + 1) >>> 0, flags: SYN | ACK, mss: 1000, ws: 7, window: 64240 }));
      const ack = w.sink.take();
      expect(ack.map((x) => [x.flags, x.seq, x.ack])).toEqual([[ACK, (syn.seq + 1) >>> 0, 9001]]);

      // Both ways now.
      w.send(segment({ ...gs, seq: 9001, ack: (syn.seq + 1) >>> 0, flags: ACK, window: 502, payload: pattern(0, 5) }));
      expect(sock.written()).toEqual(pattern(0, 5));
      w.sink.take();
      sock.push(pattern(0, 1200));
      w.sockets.fire(sock, Ready.READABLE);
      const out = w.sink.take();
      expect(out.map((x) => x.payload.length)).toEqual([1000, 200]);
      expect(out[0]!.seq).toBe((syn.seq + 1) >>> 0);
    });

    it('the guest answers RST: the socket is closed with a RST to the peer', () => {
      const w = world({ inbound: forwards() });
      const { syn, sock } = accept(w, fam);
      w.send(segment({ src: fam.guest, dst: fam.peer, sport: 22, dport: 50_000, seq: 0, ack: (syn.seq + 1) >>> 0, flags: RST | ACK }));
      expect(sock.closed).toBe(true);
      expect(sock.resetOnClose).toBe(true);
      expect(w.sink.frames).toHaveLength(0);
      expect(w.engine.stats().tcpConns).toBe(0);
    });

    it('a SYN-ACK with the wrong ACK number does not establish', () => {
      const w = world({ inbound: forwards() });
      const { syn, sock } = accept(w, fam);
      w.send(segment({ src: fam.guest, dst: fam.peer, sport: 22, dport: 50_000, seq: 1, ack: (syn.seq + 7) >>> 0, flags: SYN | ACK }));
      expect(w.sink.frames).toHaveLength(0);
      expect(w.engine.counters.outOfWindow).toBe(1);
      expect(sock.closed).toBe(false);
    });

    it('no answer from the guest in 10 s: RST to both', () => {
      const w = world({ inbound: forwards() });
      const { sock } = accept(w, fam);
      w.wait(10_100);
      expect(w.sink.take().map((x) => x.flags & RST)).toEqual([RST]);
      expect(sock.closed).toBe(true);
      expect(sock.resetOnClose).toBe(true);
      expect(w.engine.stats().tcpConns).toBe(0);
    });

    // A SYN or SYN-ACK window is never scaled (RFC 7323 2.2): 8192 bytes
    // with scale 7 must not be read as 1 MiB.
    it("the guest's SYN-ACK window is in bytes (RFC 7323 2.2): no more than it is sent", () => {
      const w = world({ inbound: forwards() });
      const { syn, sock } = accept(w, fam);
      sock.push(pattern(0, 100_000));
      w.send(segment({ src: fam.guest, dst: fam.peer, sport: 22, dport: 50_000, seq: 9000, ack: (syn.seq + 1) >>> 0, flags: SYN | ACK, mss: 1000, ws: 7, window: 8192 }));
      const sent = w.sink.take().reduce((n, x) => n + x.payload.length, 0);
      expect(sent).toBeLessThanOrEqual(8192);
    });
  });
}
