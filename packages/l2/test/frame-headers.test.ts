// parseFrameHeaders: each class on hand-built frames, then properties over arbitrary and mutated input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EthHdr,
  FrameClass,
  FrameHeaders,
  Ip4Hdr,
  Ip6Hdr,
  checksumFinish,
  checksumPartial,
  checksumValid,
  emitEthernet,
  emitIpv4,
  emitUdp,
  get16,
  isWireError,
  parseFrameHeaders,
  parseIp,
  set16,
  type Ipv4Repr,
} from '../src/index.js';
import { arpFrame, GUEST_MAC, HOST_MAC, icmp4Frame, icmp6Frame, ipFrame, udpFrame } from './build.js';
import { ip, ok } from './helpers.js';

const G4 = ip('10.0.2.15');
const H4 = ip('10.0.2.2');
const G6 = ip('fe80::1');
const H6 = ip('fe80::2');

const out = new FrameHeaders();
const parse = (b: Uint8Array, at = 0, len = b.length - at): FrameClass => parseFrameHeaders(b, at, len, out);

/** A copy of `frame` at `at` inside a larger buffer whose other bytes are 0xee. */
function embed(frame: Uint8Array, at: number, after: number): Uint8Array {
  const b = new Uint8Array(at + frame.length + after).fill(0xee);
  b.set(frame, at);
  return b;
}

/** `frame` followed by `n` zero bytes of link padding. */
const pad = (frame: Uint8Array, n: number): Uint8Array => embed(frame, 0, n).fill(0, frame.length);

/** Recomputes the IPv4 header checksum of the frame at `at` (after a test edited the header). */
function fixIpv4Checksum(b: Uint8Array, at = 0): void {
  const l3 = at + EthHdr.LEN;
  const hlen = ((b[l3] as number) & 0x0f) * 4;
  set16(b, l3 + Ip4Hdr.CHECKSUM, 0);
  set16(b, l3 + Ip4Hdr.CHECKSUM, checksumFinish(checksumPartial(b, l3, Math.min(l3 + hlen, b.length))));
}

const udp4 = (payload = new Uint8Array([1, 2, 3, 4])): Uint8Array => udpFrame(H4, G4, 53, 40000, payload);
const udp6 = (payload = new Uint8Array([1, 2, 3, 4])): Uint8Array => udpFrame(H6, G6, 53, 40000, payload);

/** An IPv4/UDP frame with `options` (a multiple of 4 bytes) and the given fragment fields. */
function udp4With(options: Uint8Array, frag: { moreFragments?: boolean; fragmentOffset?: number } = {}): Uint8Array {
  const udpPayload = new Uint8Array([9, 9, 9]);
  const ipLen = 20 + options.length + 8 + udpPayload.length;
  const buf = new Uint8Array(14 + ipLen);
  const l4 = buf.subarray(14 + 20 + options.length);
  ok(emitUdp({ srcPort: 1, dstPort: 2, payload: udpPayload }, l4, H4, G4));
  const repr: Ipv4Repr = {
    version: 4, src: H4, dst: G4, protocol: 17, ttl: 64, dscp: 0, ecn: 0, ident: 7, dontFragment: false,
    moreFragments: frag.moreFragments ?? false, fragmentOffset: frag.fragmentOffset ?? 0, options, payload: l4,
  };
  ok(emitIpv4(repr, buf.subarray(14)));
  emitEthernet({ dst: GUEST_MAC, src: HOST_MAC, ethertype: 0x0800, vlanId: null, vlanPriority: 0, payload: buf.subarray(14) }, buf);
  return buf;
}

type Ext = { type: number; bytes: Uint8Array };
/** A generic extension header (hop-by-hop, routing, destination options) of `(n + 1) * 8` bytes, padded with PadN. */
const ext = (type: number, n = 0): Ext => {
  const bytes = new Uint8Array((n + 1) * 8);
  bytes[2] = 1; // PadN covering the rest
  bytes[3] = bytes.length - 4;
  bytes[1] = n;
  return { type, bytes };
};
/** An authentication header of `(n + 2) * 4` bytes. */
const ah = (n = 1): Ext => {
  const bytes = new Uint8Array((n + 2) * 4);
  bytes[1] = n;
  return { type: 51, bytes };
};
/** A fragment header with the given offset (bytes, multiple of 8) and M flag. */
const fragHdr = (offset: number, more: boolean): Ext => {
  const bytes = new Uint8Array(8);
  set16(bytes, 2, offset | (more ? 1 : 0));
  bytes.set([0xca, 0xfe, 0xba, 0xbe], 4);
  return { type: 44, bytes };
};

