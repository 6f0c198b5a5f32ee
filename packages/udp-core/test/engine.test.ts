import { describe, expect, it } from 'vitest';
import { createGuestDatagrams, PortForwards } from '../src/index.js';
import { guestFrame, ip, SegmentingSink, text } from './fakes.js';
import { GUEST_LL, GUEST_MAC, GUEST4, GUEST6, GW4, GW6, OUR_MAC, REMOTE4, REMOTE6, world } from './setup.js';

describe('bindings', () => {
  it('creates a binding on first use, bound to the guest source port, and reuses it', () => {
    const w = world();
    w.fromGuest(
      guestFrame(GUEST4, 5000, REMOTE4, 53, 'a'),
      guestFrame(GUEST4, 5000, REMOTE4, 53, 'b'),
      guestFrame(GUEST4, 5000, REMOTE4, 54, 'c'),
    );
    const s = w.sockets.find('host', 4, 5000);
    expect(s).toBeDefined();
    expect(s!.spec.address ?? null).toBeNull();
    expect(w.sockets.sendCalls).toBe(1);
    expect(s!.sent.map((d) => [text(d.data), d.addr, d.port])).toEqual([
      ['a', REMOTE4, 53],
      ['b', REMOTE4, 53],
      ['c', REMOTE4, 54],
    ]);
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'd'));
    expect(w.sockets.live().length).toBe(1);
    expect(s!.sent.length).toBe(4);
    expect(w.engine.counters.fromGuest).toMatchObject({ datagrams: 4, bytes: 4, malformed: 0 });
    expect(w.engine.counters.events.bindingsOpened).toBe(1);
  });

  it('groups interleaved flows into one send per socket, keeping order within each', () => {
    const w = world();
    w.fromGuest(
      guestFrame(GUEST4, 5000, REMOTE4, 53, 'a1'),
      guestFrame(GUEST6, 6000, REMOTE6, 53, 'b1'),
      guestFrame(GUEST4, 5000, REMOTE4, 53, 'a2'),
      guestFrame(GUEST6, 6000, REMOTE6, 53, 'b2'),
    );
    expect(w.sockets.sendCalls).toBe(2);
    expect(w.sockets.find('host', 4, 5000)!.sent.map((d) => text(d.data))).toEqual(['a1', 'a2']);
    const s6 = w.sockets.find('host', 6, 6000)!;
    expect(s6.spec.v6only).toBe(true);
    expect(s6.sent.map((d) => [text(d.data), d.addr])).toEqual([
      ['b1', REMOTE6],
      ['b2', REMOTE6],
    ]);
  });

  it('accepts pre-parsed batches through fromGuest()', () => {
    const w = world();
    const slab = new TextEncoder().encode('xxhello');
    const b = createGuestDatagrams(4, slab);
    b.count = 1;
    b.families[0] = 4;
    b.srcAddrs.set(ip(GUEST4), 0);
    b.dstAddrs.set(ip(REMOTE4), 0);
    b.srcPorts[0] = 1234;
    b.dstPorts[0] = 7;
    b.payloadOffsets[0] = 2;
    b.payloadLengths[0] = 5;
    w.engine.fromGuest(b);
    expect(text(w.sockets.find('host', 4, 1234)!.sent[0]!.data)).toBe('hello');
  });
});

