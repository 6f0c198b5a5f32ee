// The in-buffer echo helpers against the echo views and literal captures.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FrameClass,
  FrameHeaders,
  IcmpHdr,
  Icmpv4Packet,
  Icmpv6Packet,
  icmpEchoChecksum,
  icmpEchoChecksumField,
  icmpEchoChecksumValid,
  icmpEchoCode,
  icmpEchoId,
  icmpEchoSeq,
  icmpEchoType,
  parseFrameHeaders,
  parseIcmpv4,
  parseIcmpv6,
  setIcmpEchoChecksum,
  setIcmpEchoCode,
  setIcmpEchoId,
  setIcmpEchoSeq,
  setIcmpEchoType,
} from '../src/index.js';
import { icmp4Frame, icmp6Frame } from './build.js';
import { hex, ip, ok } from './helpers.js';

// The scapy captures of formats.test.ts: IPv4 (20-byte header) and IPv6 (40-byte header) echo requests.
const ICMP4_ECHO = hex('4500002400070000400162c20a00020f0a00020208005435123400016162636465666768');
const ICMP6_ECHO = hex(
  '60000000000c3a40fe800000000000000000000000000001fe8000000000000000000000000000028000a38b0055000370696e67',
);

describe('icmp echo helpers', () => {
  it('read the fields of real captures in place', () => {
    expect([icmpEchoType(ICMP4_ECHO, 20), icmpEchoCode(ICMP4_ECHO, 20), icmpEchoId(ICMP4_ECHO, 20), icmpEchoSeq(ICMP4_ECHO, 20)]).toEqual([8, 0, 0x1234, 1]);
    expect(icmpEchoChecksumField(ICMP4_ECHO, 20)).toBe(0x5435);
    expect(icmpEchoChecksum(ICMP4_ECHO, 20, 16, 4, 0, 0)).toBe(0x5435);
    expect(icmpEchoChecksumValid(ICMP4_ECHO, 20, 16, 4, 0, 0)).toBe(true);
    expect([icmpEchoType(ICMP6_ECHO, 40), icmpEchoId(ICMP6_ECHO, 40), icmpEchoSeq(ICMP6_ECHO, 40)]).toEqual([128, 0x55, 3]);
    expect(icmpEchoChecksum(ICMP6_ECHO, 40, 12, 6, 8, 24)).toBe(0xa38b);
    expect(icmpEchoChecksumValid(ICMP6_ECHO, 40, 12, 6, 8, 24)).toBe(true);
  });

  it('the checksum ignores what the field holds; any other change is caught', () => {
    const b = ICMP6_ECHO.slice();
    b[42] = 0x12;
    b[43] = 0x34;
    expect(icmpEchoChecksum(b, 40, 12, 6, 8, 24)).toBe(0xa38b);
    expect(icmpEchoChecksumValid(b, 40, 12, 6, 8, 24)).toBe(false);
    b[43] = 0x8b;
    b[42] = 0xa3;
    for (const i of [8, 23, 24, 39, 40, 44, 51]) {
      const c = b.slice();
      c[i]! ^= 1; // an address byte (pseudo-header) or a message byte
      expect(icmpEchoChecksumValid(c, 40, 12, 6, 8, 24), `byte ${i}`).toBe(false);
    }
    // For ICMPv4 the address offsets are ignored, and so are the addresses.
    const a = ICMP4_ECHO.slice();
    a[12]! ^= 0xff;
    expect(icmpEchoChecksum(a, 20, 16, 4, 12, 16)).toBe(0x5435);
    expect(icmpEchoChecksum(a, 20, 16, 4, 999, -5)).toBe(0x5435);
  });

  it('writers turn a request into a reply that the views accept', () => {
    const f4 = icmp4Frame(ip('10.0.2.15'), ip('10.0.2.2'), { type: 'echoRequest', ident: 7, seq: 9, data: new Uint8Array([1, 2, 3]) });
    const h = new FrameHeaders();
    expect(parseFrameHeaders(f4, 0, f4.length, h)).toBe(FrameClass.Ip);
    setIcmpEchoType(f4, h.l4At, 0);
    setIcmpEchoId(f4, h.l4At, 0xbeef);
    setIcmpEchoSeq(f4, h.l4At, 0x0102);
    expect(icmpEchoChecksumValid(f4, h.l4At, h.l4End - h.l4At, 4, h.srcAt, h.dstAt)).toBe(false);
    setIcmpEchoChecksum(f4, h.l4At, h.l4End - h.l4At, 4, h.srcAt, h.dstAt);
    expect(icmpEchoChecksumValid(f4, h.l4At, h.l4End - h.l4At, 4, h.srcAt, h.dstAt)).toBe(true);
    expect(ok(parseIcmpv4(Icmpv4Packet.over(f4.subarray(h.l4At, h.l4End))))).toMatchObject({ type: 'echoReply', ident: 0xbeef, seq: 0x0102 });

    const f6 = icmp6Frame(ip('fe80::1'), ip('fe80::2'), { type: 'echoRequest', ident: 7, seq: 9, data: new Uint8Array(5) });
    expect(parseFrameHeaders(f6, 0, f6.length, h)).toBe(FrameClass.Ip);
    setIcmpEchoType(f6, h.l4At, 129);
    setIcmpEchoCode(f6, h.l4At, 0);
    setIcmpEchoId(f6, h.l4At, 0x4242);
    setIcmpEchoChecksum(f6, h.l4At, h.l4End - h.l4At, 6, h.srcAt, h.dstAt);
    const src = f6.slice(h.srcAt, h.srcAt + 16);
    const dst = f6.slice(h.dstAt, h.dstAt + 16);
    expect(ok(parseIcmpv6(Icmpv6Packet.over(f6.subarray(h.l4At, h.l4End)), src, dst))).toMatchObject({ type: 'echoReply', ident: 0x4242, seq: 9 });
    // The code setter and reader agree; a nonzero code is what parse then rejects.
    setIcmpEchoCode(f6, h.l4At, 3);
    expect(icmpEchoCode(f6, h.l4At)).toBe(3);
  });

  it('agrees with the views at any offset, any length, both families', () => {
    const arb = fc.tuple(fc.uint8Array({ minLength: IcmpHdr.LEN, maxLength: 400 }), fc.nat(9), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean());
    fc.assert(
      fc.property(arb, ([msg, at, addrs, v6]) => {
        // Layout: [pad][src 16][dst 16][pad at][message], so odd and even offsets both occur.
        const buf = new Uint8Array(1 + 32 + at + msg.length);
        buf.set(addrs, 1);
        const m = 33 + at;
        buf.set(msg, m);
        const view = buf.subarray(m);
        const family = v6 ? 6 : 4;
        setIcmpEchoChecksum(buf, m, msg.length, family, 1, 17);
        expect(icmpEchoChecksumValid(buf, m, msg.length, family, 1, 17)).toBe(true);
        const src = buf.slice(1, 17);
        const dst = buf.slice(17, 33);
        if (v6) expect(Icmpv6Packet.over(view).verifyChecksum(src, dst)).toBe(true);
        else expect(Icmpv4Packet.over(view).verifyChecksum()).toBe(true);
        // And the view's own fill gives the same field.
        const field = icmpEchoChecksumField(buf, m);
        if (v6) Icmpv6Packet.over(view).fillChecksum(src, dst);
        else Icmpv4Packet.over(view).fillChecksum();
        expect(icmpEchoChecksumField(buf, m)).toBe(field);
        expect([icmpEchoType(buf, m), icmpEchoCode(buf, m), icmpEchoId(buf, m), icmpEchoSeq(buf, m)]).toEqual([
          msg[0], msg[1], (msg[4]! << 8) | msg[5]!, (msg[6]! << 8) | msg[7]!,
        ]);
      }),
      { numRuns: 500, seed: 0xec40 },
    );
  });
});