/** IPv6 frame whose payload is the chain `exts` followed by a UDP datagram (`upper` is the last Next Header). */
function udp6With(exts: Ext[], upper = 17): Uint8Array {
  const chainLen = exts.reduce((n, e) => n + e.bytes.length, 0);
  const udpPayload = new Uint8Array([5, 6, 7]);
  const first = exts.length === 0 ? upper : (exts[0] as Ext).type;
  return ipFrame(H6, G6, first, chainLen + 8 + udpPayload.length, (l4) => {
    let o = 0;
    exts.forEach((e, i) => {
      l4.set(e.bytes, o);
      l4[o] = i + 1 < exts.length ? (exts[i + 1] as Ext).type : upper;
      o += e.bytes.length;
    });
    ok(emitUdp({ srcPort: 1, dstPort: 2, payload: udpPayload }, l4.subarray(o), H6, G6));
  });
}

/**
 * Property (b): when the result is Ip (or Fragment, whose fields are filled
 * too), the offsets hang together and agree with the header's own lengths.
 */
function expectCoherent(buf: Uint8Array, at: number, len: number, h: FrameHeaders): void {
  expect(h.l3At).toBe(at + EthHdr.LEN);
  expect(h.l3At).toBeLessThan(h.l4At);
  expect(h.l4At).toBeLessThanOrEqual(h.l4End);
  expect(h.l4End).toBeLessThanOrEqual(at + len);
  expect(h.etherType).toBe(get16(buf, at + EthHdr.TYPE));
  if (h.family === 4) {
    expect(h.etherType).toBe(0x0800);
    expect(h.addrLen).toBe(4);
    expect(checksumValid(checksumPartial(buf, h.l3At, h.l4At))).toBe(true);
    expect(h.l4End - h.l3At).toBe(get16(buf, h.l3At + Ip4Hdr.TOTAL_LEN));
    expect(h.l4At - h.l3At).toBe(((buf[h.l3At] as number) & 0x0f) * 4);
    expect(h.srcAt).toBe(h.l3At + Ip4Hdr.SRC);
    expect(h.dstAt).toBe(h.l3At + Ip4Hdr.DST);
  } else {
    expect(h.family).toBe(6);
    expect(h.etherType).toBe(0x86dd);
    expect(h.addrLen).toBe(16);
    expect(h.l4End - h.l3At - Ip6Hdr.LEN).toBe(get16(buf, h.l3At + Ip6Hdr.PAYLOAD_LEN));
    expect(h.l4At - h.l3At).toBeGreaterThanOrEqual(Ip6Hdr.LEN);
    expect(h.srcAt).toBe(h.l3At + Ip6Hdr.SRC);
    expect(h.dstAt).toBe(h.l3At + Ip6Hdr.DST);
  }
  expect(h.srcAt + h.addrLen).toBeLessThanOrEqual(h.l4At);
  expect(h.dstAt + h.addrLen).toBeLessThanOrEqual(h.l4At);
}

