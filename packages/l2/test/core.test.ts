import { describe, expect, it } from 'vitest';
import {
  EthernetFrame,
  EtherType,
  Ipv4Packet,
  UdpPacket,
  checksumAdjust,
  checksumCombine,
  checksumPartial,
  emitEthernet,
  emitIpv4,
  emitIpv6,
  emitUdp,
  formatIpv4Addr,
  formatIpv6Addr,
  formatMac,
  internetChecksum,
  isWireError,
  parseEthernet,
  parseIp,
  parseIpv4,
  parseIpv4Addr,
  parseIpv6Addr,
  parseIpv6Bytes,
  parseMac,
  parseUdp,
  parseUdpBytes,
  pseudoHeaderSum,
  type Ipv4Repr,
  type Ipv6Repr,
} from '../src/index.js';

import { hex, ok } from './helpers.js';
const addr = (s: string): Uint8Array => ok(s.includes(':') ? parseIpv6Addr(s) : parseIpv4Addr(s));

describe('addr', () => {
  it('parses and formats IPv4', () => {
    expect([...addr('10.0.2.15')]).toEqual([10, 0, 2, 15]);
    expect(formatIpv4Addr(addr('255.255.255.0'))).toBe('255.255.255.0');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1..2.3', '1.2.3.4 ', 'a.b.c.d']) {
      const r = parseIpv4Addr(bad);
      expect(isWireError(r), bad).toBe(true);
    }
  });
  it('parses and formats IPv6 per RFC 5952', () => {
    const cases: [string, string][] = [
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::1', 'fe80::1'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['1::', '1::'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
    ];
    for (const [i, o] of cases) expect(formatIpv6Addr(addr(i)), i).toBe(o);
    for (const bad of ['', ':', ':::', '1:::2', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3', 'fe80::1%eth0', '::1.2.3', 'g::', '1:', ':1']) {
      expect(isWireError(parseIpv6Addr(bad)), bad).toBe(true);
    }
  });
  it('parses and formats MAC', () => {
    expect(formatMac(ok(parseMac('52:54:00:12:34:56')))).toBe('52:54:00:12:34:56');
    expect(formatMac(ok(parseMac('52-54-00-AB-cd-EF')))).toBe('52:54:00:ab:cd:ef');
    for (const bad of ['52:54:00:12:34', '52:54:00:12:34:5g', '52:54-00:12:34:56', '5:54:00:12:34:56:']) {
      expect(isWireError(parseMac(bad)), bad).toBe(true);
    }
  });
});