describe('frames to the guest', () => {
  it('frames a reply with real source, guest destination, our MACs and a valid IPv4 header checksum', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'query'));
    w.sockets.deliver(w.sockets.find('host', 4, 5000)!, REMOTE4, 53, 'answer');
    expect(w.sink.frames).toHaveLength(1);
    const f = w.sink.frames[0]!;
    expect(f).toMatchObject({ family: 4, src: REMOTE4, dst: GUEST4, srcPort: 53, dstPort: 5000, payload: 'answer' });
    expect([...f.dstMac]).toEqual([...GUEST_MAC]);
    expect([...f.srcMac]).toEqual([...OUR_MAC]);
    expect(f.udpChecksum).toBe(0);
    expect(w.engine.counters.toGuest).toMatchObject({ datagrams: 1, bytes: 6 });
  });

  it('computes the UDP checksum over IPv4 when asked', () => {
    const w = world({ udpChecksum4: true });
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    w.sockets.deliver(w.sockets.find('host', 4, 5000)!, REMOTE4, 53, 'odd-length');
    expect(w.sink.frames[0]!.udpChecksum).not.toBe(0); // and parseFrame verified it
  });

  it('always computes the UDP checksum over IPv6', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST6, 5000, REMOTE6, 53, 'q'));
    const big = new Uint8Array(3001).map((_, i) => i * 7);
    w.sockets.deliver(w.sockets.find('host', 6, 5000)!, REMOTE6, 53, 'hello', big);
    expect(w.sink.frames).toHaveLength(2);
    expect(w.sink.frames[0]).toMatchObject({ family: 6, src: REMOTE6, dst: GUEST6, srcPort: 53, dstPort: 5000 });
    expect(w.sink.frames[0]!.udpChecksum).not.toBe(0);
    expect(w.sink.frames[1]!.frame.length).toBe(14 + 40 + 8 + 3001);
  });

  it('uses the guest MAC set later, and broadcast before it is known', () => {
    const w = world({ guestMac: undefined });
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    const s = w.sockets.find('host', 4, 5000)!;
    w.sockets.deliver(s, REMOTE4, 53, 'r1');
    w.engine.setGuestMac(GUEST_MAC);
    w.sockets.deliver(s, REMOTE4, 53, 'r2');
    expect([...w.sink.frames[0]!.dstMac]).toEqual([255, 255, 255, 255, 255, 255]);
    expect([...w.sink.frames[1]!.dstMac]).toEqual([...GUEST_MAC]);
  });

  it('drains a socket in batches of at least 16 and counts frames the sink refuses', () => {
    const w = world({ frameBatch: 16 });
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    const s = w.sockets.find('host', 4, 5000)!;
    const payloads = Array.from({ length: 40 }, (_, i) => `r${i}`);
    w.sockets.deliver(s, REMOTE4, 53, ...payloads);
    expect(w.sink.frames.map((f) => f.payload)).toEqual(payloads);
    w.sink.accept = 1;
    w.sockets.deliver(s, REMOTE4, 53, 'x', 'y', 'z');
    expect(w.engine.counters.toGuest).toMatchObject({ datagrams: 41, sendError: 2 });
  });

  it('drops and counts datagrams when no guest address is known yet', () => {
    const w = world({ inbound: PortForwards.from([{ start: 9000, end: 9000 }]) });
    w.sockets.deliver(w.sockets.find('host', 4, 9000)!, REMOTE4, 1111, 'early');
    expect(w.sink.frames).toHaveLength(0);
    expect(w.engine.counters.toGuest.noBinding).toBe(1);
    w.engine.noteGuestAddress(ip(GUEST4));
    w.sockets.deliver(w.sockets.find('host', 4, 9000)!, REMOTE4, 1111, 'later');
    expect(w.sink.frames[0]).toMatchObject({ dst: GUEST4, dstPort: 9000, payload: 'later' });
  });
});

