// Property tests: parse(emit(x)) == x for every format, and no parser throws on any input.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ArpPacket,
  Dhcpv4Packet,
  Dhcpv6Packet,
  EthernetFrame,
  Icmpv4Packet,
  Icmpv6Packet,
  Ipv4Packet,
  Ipv6Packet,
  UdpPacket,
  arpBufferLength,
  checksumCombine,
  checksumPartial,
  decodeDnsNames,
  dhcpv4BufferLength,
  dhcpv6BufferLength,
  emitArp,
  emitDhcpv4,
  emitDhcpv6,
  emitEthernet,
  emitIcmpv4,
  emitIcmpv6,
  emitIpv4,
  emitIpv6,
  emitUdp,
  ethernetBufferLength,
  formatIpv4Addr,
  formatIpv6Addr,
  formatMac,
  icmpv4BufferLength,
  icmpv6BufferLength,
  ipv4BufferLength,
  ipv6BufferLength,
  isWireError,
  parseArp,
  parseDhcpv4,
  parseDhcpv6,
  parseEthernet,
  parseIcmpv4,
  parseIcmpv6,
  parseIp,
  parseIpv4,
  parseIpv4Addr,
  parseIpv6,
  parseIpv6Addr,
  parseMac,
  parseUdp,
  udpBufferLength,
  type Dhcpv4Repr,
  type Dhcpv6Repr,
  type EthernetRepr,
  type Icmpv6Repr,
  type Ipv4Repr,
  type Ipv6Repr,
  type NdpOptions,
  type WireError,
} from '../src/index.js';
import { ok, plain } from './helpers.js';

const runs = { numRuns: 300, seed: 0x5eed };

const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
const mac = bytes(6);
const v4 = bytes(4);
const v6 = bytes(16);
const payload = fc.uint8Array({ maxLength: 300 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,11}$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));

function emitTo<R>(len: number | { kind: string }, emit: (b: Uint8Array) => unknown): Uint8Array {
  if (typeof len !== 'number') throw new Error(`length error ${JSON.stringify(len)}`);
  const b = new Uint8Array(len);
  const w = emit(b);
  if (isWireError(w)) throw new Error(`emit error ${w.what}`);
  return b;
}
const same = (a: unknown, b: unknown): void => expect(plain(a)).toEqual(plain(b));
const unwrap = ok;