describe('checksum', () => {
  it('matches RFC 1071 example', () => {
    // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    expect(checksumPartial(hex('0001f203f4f5f6f7'))).toBe(0xddf2);
  });
  it('word path equals byte path for every alignment and length', () => {
    const big = new Uint8Array(1200);
    let s = 12345;
    for (let i = 0; i < big.length; i++) big[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
    const naive = (b: Uint8Array, a: number, e: number): number => {
      let acc = 0;
      for (let i = a; i < e; i += 2) acc += ((b[i] ?? 0) << 8) | (i + 1 < e ? (b[i + 1] ?? 0) : 0);
      while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
      return acc;
    };
    for (let a = 0; a < 8; a++) for (const e of [a + 63, a + 64, a + 65, a + 200, 1200, 1199]) {
      expect(checksumPartial(big, a, e), `${a}..${e}`).toBe(naive(big, a, e));
      const sub = big.subarray(a + 1, e);
      expect(checksumPartial(sub), `sub ${a}..${e}`).toBe(naive(big, a + 1, e));
    }
  });
  it('combines partial sums including odd offsets', () => {
    const b = hex('0102030405060708090a0b');
    const whole = checksumPartial(b);
    for (let k = 0; k <= b.length; k++) {
      expect(checksumCombine(checksumPartial(b, 0, k), checksumPartial(b, k), k)).toBe(whole);
    }
  });
  it('incremental update equals recompute (RFC 1624)', () => {
    const b = hex('450000730000400040110000c0a80001c0a800c7');
    const c = internetChecksum(b);
    expect(c).toBe(0xb861);
    b[8] = 0x3f; // TTL 64 -> 63
    expect(checksumAdjust(c, 0x4011, 0x3f11)).toBe(internetChecksum(b));
  });
});

// Made by scapy 2.5: Ether(src='52:54:00:12:34:56',dst='52:55:00:00:02:02')/IP(src='10.0.2.15',dst='10.0.2.3',id=1)/UDP(sport=5353,dport=53)/b'hello', zero-padded to 60 bytes
const V4_UDP = hex(
  '525500000202 525400123456 0800' +
    '4500 0021 0001 0000 4011 62ba 0a00020f 0a000203' +
    '14e9 0035 000d 8ed2' +
    '68656c6c6f' +
    '00000000000000000000000000',
);

describe('ethernet/ipv4/udp', () => {
  it('parses a padded frame using the IP length', () => {
    const f = ok(EthernetFrame.checked(V4_UDP));
    const e = ok(parseEthernet(f));
    expect(V4_UDP.length).toBe(60);
    expect(e.ethertype).toBe(EtherType.Ipv4);
    expect(formatMac(e.src)).toBe('52:54:00:12:34:56');
    expect(e.vlanId).toBeNull();
    const ip = ok(parseIpv4(ok(Ipv4Packet.checked(e.payload))));
    expect(formatIpv4Addr(ip.src)).toBe('10.0.2.15');
    expect(ip.payload.length).toBe(13);
    const u = ok(parseUdp(ok(UdpPacket.checked(ip.payload)), ip.src, ip.dst));
    expect(u.srcPort).toBe(5353);
    expect(Buffer.from(u.payload).toString()).toBe('hello');
  });
  it('builds in place and round-trips', () => {
    const buf = new Uint8Array(100);
    const payload = new TextEncoder().encode('hello');
    const udpAt = 14 + 20;
    const src = addr('10.0.2.15');
    const dst = addr('10.0.2.3');
    const ul = ok(emitUdp({ srcPort: 5353, dstPort: 53, payload }, buf.subarray(udpAt), src, dst));
    const ipRepr: Ipv4Repr = {
      version: 4, src, dst, protocol: 17, ttl: 64, dscp: 0, ecn: 0, ident: 1,
      dontFragment: false, moreFragments: false, fragmentOffset: 0, options: new Uint8Array(0),
      payload: buf.subarray(udpAt, udpAt + ul),
    };
    const il = ok(emitIpv4(ipRepr, buf.subarray(14)));
    const fl = emitEthernet(
      { dst: ok(parseMac('52:55:00:00:02:02')), src: ok(parseMac('52:54:00:12:34:56')), ethertype: 0x800, vlanId: null, vlanPriority: 0, payload: buf.subarray(14, 14 + il) },
      buf,
    );
    expect(fl).toBe(47);
    const ip = ok(parseIp(buf.subarray(14, fl)));
    expect(ip.version).toBe(4);
    const u = ok(parseUdpBytes(ip.payload, ip.src, ip.dst));
    expect(u.dstPort).toBe(53);
  });
  it('handles a VLAN tag', () => {
    const buf = new Uint8Array(18 + 4);
    emitEthernet({ dst: new Uint8Array(6).fill(0xff), src: new Uint8Array(6).fill(2), ethertype: 0x86dd, vlanId: 42, vlanPriority: 5, payload: new Uint8Array([1, 2, 3, 4]) }, buf);
    const e = ok(parseEthernet(ok(EthernetFrame.checked(buf))));
    expect(e.vlanId).toBe(42);
    expect(e.vlanPriority).toBe(5);
    expect(e.ethertype).toBe(0x86dd);
    expect([...e.payload]).toEqual([1, 2, 3, 4]);
  });
  it('ipv6 udp with zero checksum is malformed, pseudo header matters', () => {
    const src = addr('fe80::1');
    const dst = addr('ff02::1:2');
    const buf = new Uint8Array(40 + 8 + 3);
    ok(emitUdp({ srcPort: 546, dstPort: 547, payload: new Uint8Array([1, 2, 3]) }, buf.subarray(40), src, dst));
    const r: Ipv6Repr = { version: 6, src, dst, nextHeader: 17, hopLimit: 1, trafficClass: 0, flowLabel: 0x12345, upperOffset: 40, isFragment: false, fragmentOffset: 0, moreFragments: false, fragmentIdent: 0, payload: buf.subarray(40) };
    ok(emitIpv6(r, buf));
    const ip = ok(parseIpv6Bytes(buf));
    expect(ip).toEqual(r);
    ok(parseUdpBytes(ip.payload, ip.src, ip.dst));
    expect(pseudoHeaderSum(src, dst, 17, 11)).toBeGreaterThan(0);
    const z = buf.slice(40);
    z[6] = 0;
    z[7] = 0;
    expect(parseUdpBytes(z, src, dst)).toMatchObject({ kind: 'Malformed' });
    expect(parseUdpBytes(z, addr('10.0.0.1'), addr('10.0.0.2'))).toMatchObject({ srcPort: 546 });
  });
});