describe('gateway mapping', () => {
  it('sends datagrams for the IPv4 gateway to loopback', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST4, 5000, GW4, 53, 'dns'));
    expect(w.sockets.find('host', 4, 5000)!.sent[0]).toMatchObject({ addr: '127.0.0.1', port: 53 });
  });

  it('sends datagrams for the IPv6 gateway to ::1, from a global or a link-local source', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST6, 5000, GW6, 53, 'g'), guestFrame(GUEST_LL, 5001, GW6, 53, 'l'));
    expect(w.sockets.find('host', 6, 5000)!.sent[0]).toMatchObject({ addr: '::1', port: 53 });
    expect(w.sockets.find('host', 6, 5001)!.sent[0]).toMatchObject({ addr: '::1', port: 53 });
  });

  it('rewrites loopback and unspecified sources to the gateway, both families', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST4, 5000, GW4, 53, 'q'), guestFrame(GUEST6, 5000, GW6, 53, 'q'));
    w.sockets.deliver(w.sockets.find('host', 4, 5000)!, '127.0.0.1', 53, 'r4');
    w.sockets.deliver(w.sockets.find('host', 4, 5000)!, '0.0.0.0', 53, 'r0');
    w.sockets.deliver(w.sockets.find('host', 6, 5000)!, '::1', 53, 'r6');
    expect(w.sink.frames.map((f) => [f.src, f.dst, f.payload])).toEqual([
      [GW4, GUEST4, 'r4'],
      [GW4, GUEST4, 'r0'],
      [GW6, GUEST6, 'r6'],
    ]);
  });

  it('remembers a local bind from the host address and sends the reply back to it, until it lapses', () => {
    const w = world({ inbound: PortForwards.from([{ start: 8000, end: 8000 }]) });
    w.engine.noteGuestAddress(ip(GUEST4));
    // A host process on the host's own address talks to the guest's forwarded port.
    w.sockets.deliver(w.sockets.find('host', 4, 8000)!, GUEST4, 6000, 'hello');
    expect(w.sink.frames[0]).toMatchObject({ src: GW4, srcPort: 6000, dst: GUEST4, dstPort: 8000 });
    // The guest answers the gateway: it must reach the host address, not loopback.
    w.fromGuest(guestFrame(GUEST4, 8000, GW4, 6000, 'reply'));
    expect(w.sockets.find('host', 4, 8000)!.sent[0]).toMatchObject({ addr: GUEST4, port: 6000 });
    // After the idle timeout the memory lapses and the gateway means loopback again.
    w.clock.advance(181_000);
    w.fromGuest(guestFrame(GUEST4, 8000, GW4, 6000, 'late'));
    expect(w.sockets.find('host', 4, 8000)!.sent[1]).toMatchObject({ addr: '127.0.0.1', port: 6000 });
  });

  it('sets the loopback flag when the host spoke from loopback', () => {
    const w = world({ inbound: PortForwards.from([{ start: 8000, end: 8000 }]) });
    w.engine.noteGuestAddress(ip(GUEST6));
    w.sockets.deliver(w.sockets.find('host', 6, 8000)!, '::1', 6000, 'hi');
    w.fromGuest(guestFrame(GUEST6, 8000, GW6, 6000, 'reply'));
    expect(w.sockets.find('host', 6, 8000)!.sent[0]).toMatchObject({ addr: '::1', port: 6000 });
  });

  it('with mapGw false, the gateway is an ordinary address both ways', () => {
    const w = world({ mapGw: false });
    w.fromGuest(guestFrame(GUEST4, 5000, GW4, 53, 'q'), guestFrame(GUEST6, 5000, GW6, 53, 'q'));
    expect(w.sockets.find('host', 4, 5000)!.sent[0]).toMatchObject({ addr: GW4 });
    expect(w.sockets.find('host', 6, 5000)!.sent[0]).toMatchObject({ addr: GW6, scopeId: 7 });
    w.sockets.deliver(w.sockets.find('host', 4, 5000)!, '127.0.0.1', 53, 'r');
    expect(w.sink.frames[0]).toMatchObject({ src: '127.0.0.1' });
  });

  it('never forwards guest datagrams addressed to loopback or the unspecified address', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST4, 5000, '127.0.0.1', 22, 'x'), guestFrame(GUEST6, 5000, '::', 22, 'y'));
    expect(w.sockets.live()).toHaveLength(0);
    expect(w.engine.counters.fromGuest.malformed).toBe(2);
  });
});

describe('IPv6 link-local and the address the guest uses', () => {
  it('binds link-local with a scope id for link-local destinations and answers the link-local address', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST_LL, 5000, 'fe80::99', 53, 'q'));
    const s = w.sockets.find('host', 6, 5000)!;
    expect(s.spec.address && [...s.spec.address]).toEqual([...ip('fe80::abcd')]);
    expect(s.spec.scopeId).toBe(7);
    expect(s.sent[0]).toMatchObject({ addr: 'fe80::99', port: 53, scopeId: 7 });
    w.sockets.deliver(s, 'fe80::99', 53, 'r');
    expect(w.sink.frames[0]).toMatchObject({ src: 'fe80::99', dst: GUEST_LL });
  });

  it('answers a socket that used its global address at that global address, even from the link-local gateway', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST_LL, 4000, REMOTE6, 1, 'make ll seen'));
    w.fromGuest(guestFrame(GUEST6, 5000, GW6, 53, 'q'));
    w.sockets.deliver(w.sockets.find('host', 6, 5000)!, '::1', 53, 'r');
    expect(w.sink.frames[0]).toMatchObject({ src: GW6, dst: GUEST6 });
  });

  it('on forwarded ports, sends link-local sources to the link-local address and others to the global one', () => {
    const w = world({ inbound: PortForwards.from([{ start: 7000, end: 7000 }]) });
    w.engine.noteGuestAddress(ip(GUEST_LL));
    w.engine.noteGuestAddress(ip(GUEST6));
    const s = w.sockets.find('host', 6, 7000)!;
    w.sockets.deliver(s, 'fe80::99', 1, 'll');
    w.sockets.deliver(s, REMOTE6, 1, 'global');
    expect(w.sink.frames.map((f) => [f.payload, f.dst])).toEqual([
      ['ll', GUEST_LL],
      ['global', GUEST6],
    ]);
  });
});