describe('parseFrameHeaders: classes', () => {
  it('IPv4/UDP: every field', () => {
    const f = udp4();
    expect(parse(f)).toBe(FrameClass.Ip);
    expect({ ...out }).toEqual({
      etherType: 0x0800, family: 4, l3At: 14, addrLen: 4, srcAt: 26, dstAt: 30, protocol: 17, l4At: 34, l4End: f.length, detail: '',
    });
    expect(Array.from(f.subarray(out.srcAt, out.srcAt + 4))).toEqual(Array.from(H4));
    expect(Array.from(f.subarray(out.dstAt, out.dstAt + 4))).toEqual(Array.from(G4));
  });

  it('IPv6/UDP: every field', () => {
    const f = udp6();
    expect(parse(f)).toBe(FrameClass.Ip);
    expect({ ...out }).toEqual({
      etherType: 0x86dd, family: 6, l3At: 14, addrLen: 16, srcAt: 22, dstAt: 38, protocol: 17, l4At: 54, l4End: f.length, detail: '',
    });
    expect(Array.from(f.subarray(out.srcAt, out.srcAt + 16))).toEqual(Array.from(H6));
  });

  it('ICMPv4 and ICMPv6 echo', () => {
    const r = { type: 'echoRequest' as const, ident: 0x1234, seq: 1, data: new Uint8Array(10) };
    const f4 = icmp4Frame(G4, H4, r);
    expect(parse(f4)).toBe(FrameClass.Ip);
    expect([out.protocol, out.l4At, out.l4End]).toEqual([1, 34, f4.length]);
    const f6 = icmp6Frame(G6, H6, r);
    expect(parse(f6)).toBe(FrameClass.Ip);
    expect([out.protocol, out.l4At, out.l4End]).toEqual([58, 54, f6.length]);
  });

  it('offsets are absolute when the frame sits inside a larger buffer', () => {
    const f = udp6();
    const b = embed(f, 100, 30);
    expect(parse(b, 100, f.length)).toBe(FrameClass.Ip);
    expect([out.l3At, out.srcAt, out.dstAt, out.l4At, out.l4End]).toEqual([114, 122, 138, 154, 100 + f.length]);
  });

  it('ARP: reported with no further checks', () => {
    const f = arpFrame({ operation: 1, senderMac: GUEST_MAC, senderIp: G4, targetMac: new Uint8Array(6), targetIp: H4 }, HOST_MAC);
    expect(parse(f)).toBe(FrameClass.Arp);
    expect([out.etherType, out.family, out.l3At, out.addrLen, out.detail]).toEqual([0x0806, 0, 14, 0, '']);
    // Even a bare header: ARP's own parser judges the body.
    expect(parse(f.subarray(0, 14))).toBe(FrameClass.Arp);
  });

  it('UnknownEtherType: VLAN tags, other EtherTypes, 802.3 lengths', () => {
    const tagged = udpFrame(H4, G4, 1, 2, new Uint8Array(4), { vlanId: 5 });
    expect(parse(tagged)).toBe(FrameClass.UnknownEtherType);
    expect([out.etherType, out.family]).toEqual([0x8100, 0]);
    for (const t of [0x88cc, 0x8035, 0x0000, 0x05dc, 0xffff]) {
      const f = udp4();
      set16(f, 12, t);
      expect(parse(f)).toBe(FrameClass.UnknownEtherType);
      expect(out.etherType).toBe(t);
    }
  });

  it('Ethernet padding beyond the IP length is ignored', () => {
    for (const f of [udp4(new Uint8Array(0)), udp6(new Uint8Array(0)), udp4With(new Uint8Array(4))]) {
      const padded = pad(f, Math.max(0, 60 - f.length) + 13);
      expect(parse(padded)).toBe(FrameClass.Ip);
      expect(out.l4End).toBe(f.length);
      expectCoherent(padded, 0, padded.length, out);
    }
  });

  it('IPv4 options: l4At follows IHL, the checksum covers them', () => {
    for (let words = 1; words <= 10; words++) {
      const opts = new Uint8Array(words * 4).fill(1); // NOPs
      const f = udp4With(opts);
      expect(parse(f)).toBe(FrameClass.Ip);
      expect(out.l4At).toBe(14 + 20 + words * 4);
      expect(out.l4End).toBe(f.length);
      expectCoherent(f, 0, f.length, out);
      f[14 + 20 + words * 4 - 1] = 0; // change the last option byte, not the checksum
      expect(parse(f)).toBe(FrameClass.Malformed);
      expect(out.detail).toMatch(/checksum/);
    }
  });

  it('IPv6 extension-header chains are walked to the upper layer', () => {
    const chains: Ext[][] = [
      [ext(0)],
      [ext(0, 2), ext(60)],
      [ext(0), ext(43, 1), ext(60), ah(4)],
      [ah(1), ext(60, 3)],
      [ext(60), ext(43), ext(60)],
    ];
    for (const chain of chains) {
      const f = udp6With(chain);
      expect(parse(f)).toBe(FrameClass.Ip);
      const chainLen = chain.reduce((n, e) => n + e.bytes.length, 0);
      expect([out.protocol, out.l4At, out.l4End]).toEqual([17, 54 + chainLen, f.length]);
      expectCoherent(f, 0, f.length, out);
    }
    // No Next Header (59) and unknown values end the walk: they are the upper layer as far as L3 can tell.
    for (const upper of [59, 50, 6, 200]) {
      expect(parse(udp6With([ext(60)], upper))).toBe(FrameClass.Ip);
      expect([out.protocol, out.l4At]).toEqual([upper, 62]);
    }
  });

  it('sixteen extension headers are walked, seventeen are refused', () => {
    const chain = (n: number): Ext[] => Array.from({ length: n }, () => ext(60));
    expect(parse(udp6With(chain(16)))).toBe(FrameClass.Ip);
    expect(out.l4At).toBe(54 + 16 * 8);
    expect(parse(udp6With(chain(17)))).toBe(FrameClass.Malformed);
    expect(out.detail).toMatch(/too long/);
  });

  it('broken IPv6 chains are Malformed', () => {
    // Hop-by-hop anywhere but first.
    expect(parse(udp6With([ext(60), ext(0)]))).toBe(FrameClass.Malformed);
    expect(out.detail).toMatch(/hop-by-hop/);
    // A header whose length runs past the payload.
    const long = udp6With([ext(0)]);
    long[54 + 1] = 5; // (5+1)*8 = 48 bytes, the payload holds 8 + 11
    expect(parse(long)).toBe(FrameClass.Malformed);
    // AH likewise.
    const longAh = udp6With([ah(1)]);
    longAh[54 + 1] = 200;
    expect(parse(longAh)).toBe(FrameClass.Malformed);
    // The length runs past the payload length even though padding would hold it.
    const padded = pad(long, 64);
    expect(parse(padded)).toBe(FrameClass.Malformed);
    // Overruns by just a little, the bytes beyond being present in the frame.
    for (const [n, payloadLen] of [[2, 16], [1, 15], [0, 7]] as const) {
      const f = pad(ipFrame(H6, G6, 60, payloadLen, (l4) => l4.set([17, n])), 40);
      expect(parse(f), `${n}/${payloadLen}`).toBe(FrameClass.Malformed);
      expect(out.detail).toMatch(/past the payload/);
    }
    const exact = ipFrame(H6, G6, 60, 24, (l4) => l4.set([59, 2]));
    expect(parse(exact)).toBe(FrameClass.Ip);
    expect([out.protocol, out.l4At, out.l4End]).toEqual([59, exact.length, exact.length]);
    // An extension header announced where fewer than 8 payload bytes remain.
    const short = ipFrame(H6, G6, 60, 4, (l4) => l4.set([17, 0, 1, 0]));
    expect(parse(short)).toBe(FrameClass.Malformed);
    expect(out.detail).toMatch(/past the payload/);
    // Announced with no payload at all (also how a jumbogram looks).
    expect(parse(ipFrame(H6, G6, 0, 0, () => undefined))).toBe(FrameClass.Malformed);
    // Fragment header cut short.
    expect(parse(ipFrame(H6, G6, 44, 6, () => undefined))).toBe(FrameClass.Malformed);
    expect(out.detail).toMatch(/fragment header/);
  });

  it('IPv4 fragments are a class of their own, fields filled', () => {
    const first = udp4With(new Uint8Array(0), { moreFragments: true });
    expect(parse(first)).toBe(FrameClass.Fragment);
    expect([out.family, out.protocol, out.l4At, out.l4End]).toEqual([4, 17, 34, first.length]);
    expect(out.detail).toMatch(/more fragments/);
    expectCoherent(first, 0, first.length, out);
    const later = udp4With(new Uint8Array(0), { fragmentOffset: 1480 });
    expect(parse(later)).toBe(FrameClass.Fragment);
    expect(out.detail).toMatch(/offset/);
    expectCoherent(later, 0, later.length, out);
    const last = udp4With(new Uint8Array(8).fill(1), { moreFragments: true, fragmentOffset: 8 });
    expect(parse(last)).toBe(FrameClass.Fragment);
    expect(out.l4At).toBe(14 + 28);
    // DF alone is not a fragment (the builders set it).
    expect(parse(udp4())).toBe(FrameClass.Ip);
  });

  it('IPv6 fragment headers, anywhere in the chain, whatever their offset', () => {
    for (const [chain, before] of [
      [[fragHdr(0, true)], 0],
      [[fragHdr(1480, false)], 0],
      [[fragHdr(0, false)], 0], // atomic fragment (RFC 6946): still reported
      [[ext(0), ext(60), fragHdr(8, true)], 16],
    ] as const) {
      const f = udp6With([...chain]);
      expect(parse(f)).toBe(FrameClass.Fragment);
      expect([out.family, out.protocol, out.l4At, out.l4End]).toEqual([6, 17, 54 + before + 8, f.length]);
      expect(out.detail).toMatch(/fragment/);
      expectCoherent(f, 0, f.length, out);
    }
  });

  it('bad IPv4 headers and checksums', () => {
    const cases: Array<[string, (f: Uint8Array) => void, RegExp]> = [
      ['version 6 under the IPv4 EtherType', (f) => { f[14] = 0x65; }, /version/],
      ['IHL 4', (f) => { f[14] = 0x44; }, /IHL/],
      ['total length below IHL*4', (f) => { set16(f, 16, 19); }, /below the header/],
      ['total length past the frame', (f) => { set16(f, 16, f.length - 14 + 1); }, /exceeds/],
      ['IHL past the total length', (f) => { f[14] = 0x4f; }, /below the header/],
    ];
    for (const [name, edit, why] of cases) {
      const f = udp4();
      edit(f);
      fixIpv4Checksum(f);
      expect(parse(f), name).toBe(FrameClass.Malformed);
      expect(out.detail, name).toMatch(why);
    }
    const f = udp4();
    for (let i = 14; i < 34; i++) {
      const g = f.slice();
      g[i]! ^= 0x04; // every single-bit change of the header is caught (most by the checksum)
      expect(parse(g)).not.toBe(FrameClass.Ip);
    }
    const g = f.slice();
    g[24]! ^= 0xff; // the checksum field itself
    expect(parse(g)).toBe(FrameClass.Malformed);
    expect(out.detail).toBe('IPv4 header checksum is wrong');
  });

  it('bad IPv6 fixed headers', () => {
    const v = udp6();
    v[14] = 0x40;
    expect(parse(v)).toBe(FrameClass.Malformed);
    expect(out.detail).toMatch(/version/);
    const l = udp6();
    set16(l, 18, l.length - 54 + 1);
    expect(parse(l)).toBe(FrameClass.Malformed);
    expect(out.detail).toMatch(/exceeds/);
  });

  it('every truncation of a valid frame is Malformed (ARP excepted)', () => {
    const frames = [udp4(new Uint8Array(30)), udp6(new Uint8Array(30)), udp4With(new Uint8Array(12)), udp6With([ext(0), ah(2), ext(60)])];
    for (const f of frames) {
      for (let len = 0; len < f.length; len++) {
        expect(parse(f, 0, len)).toBe(FrameClass.Malformed);
        expect(out.detail).not.toBe('');
        // The same on a frame embedded in a buffer whose later bytes are valid-looking.
        expect(parse(embed(f, 3, 0), 3, len)).toBe(FrameClass.Malformed);
      }
      expect(parse(f, 0, f.length)).toBe(FrameClass.Ip);
    }
  });

  it('bad arguments are Malformed, never a throw', () => {
    const f = udp4();
    const bad: Array<[number, number]> = [
      [-1, f.length], [0, -1], [0, f.length + 1], [1, f.length], [f.length, 0], [f.length + 5, 14],
      [Number.NaN, 14], [0, Number.NaN], [0.5, 14], [0, 14.5], [Number.POSITIVE_INFINITY, 0], [0, Number.POSITIVE_INFINITY],
      [Number.MAX_SAFE_INTEGER, 14], [0, 13],
    ];
    for (const [at, len] of bad) {
      expect(parseFrameHeaders(f, at, len, out), `${at}/${len}`).toBe(FrameClass.Malformed);
      expect(out.detail).not.toBe('');
      expect(out.etherType).toBe(0);
    }
    expect(parseFrameHeaders(new Uint8Array(0), 0, 0, out)).toBe(FrameClass.Malformed);
  });

  it('the record is reset by each parse', () => {
    expect(parse(udp6())).toBe(FrameClass.Ip);
    const a = arpFrame({ operation: 2, senderMac: HOST_MAC, senderIp: H4, targetMac: GUEST_MAC, targetIp: G4 }, GUEST_MAC);
    expect(parse(a)).toBe(FrameClass.Arp);
    expect({ ...out }).toEqual({ etherType: 0x0806, family: 0, l3At: 14, addrLen: 0, srcAt: 0, dstAt: 0, protocol: 0, l4At: 0, l4End: 0, detail: '' });
    expect(parse(udp4(), 0, 10)).toBe(FrameClass.Malformed);
    expect([out.etherType, out.l3At]).toEqual([0, 0]);
  });

  it('the class constants are distinct', () => {
    expect(new Set(Object.values(FrameClass)).size).toBe(5);
  });
});