describe('round trips', () => {
  it('addresses text', () => {
    fc.assert(fc.property(v4, (a) => { same(parseIpv4Addr(formatIpv4Addr(a)), a); }), runs);
    fc.assert(fc.property(v6, (a) => { same(parseIpv6Addr(formatIpv6Addr(a)), a); }), runs);
    fc.assert(fc.property(mac, (a) => { same(parseMac(formatMac(a)), a); }), runs);
  });

  it('checksum partial sums combine at any split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(), fc.nat(8), (b, k, off) => {
        const buf = new Uint8Array(b.length + off);
        buf.set(b, off);
        const s = buf.subarray(off);
        const cut = b.length === 0 ? 0 : k % (b.length + 1);
        expect(checksumCombine(checksumPartial(s, 0, cut), checksumPartial(s, cut), cut)).toBe(checksumPartial(b));
      }),
      runs,
    );
  });

  it('Ethernet', () => {
    const arb = fc.record({
      dst: mac, src: mac, ethertype: fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== 0x8100),
      vlanId: fc.option(fc.integer({ min: 0, max: 4095 })), vlanPriority: fc.integer({ min: 0, max: 7 }), payload,
    }).map((r): EthernetRepr => ({ ...r, vlanPriority: r.vlanId === null ? 0 : r.vlanPriority }));
    fc.assert(fc.property(arb, (r) => {
      const b = emitTo(ethernetBufferLength(r), (x) => emitEthernet(r, x));
      same(unwrap(parseEthernet(unwrap(EthernetFrame.checked(b)))), r);
    }), runs);
  });

  const ipv4Arb = fc.record({
    version: fc.constant(4 as const), src: v4, dst: v4, protocol: fc.integer({ min: 0, max: 255 }), ttl: fc.integer({ min: 0, max: 255 }),
    dscp: fc.integer({ min: 0, max: 63 }), ecn: fc.integer({ min: 0, max: 3 }), ident: u16, dontFragment: fc.boolean(),
    moreFragments: fc.boolean(), fragmentOffset: fc.integer({ min: 0, max: 1000 }).map((n) => n * 8),
    options: fc.integer({ min: 0, max: 10 }).chain((n) => bytes(n * 4)), payload,
  }) satisfies fc.Arbitrary<Ipv4Repr>;

  it('IPv4', () => {
    fc.assert(fc.property(ipv4Arb, (r) => {
      const b = emitTo(ipv4BufferLength(r), (x) => emitIpv4(r, x));
      same(unwrap(parseIpv4(unwrap(Ipv4Packet.checked(b)))), r);
      // Trailing link-layer padding does not change the result.
      const padded = new Uint8Array(b.length + 17);
      padded.set(b);
      same(unwrap(parseIp(padded)), r);
    }), runs);
  });

  const ipv6Arb = fc.record({
    version: fc.constant(6 as const), src: v6, dst: v6,
    nextHeader: fc.integer({ min: 0, max: 255 }).filter((n) => ![0, 43, 44, 60].includes(n)),
    hopLimit: fc.integer({ min: 0, max: 255 }), trafficClass: fc.integer({ min: 0, max: 255 }), flowLabel: fc.integer({ min: 0, max: 0xfffff }),
    upperOffset: fc.constant(40), isFragment: fc.constant(false), fragmentOffset: fc.constant(0), moreFragments: fc.constant(false),
    fragmentIdent: fc.constant(0), payload,
  }) satisfies fc.Arbitrary<Ipv6Repr>;

  it('IPv6', () => {
    fc.assert(fc.property(ipv6Arb, (r) => {
      const b = emitTo(ipv6BufferLength(r), (x) => emitIpv6(r, x));
      same(unwrap(parseIpv6(unwrap(Ipv6Packet.checked(b)))), r);
    }), runs);
  });

  it('UDP over IPv4 and IPv6', () => {
    const arb = fc.tuple(fc.record({ srcPort: u16, dstPort: u16, payload }), fc.oneof(fc.tuple(v4, v4), fc.tuple(v6, v6)));
    fc.assert(fc.property(arb, ([r, [s, d]]) => {
      const b = emitTo(udpBufferLength(r), (x) => emitUdp(r, x, s, d));
      expect(b[6]! | b[7]!).not.toBe(0);
      same(unwrap(parseUdp(unwrap(UdpPacket.checked(b)), s, d)), r);
      // Any single flipped bit is caught by the checksum (or by the length check).
      const bad = b.slice();
      bad[b.length - 1]! ^= 0x10;
      expect(isWireError(parseUdp(unwrap(UdpPacket.checked(bad)), s, d))).toBe(true);
    }), runs);
  });

  it('ARP', () => {
    const arb = fc.record({ operation: fc.constantFrom(1 as const, 2 as const), senderMac: mac, senderIp: v4, targetMac: mac, targetIp: v4 });
    fc.assert(fc.property(arb, (r) => {
      const b = emitTo(arpBufferLength(r), (x) => emitArp(r, x));
      same(unwrap(parseArp(unwrap(ArpPacket.checked(b)))), r);
    }), runs);
  });

  it('ICMPv4 and ICMPv6 echo', () => {
    const arb = fc.record({ type: fc.constantFrom('echoRequest' as const, 'echoReply' as const), ident: u16, seq: u16, data: payload });
    fc.assert(fc.property(arb, v6, v6, (r, s, d) => {
      const b = emitTo(icmpv4BufferLength(r), (x) => emitIcmpv4(r, x));
      same(unwrap(parseIcmpv4(unwrap(Icmpv4Packet.checked(b)))), r);
      const c = emitTo(icmpv6BufferLength(r), (x) => emitIcmpv6(r, x, s, d));
      same(unwrap(parseIcmpv6(unwrap(Icmpv6Packet.checked(c)), s, d)), r);
    }), runs);
  });

  const unicast6 = v6.map((a) => { a[0] = 0xfe; return a; });
  const optsArb: fc.Arbitrary<NdpOptions> = fc.record({
    sourceLinkAddr: fc.option(mac), targetLinkAddr: fc.option(mac), mtu: fc.option(u32),
    prefixes: fc.array(fc.record({ prefixLength: fc.integer({ min: 0, max: 128 }), onLink: fc.boolean(), autonomous: fc.boolean(), validLifetime: u32, preferredLifetime: u32, prefix: v6 }), { maxLength: 2 }),
    rdnss: fc.array(fc.record({ lifetime: u32, servers: fc.array(v6, { minLength: 1, maxLength: 3 }) }), { maxLength: 2 }),
    dnssl: fc.array(fc.record({ lifetime: u32, domains: fc.array(domain, { minLength: 1, maxLength: 3 }) }), { maxLength: 2 }),
  });

  it('NDP RS/RA/NS/NA', () => {
    const arb: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
      optsArb.map((options) => ({ type: 'routerSolicit' as const, options })),
      fc.record({ type: fc.constant('routerAdvert' as const), curHopLimit: fc.integer({ min: 0, max: 255 }), managed: fc.boolean(), other: fc.boolean(), routerLifetime: u16, reachableTime: u32, retransTime: u32, options: optsArb }),
      fc.record({ type: fc.constant('neighborSolicit' as const), target: unicast6, options: optsArb }),
      fc.record({ type: fc.constant('neighborAdvert' as const), router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), target: unicast6, options: optsArb }),
    );
    const src = unwrap(parseIpv6Addr('fe80::1'));
    const dst = unwrap(parseIpv6Addr('fe80::2'));
    fc.assert(fc.property(arb, (r) => {
      const b = emitTo(icmpv6BufferLength(r), (x) => emitIcmpv6(r, x, src, dst));
      same(unwrap(parseIcmpv6(unwrap(Icmpv6Packet.checked(b)), src, dst)), r);
    }), runs);
  });

  it('DHCPv4', () => {
    const arb: fc.Arbitrary<Dhcpv4Repr> = fc.record({
      messageType: fc.integer({ min: 1, max: 8 }), xid: u32, secs: u16, broadcast: fc.boolean(), ciaddr: v4, yiaddr: v4, siaddr: v4, giaddr: v4, chaddr: mac,
      requestedIp: fc.option(v4), serverId: fc.option(v4), parameterRequestList: fc.option(fc.uint8Array({ minLength: 1, maxLength: 20 })),
      clientId: fc.option(fc.uint8Array({ minLength: 2, maxLength: 20 })), maxMessageSize: fc.option(u16),
      hostName: fc.option(fc.stringMatching(/^[a-z]{1,20}$/)), subnetMask: fc.option(v4), routers: fc.array(v4, { maxLength: 3 }),
      dnsServers: fc.array(v4, { maxLength: 70 }), domainSearch: fc.array(domain, { maxLength: 30 }), leaseTime: fc.option(u32), mtu: fc.option(u16),
      classlessRoutes: fc.array(fc.integer({ min: 0, max: 32 }).chain((prefixLength) => fc.record({
        prefixLength: fc.constant(prefixLength), router: v4,
        destination: v4.map((d) => d.map((x, i) => (i < (prefixLength + 7) >> 3 ? x : 0))),
      })), { maxLength: 5 }),
    });
    fc.assert(fc.property(arb, (r) => {
      const b = emitTo(dhcpv4BufferLength(r), (x) => emitDhcpv4(r, x));
      same(unwrap(parseDhcpv4(unwrap(Dhcpv4Packet.checked(b)))), r);
    }), runs);
  });

  it('DHCPv6', () => {
    const status = fc.option(fc.record({ code: u16, message: fc.string({ maxLength: 20 }).map((s) => s.replace(/[\ud800-\udfff]/g, '')) }));
    const duid = fc.uint8Array({ minLength: 2, maxLength: 40 });
    const arb: fc.Arbitrary<Dhcpv6Repr> = fc.record({
      messageType: fc.integer({ min: 1, max: 11 }), transactionId: fc.integer({ min: 0, max: 0xffffff }),
      clientId: duid, serverId: fc.option(duid),
      iaNa: fc.array(fc.record({ iaid: u32, t1: u32, t2: u32, status, addresses: fc.array(fc.record({ addr: v6, preferredLifetime: u32, validLifetime: u32, status }), { maxLength: 2 }) }), { maxLength: 2 }),
      oro: fc.option(fc.array(u16, { maxLength: 5 })), elapsedTime: fc.option(u16), rapidCommit: fc.boolean(), status,
      dnsServers: fc.array(v6, { maxLength: 3 }), domainList: fc.array(domain, { maxLength: 3 }),
    }).map((r) => {
      // Respect the presence rules the parser enforces (RFC 8415 16).
      const needs = [2, 3, 5, 7, 8, 9].includes(r.messageType);
      const forbids = [1, 4, 6].includes(r.messageType);
      const serverId = needs ? (r.serverId ?? new Uint8Array([0, 1, 2])) : forbids ? null : r.serverId;
      return { ...r, serverId };
    });
    fc.assert(fc.property(arb, (r) => {
      const b = emitTo(dhcpv6BufferLength(r), (x) => emitDhcpv6(r, x));
      same(unwrap(parseDhcpv6(unwrap(Dhcpv6Packet.checked(b)))), r);
    }), runs);
  });
});