describe('port forwards and remap', () => {
  it('binds forwarded ports at start, delivers to the remapped port, and replies leave from the original port', () => {
    const w = world({ inbound: PortForwards.from([{ start: 8080, end: 8081, toStart: 80 }]) });
    expect(w.failures).toEqual([]);
    for (const fam of [4, 6] as const) for (const p of [8080, 8081]) expect(w.sockets.find('host', fam, p)).toBeDefined();
    w.engine.noteGuestAddress(ip(GUEST4));
    const s = w.sockets.find('host', 4, 8081)!;
    w.sockets.deliver(s, REMOTE4, 33333, 'req');
    expect(w.sink.frames[0]).toMatchObject({ srcPort: 33333, dstPort: 81, payload: 'req' });
    w.fromGuest(guestFrame(GUEST4, 81, REMOTE4, 33333, 'resp'));
    expect(s.sent[0]).toMatchObject({ addr: REMOTE4, port: 33333 });
    expect(w.sockets.find('host', 4, 81)).toBeUndefined();
    // Forwarded sockets never age.
    w.clock.advance(1_000_000);
    expect(w.sockets.find('host', 4, 8081)).toBeDefined();
  });

  it('reports ports it cannot bind and carries on', () => {
    const w = world({ inbound: PortForwards.from([{ start: 1, end: 2 }]), ipv6: false }, ['EACCES']);
    expect(w.failures).toEqual([{ port: 1, family: 4, side: 'host', code: 'EACCES' }]);
    expect(w.sockets.find('host', 4, 2)).toBeDefined();
    expect(w.logger.lines).toContain('warn: udp: cannot bind IPv4 port 1: EACCES');
  });

  it('binds only the given address and family when a forward has a bind address', () => {
    const w = world({ inbound: PortForwards.from([{ start: 9999, end: 9999, bindAddress: ip('203.0.113.1') }]) });
    expect(w.sockets.find('host', 4, 9999, '203.0.113.1')).toBeDefined();
    expect(w.sockets.find('host', 6, 9999)).toBeUndefined();
  });
});

describe('aging and caps', () => {
  it('closes a binding idle for 180 s, and activity in either direction keeps it', () => {
    const w = world();
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    const s = w.sockets.find('host', 4, 5000)!;
    w.clock.advance(120_000);
    w.sockets.deliver(s, REMOTE4, 53, 'streaming');
    w.clock.advance(120_000);
    expect(s.closed).toBe(false);
    w.clock.advance(61_000);
    expect(s.closed).toBe(true);
    expect(s.onReadable).toBeUndefined();
    expect(w.engine.counters.events.bindingsAged).toBe(1);
    expect(w.engine.stats().bindings).toBe(0);
    // A new datagram opens a fresh binding.
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'again'));
    expect(w.sockets.find('host', 4, 5000)).toBeDefined();
  });

  it('honours a configured timeout', () => {
    const w = world({ idleTimeoutMs: 5000 });
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    w.clock.advance(6000);
    expect(w.sockets.find('host', 4, 5000)).toBeUndefined();
  });

  it('evicts the least recently used binding at the cap, with a log line', () => {
    const w = world({ maxBindings: 2 });
    w.fromGuest(guestFrame(GUEST4, 1001, REMOTE4, 53, 'a'));
    w.clock.advance(1000);
    w.fromGuest(guestFrame(GUEST4, 1002, REMOTE4, 53, 'b'));
    w.clock.advance(1000);
    w.fromGuest(guestFrame(GUEST4, 1001, REMOTE4, 53, 'a again'));
    w.fromGuest(guestFrame(GUEST4, 1003, REMOTE4, 53, 'c'));
    expect(w.sockets.find('host', 4, 1002)).toBeUndefined();
    expect(w.sockets.find('host', 4, 1001)).toBeDefined();
    expect(w.sockets.find('host', 4, 1003)!.sent).toHaveLength(1);
    expect(w.engine.counters.events.bindingsEvicted).toBe(1);
    expect(w.engine.stats().bindings).toBe(2);
    expect(w.logger.lines.filter((l) => l.startsWith('warn:'))).toEqual([
      'warn: udp: 2 bindings reached, closed the least recently used (IPv4 port 1002, idle 1 s)',
    ]);
  });

  it('rate-limits the cap log line and keeps sockets bounded under a port scan', () => {
    const w = world({ maxBindings: 64 });
    for (let p = 1000; p < 3000; p++) w.fromGuest(guestFrame(GUEST4, p, REMOTE4, 53, 'x'));
    expect(w.sockets.live()).toHaveLength(64);
    expect(w.logger.lines.filter((l) => l.startsWith('warn:'))).toHaveLength(1);
    w.clock.advance(11_000);
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'x'));
    const warns = w.logger.lines.filter((l) => l.startsWith('warn:'));
    expect(warns).toHaveLength(2);
    expect(warns[1]).toMatch(/1935 similar events since the last report/);
  });

  it('drops (capReached) instead of evicting a binding younger than evictMinIdleMs', () => {
    const w = world({ maxBindings: 1, evictMinIdleMs: 10_000 });
    w.fromGuest(guestFrame(GUEST4, 1001, REMOTE4, 53, 'a'));
    w.fromGuest(guestFrame(GUEST4, 1002, REMOTE4, 53, 'b'), guestFrame(GUEST4, 1002, REMOTE4, 53, 'c'));
    expect(w.engine.counters.fromGuest.capReached).toBe(2);
    expect(w.sockets.find('host', 4, 1001)).toBeDefined();
  });
});