describe('parseFrameHeaders: properties', () => {
  const runs = { numRuns: 1000, seed: 0xf4a3e };
  const CLASSES: ReadonlySet<number> = new Set(Object.values(FrameClass));

  /** Parses, checks the class is one of ours and, for Ip and Fragment, property (b). */
  function check(buf: Uint8Array, at: number, len: number): FrameClass {
    const h = new FrameHeaders();
    const c = parseFrameHeaders(buf, at, len, h);
    expect(CLASSES.has(c)).toBe(true);
    if (c === FrameClass.Ip || c === FrameClass.Fragment) expectCoherent(buf, at, len, h);
    if (c === FrameClass.Malformed || c === FrameClass.Fragment) expect(h.detail).not.toBe('');
    if (c === FrameClass.Ip) {
      // Wherever the general IP parser also accepts the packet, the two agree on the upper layer.
      const r = parseIp(buf.subarray(h.l3At, at + len));
      if (!isWireError(r)) {
        const proto = r.version === 4 ? r.protocol : r.nextHeader;
        if (proto !== 51) {
          expect(proto).toBe(h.protocol);
          expect(r.payload.byteOffset - buf.byteOffset).toBe(h.l4At);
          expect(r.payload.byteOffset - buf.byteOffset + r.payload.length).toBe(h.l4End);
        }
      }
    }
    return c;
  }

  // Arbitrary bytes, but with a fair chance of an IP EtherType and version nibble, so the deeper paths run.
  const frameLike = fc
    .tuple(
      fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 54, maxLength: 200 })),
      fc.constantFrom(0x0800, 0x86dd, 0x0806, 0x8100, -1),
      fc.constantFrom(0x45, 0x46, 0x4f, 0x60, -1),
      fc.boolean(),
      fc.option(fc.nat()),
    )
    .map(([b, type, ver, fixSum, fit]) => {
      if (b.length >= 14 && type >= 0) set16(b, 12, type);
      if (b.length >= 15 && ver >= 0) b[14] = ver;
      // Sometimes make the IP length field fit the frame, so that the checks after it run too.
      if (fit !== null && type === 0x0800 && b.length >= 34) {
        const hlen = ((b[14] as number) & 0x0f) * 4;
        const avail = b.length - 14;
        if (hlen <= avail) set16(b, 16, hlen + (fit % (avail - hlen + 1)));
        if (fit % 2 === 0) set16(b, 20, 0); // and, half the time, not a fragment
      }
      if (fit !== null && type === 0x86dd && b.length >= 54) set16(b, 18, fit % (b.length - 54 + 1));
      if (fixSum && b.length >= 34 && type === 0x0800) fixIpv4Checksum(b);
      return b;
    });

  it('(a) never throws, for any bytes, offset and length', () => {
    const anyInt = fc.oneof(fc.integer({ min: -300, max: 300 }), fc.integer(), fc.constantFrom(Number.NaN, 0.5, Number.POSITIVE_INFINITY, -0));
    fc.assert(
      fc.property(frameLike, anyInt, anyInt, (b, at, len) => {
        expect(() => parseFrameHeaders(b, at, len, new FrameHeaders())).not.toThrow();
      }),
      { ...runs, numRuns: 3000 },
    );
  });

  it('(b) whenever it returns Ip, the lengths hang together', () => {
    const framesAt = frameLike.chain((b) =>
      fc.tuple(fc.constant(b), fc.integer({ min: 0, max: b.length }), fc.integer({ min: 0, max: b.length })).map(
        ([x, a, l]): [Uint8Array, number, number] => [x, Math.min(a, x.length), Math.min(l, x.length - Math.min(a, x.length))],
      ),
    );
    fc.assert(fc.property(framesAt, ([b, at, len]) => { check(b, at, len); }), { ...runs, numRuns: 3000 });
    // The whole-buffer case, where the IPv4 checksum was fixed up, reaches Ip often enough to mean something.
    let ips = 0;
    fc.assert(fc.property(frameLike, (b) => { if (check(b, 0, b.length) === FrameClass.Ip) ips++; }), { ...runs, numRuns: 3000 });
    expect(ips).toBeGreaterThan(10);
  });

  it('(c) valid frames with random bytes mutated are rejected or hang together', () => {
    const echo = fc.record({ type: fc.constantFrom('echoRequest' as const, 'echoReply' as const), ident: fc.nat(0xffff), seq: fc.nat(0xffff), data: fc.uint8Array({ maxLength: 64 }) });
    const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
    const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
    const valid = fc.oneof(
      fc.tuple(v4, v4, fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 64 })).map(([s, d, sp, dp, p]) => udpFrame(s, d, sp, dp, p)),
      fc.tuple(v6, v6, fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 64 })).map(([s, d, sp, dp, p]) => udpFrame(s, d, sp, dp, p)),
      fc.tuple(v4, v4, echo).map(([s, d, r]) => icmp4Frame(s, d, r)),
      fc.tuple(v6, v6, echo).map(([s, d, r]) => icmp6Frame(s, d, r)),
    );
    const mutation = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
    const arb = fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat(8), fc.nat(20), fc.boolean(), fc.boolean());
    let ips = 0;
    fc.assert(
      fc.property(arb, ([frame, muts, at, padding, headerOnly, fixSum]) => {
        const b = embed(frame, at, padding);
        const len = frame.length + padding;
        // Mutations land anywhere in the frame, or (more usefully) in its L2/L3 headers.
        const span = headerOnly ? Math.min(len, 14 + 60) : len;
        for (const [pos, v] of muts) b[at + (pos % span)] = v;
        if (fixSum && get16(b, at + 12) === 0x0800 && len >= 34) fixIpv4Checksum(b, at);
        if (check(b, at, len) === FrameClass.Ip) ips++;
      }),
      { ...runs, numRuns: 3000 },
    );
    expect(ips).toBeGreaterThan(100);
  });

  it('unmutated builder frames are always Ip, padded or not, wherever they sit', () => {
    const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
    const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
    const arb = fc.tuple(fc.oneof(fc.tuple(v4, v4), fc.tuple(v6, v6)), fc.uint8Array({ maxLength: 100 }), fc.nat(16), fc.nat(40));
    fc.assert(
      fc.property(arb, ([[s, d], p, at, padding]) => {
        const f = udpFrame(s, d, 1, 2, p);
        const b = embed(f, at, padding);
        expect(check(b, at, f.length + padding)).toBe(FrameClass.Ip);
        expect(parseFrameHeaders(b, at, f.length + padding, out)).toBe(FrameClass.Ip);
        expect(out.l4End).toBe(at + f.length);
        expect(out.protocol).toBe(17);
      }),
      runs,
    );
  });
});