describe('parsers never throw', () => {
  const everyParser = (b: Uint8Array): void => {
    const s4 = b.subarray(0, 4);
    const s6 = new Uint8Array(16);
    const tryView = <V>(v: V | WireError, f: (v: V) => unknown): void => {
      if (!isWireError(v)) f(v);
    };
    tryView(EthernetFrame.checked(b), parseEthernet);
    tryView(Ipv4Packet.checked(b), (v) => parseIpv4(v));
    tryView(Ipv6Packet.checked(b), parseIpv6);
    parseIp(b);
    tryView(UdpPacket.checked(b), (v) => { parseUdp(v, s4, s4); parseUdp(v, s6, s6); });
    tryView(ArpPacket.checked(b), parseArp);
    tryView(Icmpv4Packet.checked(b), (v) => parseIcmpv4(v, false));
    tryView(Icmpv6Packet.checked(b), (v) => parseIcmpv6(v, s6, s6, false));
    tryView(Dhcpv4Packet.checked(b), parseDhcpv4);
    tryView(Dhcpv6Packet.checked(b), parseDhcpv6);
    decodeDnsNames(b, { compression: true });
    decodeDnsNames(b, { padded: true });
  };

  it('on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => { expect(() => everyParser(b)).not.toThrow(); }), { ...runs, numRuns: 2000 });
  });

  it('on random bytes that start like real headers', () => {
    // Biased inputs: plausible version nibbles, ICMPv6 NDP types, DHCP cookies, so deeper code paths get fuzzed.
    const arb = fc.tuple(fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x01, 0x02, 0x86, 0x87, 0x88, 0x85), fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.boolean()).map(([first, rest, cookie]) => {
      const b = new Uint8Array(Math.max(rest.length + 1, cookie ? 260 : 0));
      b.set(rest, 1);
      b[0] = first;
      if (cookie) b.set([1, 1, 6, 0], 0), b.set([0x63, 0x82, 0x53, 0x63], 236);
      return b;
    });
    fc.assert(fc.property(arb, (b) => {
      expect(() => everyParser(b)).not.toThrow();
      const c = b.slice();
      c[0] = 0x86; // NDP RA type for the ICMPv6 parser path
      expect(() => parseIcmpv6(Icmpv6Packet.over(c), new Uint8Array(16), new Uint8Array(16), false)).not.toThrow();
    }), { ...runs, numRuns: 2000 });
  });

  it('on every truncation of valid frames', () => {
    const frames = JSON.parse(
      execFileSync('/usr/bin/python3', [join(__dirname, 'scapy_frames.py')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as Record<string, string>;
    let n = 0;
    for (const h of Object.values(frames)) {
      const full = Uint8Array.from(Buffer.from(h, 'hex'));
      for (let len = 0; len <= full.length; len++) {
        const t = full.slice(0, len);
        expect(() => everyParser(t)).not.toThrow();
        expect(() => everyParser(t.subarray(Math.min(14, len)))).not.toThrow();
        // Go through the full stack on the truncated frame.
        const e = EthernetFrame.checked(t);
        if (!isWireError(e)) {
          const er = parseEthernet(e);
          if (!isWireError(er)) {
            const p = parseIp(er.payload);
            if (len < full.length && !isWireError(p)) {
              // A truncated frame can still parse at L3 only if the cut fell in Ethernet padding.
              expect(len).toBeGreaterThanOrEqual(14 + (p.version === 4 ? 20 : 40) + p.payload.length - 1);
            }
          }
        }
        n++;
      }
    }
    expect(n).toBeGreaterThan(2000);
  });
});