describe('bad input and failures', () => {
  it('counts malformed frames and leaves non-UDP frames to the caller', () => {
    const w = world();
    const good = guestFrame(GUEST4, 5000, REMOTE4, 53, 'ok');
    const truncated = good.slice(0, 30);
    const badSum = good.slice();
    badSum[14 + 10] = badSum[14 + 10]! ^ 0xff;
    const udpTooLong = good.slice();
    udpTooLong[14 + 20 + 5] = 200;
    const fragment = guestFrame(GUEST4, 5000, REMOTE4, 53, 'frag');
    fragment[14 + 6] = 0x20; // MF
    fragment[14 + 10] = 0;
    fragment[14 + 11] = 0;
    const sum = (() => {
      let s = 0;
      for (let i = 14; i < 34; i += 2) s += (fragment[i]! << 8) | fragment[i + 1]!;
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      return ~s & 0xffff;
    })();
    fragment[14 + 10] = sum >> 8;
    fragment[14 + 11] = sum & 0xff;
    const port0 = guestFrame(GUEST4, 5000, REMOTE4, 0, 'p0');
    const srcPort0 = guestFrame(GUEST4, 0, REMOTE4, 53, 'p0');
    const v6short = guestFrame(GUEST6, 5000, REMOTE6, 53, 'six').slice(0, 14 + 40 + 4);
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    const handled = w.fromGuest(good, truncated, badSum, udpTooLong, fragment, port0, srcPort0, v6short, arp);
    expect(handled).toBe(8);
    expect(w.engine.counters.fromGuest).toMatchObject({ datagrams: 1, malformed: 7 });
  });

  it('counts a binding that cannot be opened as noBinding', () => {
    const w = world();
    w.sockets.failOpens.push('EADDRINUSE');
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'a'), guestFrame(GUEST4, 5000, REMOTE4, 53, 'b'));
    expect(w.engine.counters.fromGuest.noBinding).toBe(2);
    expect(w.engine.counters.events.openErrors).toBe(1);
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'c'));
    expect(w.engine.counters.fromGuest.datagrams).toBe(1);
  });

  it('counts datagrams the kernel would not take as sendError', () => {
    const w = world();
    w.sockets.sendLimit = 1;
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'a'), guestFrame(GUEST4, 5000, REMOTE4, 53, 'b'));
    expect(w.engine.counters.fromGuest).toMatchObject({ datagrams: 1, sendError: 1 });
  });

  it('ignores a disabled family', () => {
    const w = world({ ipv6: false });
    w.fromGuest(guestFrame(GUEST6, 5000, REMOTE6, 53, 'x'));
    expect(w.sockets.live()).toHaveLength(0);
    expect(w.engine.counters.fromGuest.malformed).toBe(1);
  });

  it('closes everything on stop()', () => {
    const w = world({ inbound: PortForwards.from([{ start: 8000, end: 8000 }]), splice: true });
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'x'));
    expect(w.sockets.live().length).toBeGreaterThan(0);
    w.engine.stop();
    expect(w.sockets.live()).toHaveLength(0);
  });
});

describe('frames to the guest as offload runs', () => {
  const seg = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

  it('sends a burst from one peer as one run and cuts back into the same frames', () => {
    for (const [fam, guest, remote] of [[4, GUEST4, REMOTE4], [6, GUEST6, REMOTE6]] as const) {
      const w = world({}, [], new SegmentingSink());
      w.fromGuest(guestFrame(guest, 5000, remote, 53, 'q'));
      const s = w.sockets.find('host', fam, 5000)!;
      const burst = [seg(1400, 1), seg(1400, 2), seg(1400, 3), seg(900, 4)];
      w.sockets.deliver(s, remote, 53, ...burst);
      expect(w.sink.runs).toEqual([4]);
      expect(w.sink.frames.map((f) => [f.src, f.dst, f.srcPort, f.dstPort, f.frame.length])).toEqual(
        burst.map((b) => [remote, guest, 53, 5000, 14 + (fam === 4 ? 20 : 40) + 8 + b.length]),
      );
      expect(w.sink.frames.map((f) => f.frame[f.frame.length - 1])).toEqual([1, 2, 3, 4]);
      expect(w.engine.counters.toGuest).toMatchObject({ datagrams: 4, bytes: 3 * 1400 + 900, sendError: 0 });
      expect(w.engine.counters.events.offloadFrames).toBe(1);
    }
  });

  it('breaks runs at another peer, a larger datagram and after a shorter one, keeping order', () => {
    const w = world({}, [], new SegmentingSink());
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    const s = w.sockets.find('host', 4, 5000)!;
    w.sockets.deliver(s, REMOTE4, 53, seg(100, 1), seg(100, 2), seg(50, 3), seg(100, 4), seg(100, 5));
    w.sockets.deliver(s, '203.0.113.8', 53, seg(100, 6));
    w.sockets.deliver(s, REMOTE4, 54, seg(100, 7), seg(200, 8), seg(200, 9));
    expect(w.sink.runs).toEqual([3, 2, 2]);
    expect(w.sink.frames.map((f) => f.frame[f.frame.length - 1])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(w.sink.frames.map((f) => f.srcPort)).toEqual([53, 53, 53, 53, 53, 53, 54, 54, 54]);
    expect(w.engine.counters.toGuest).toMatchObject({ datagrams: 9, sendError: 0 });
  });

  it('keeps a run within 64 datagrams and the 16-bit IP length', () => {
    const w = world({ frameBatch: 128 }, [], new SegmentingSink());
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    const s = w.sockets.find('host', 4, 5000)!;
    w.sockets.deliver(s, REMOTE4, 53, ...Array.from({ length: 100 }, (_, i) => seg(10, i)));
    expect(w.sink.runs).toEqual([64, 36]);
    w.sockets.deliver(s, REMOTE4, 53, ...Array.from({ length: 6 }, (_, i) => seg(20000, i)));
    // 65535 - 20 - 8 leaves room for three payloads of 20000 per run.
    expect(w.sink.runs.slice(2)).toEqual([3, 3]);
    expect(w.engine.counters.toGuest).toMatchObject({ datagrams: 106, sendError: 0 });
  });

  it('counts a refused run as send errors, and falls back to frames for good when the sink cannot segment', () => {
    const sink = new SegmentingSink();
    const w = world({}, [], sink);
    w.fromGuest(guestFrame(GUEST6, 5000, REMOTE6, 53, 'q'));
    const s = w.sockets.find('host', 6, 5000)!;
    sink.mode = 'refuse';
    w.sockets.deliver(s, REMOTE6, 53, seg(300, 1), seg(300, 2));
    expect(w.engine.counters.toGuest).toMatchObject({ datagrams: 0, sendError: 2 });
    sink.mode = 'unsupported';
    w.sockets.deliver(s, REMOTE6, 53, seg(300, 3), seg(300, 4));
    sink.mode = 'segment';
    w.sockets.deliver(s, REMOTE6, 53, seg(300, 5), seg(300, 6));
    expect(sink.runs).toEqual([]);
    expect(sink.frames.map((f) => f.frame[f.frame.length - 1])).toEqual([3, 4, 5, 6]);
    expect(w.engine.counters.toGuest).toMatchObject({ datagrams: 4, sendError: 2 });
    expect(w.logger.lines.some((l) => l.includes('cannot segment'))).toBe(true);
  });
});
