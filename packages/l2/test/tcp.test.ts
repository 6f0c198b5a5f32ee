// The in-buffer TCP segment functions: fields, header check, options, checksum, sequence arithmetic, ISNs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emitTcpSynOptions,
  IsnGenerator,
  ISN_SECRET_LEN,
  seqAdd,
  seqDiff,
  seqGe,
  seqGt,
  seqLe,
  seqLt,
  setTcpAck,
  setTcpChecksum,
  setTcpChecksumField,
  setTcpDataOffset,
  setTcpDstPort,
  setTcpFlags,
  setTcpSeq,
  setTcpSrcPort,
  setTcpUrgent,
  setTcpWindow,
  sipHash24,
  TCP_HEADER_LEN,
  tcpAck,
  tcpChecksum,
  tcpChecksumField,
  tcpChecksumValid,
  tcpDataOffset,
  tcpDstPort,
  TcpFlag,
  tcpFlags,
  TcpHdr,
  tcpHeaderCheck,
  TcpHeaderError,
  tcpHeaderErrorReason,
  TcpOptions,
  tcpParseOptions,
  tcpSeq,
  tcpSrcPort,
  tcpUrgent,
  tcpWindow,
} from '../src/index.js';
import { hex, ip } from './helpers.js';

// A typical Linux SYN (client 10.0.2.15:41668 to 93.184.216.34:80), as an IPv4 packet:
// MSS 1460, SACK permitted, timestamps (TSval 0x0a1b2c3d, TSecr 0), NOP, window scale 7.
const LINUX_SYN_TCP = hex(`
  a2c4 0050 5a3b1c2d 00000000 a0 02 faf0 0000 0000
  020405b4 0402 080a 0a1b2c3d 00000000 01 030307`);
const IP4_SRC = ip('10.0.2.15');
const IP4_DST = ip('93.184.216.34');

/** An IPv4 header (only the address fields matter here) followed by `tcp`, placed at `lead` bytes into a buffer. */
function ipv4Packet(tcp: Uint8Array, lead: number): { buf: Uint8Array; at: number; src: number; dst: number } {
  const buf = new Uint8Array(lead + 20 + tcp.length + 3);
  buf[lead] = 0x45;
  buf.set(IP4_SRC, lead + 12);
  buf.set(IP4_DST, lead + 16);
  buf.set(tcp, lead + 20);
  return { buf, at: lead + 20, src: lead + 12, dst: lead + 16 };
}

/** Byte-by-byte reference: ones' complement of the sum of the pseudo-header and segment, field as zero. */
function referenceChecksum(segment: Uint8Array, src: Uint8Array, dst: Uint8Array): number {
  const len = segment.length;
  const pseudo: number[] = [...src, ...dst];
  if (src.length === 4) pseudo.push(0, 6, len >> 8, len & 0xff);
  else pseudo.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, 0, 0, 0, 6);
  const seg = Array.from(segment);
  seg[16] = 0;
  seg[17] = 0;
  const all = [...pseudo, ...seg];
  if (all.length % 2 === 1) all.push(0);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += ((all[i] as number) << 8) + (all[i + 1] as number);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** A bare 20-byte header plus `opts` (padded by the caller to a multiple of 4) and `payload` bytes. */
function segmentWithOptions(opts: number[], payload = 0): Uint8Array {
  const hdr = 20 + opts.length;
  const b = new Uint8Array(hdr + payload);
  setTcpDataOffset(b, 0, hdr);
  b.set(opts, 20);
  return b;
}

describe('tcp fields', () => {
  it('read a Linux SYN in place', () => {
    const { buf, at } = ipv4Packet(LINUX_SYN_TCP, 0);
    expect(tcpSrcPort(buf, at)).toBe(41668);
    expect(tcpDstPort(buf, at)).toBe(80);
    expect(tcpSeq(buf, at)).toBe(0x5a3b1c2d);
    expect(tcpAck(buf, at)).toBe(0);
    expect(tcpDataOffset(buf, at)).toBe(40);
    expect(tcpFlags(buf, at)).toBe(TcpFlag.SYN);
    expect(tcpWindow(buf, at)).toBe(64240);
    expect(tcpUrgent(buf, at)).toBe(0);
  });

  it('round-trip at odd offsets, sequence numbers as unsigned 32-bit', () => {
    for (const at of [1, 3, 7, 13]) {
      const buf = new Uint8Array(at + 40).fill(0x5a);
      setTcpSrcPort(buf, at, 0xfffe);
      setTcpDstPort(buf, at, 443);
      setTcpSeq(buf, at, 0xfedcba98);
      setTcpAck(buf, at, 0x80000001);
      setTcpDataOffset(buf, at, 32);
      setTcpFlags(buf, at, TcpFlag.ACK | TcpFlag.PSH);
      setTcpWindow(buf, at, 0xffff);
      setTcpChecksumField(buf, at, 0xbeef);
      setTcpUrgent(buf, at, 0x1234);
      expect(tcpSrcPort(buf, at)).toBe(0xfffe);
      expect(tcpDstPort(buf, at)).toBe(443);
      expect(tcpSeq(buf, at)).toBe(0xfedcba98);
      expect(tcpAck(buf, at)).toBe(0x80000001);
      expect(tcpDataOffset(buf, at)).toBe(32);
      expect(buf[at + TcpHdr.DATA_OFF]! & 0x0f).toBe(0x0a); // reserved nibble kept
      expect(tcpFlags(buf, at)).toBe(0x18);
      expect(tcpWindow(buf, at)).toBe(0xffff);
      expect(tcpChecksumField(buf, at)).toBe(0xbeef);
      expect(tcpUrgent(buf, at)).toBe(0x1234);
      // Nothing written outside the header.
      expect(buf[at - 1]).toBe(0x5a);
      expect(buf[at + 20]).toBe(0x5a);
    }
  });

  it('wrap sequence numbers given out of range', () => {
    const buf = new Uint8Array(20);
    setTcpSeq(buf, 0, 2 ** 32 + 5);
    setTcpAck(buf, 0, -1);
    expect(tcpSeq(buf, 0)).toBe(5);
    expect(tcpAck(buf, 0)).toBe(0xffffffff);
  });

  it('flags are the distinct bits of the flag byte', () => {
    const bits = [TcpFlag.FIN, TcpFlag.SYN, TcpFlag.RST, TcpFlag.PSH, TcpFlag.ACK, TcpFlag.URG, TcpFlag.ECE, TcpFlag.CWR];
    expect(bits).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
    const buf = new Uint8Array(20);
    setTcpFlags(buf, 0, TcpFlag.SYN | TcpFlag.ACK | TcpFlag.ECE);
    expect(buf[13]).toBe(0x52);
    expect(tcpFlags(buf, 0) & TcpFlag.ACK).not.toBe(0);
    expect(tcpFlags(buf, 0) & TcpFlag.FIN).toBe(0);
  });
});

describe('tcpHeaderCheck', () => {
  it('accepts a sound header, with and without payload', () => {
    expect(tcpHeaderCheck(LINUX_SYN_TCP, 0, LINUX_SYN_TCP.length)).toBe(TcpHeaderError.OK);
    const { buf, at } = ipv4Packet(LINUX_SYN_TCP, 5);
    expect(tcpHeaderCheck(buf, at, 40)).toBe(0);
    expect(tcpHeaderCheck(segmentWithOptions([], 100), 0, 120)).toBe(0);
  });

  it('rejects short segments and segments outside the buffer', () => {
    const b = segmentWithOptions([]);
    expect(tcpHeaderCheck(b, 0, 19)).toBe(TcpHeaderError.SHORT);
    expect(tcpHeaderCheck(b.subarray(0, 19), 0, 20)).toBe(TcpHeaderError.SHORT);
    expect(tcpHeaderCheck(b, 1, 20)).toBe(TcpHeaderError.SHORT);
    expect(tcpHeaderCheck(b, -1, 20)).toBe(TcpHeaderError.SHORT);
    expect(tcpHeaderCheck(b, Number.NaN, 20)).toBe(TcpHeaderError.SHORT);
    expect(tcpHeaderErrorReason(TcpHeaderError.SHORT)).toMatch(/shorter/);
  });

  it('rejects a bad data offset', () => {
    const b = segmentWithOptions([]);
    setTcpDataOffset(b, 0, 16);
    expect(tcpHeaderCheck(b, 0, 20)).toBe(TcpHeaderError.DATA_OFFSET_SMALL);
    setTcpDataOffset(b, 0, 0);
    expect(tcpHeaderCheck(b, 0, 20)).toBe(TcpHeaderError.DATA_OFFSET_SMALL);
    setTcpDataOffset(b, 0, 24);
    expect(tcpHeaderCheck(b, 0, 20)).toBe(TcpHeaderError.DATA_OFFSET_LONG);
    expect(tcpHeaderCheck(LINUX_SYN_TCP, 0, 36)).toBe(TcpHeaderError.DATA_OFFSET_LONG);
  });

  it('rejects truncated options', () => {
    // MSS claims 4 bytes but only 2 remain before the data offset.
    expect(tcpHeaderCheck(segmentWithOptions([1, 1, 2, 4]), 0, 24)).toBe(TcpHeaderError.OPTION_TRUNCATED);
    // A kind byte with no room for its length byte.
    expect(tcpHeaderCheck(segmentWithOptions([1, 1, 1, 30]), 0, 24)).toBe(TcpHeaderError.OPTION_TRUNCATED);
    // The option's bytes exist in the payload, but past the data offset they do not count.
    expect(tcpHeaderCheck(segmentWithOptions([1, 1, 2, 4], 2), 0, 26)).toBe(TcpHeaderError.OPTION_TRUNCATED);
  });

  it('rejects zero and one length options', () => {
    expect(tcpHeaderCheck(segmentWithOptions([30, 0, 1, 1]), 0, 24)).toBe(TcpHeaderError.OPTION_ZERO_LENGTH);
    expect(tcpHeaderCheck(segmentWithOptions([30, 1, 1, 1]), 0, 24)).toBe(TcpHeaderError.OPTION_ZERO_LENGTH);
    expect(tcpHeaderErrorReason(TcpHeaderError.OPTION_ZERO_LENGTH)).toMatch(/below 2/);
  });

  it('rejects known kinds with the wrong length', () => {
    expect(tcpHeaderCheck(segmentWithOptions([2, 3, 5, 1]), 0, 24)).toBe(TcpHeaderError.OPTION_BAD_LENGTH);
    expect(tcpHeaderCheck(segmentWithOptions([3, 4, 7, 0]), 0, 24)).toBe(TcpHeaderError.OPTION_BAD_LENGTH);
    expect(tcpHeaderCheck(segmentWithOptions([4, 4, 0, 0]), 0, 24)).toBe(TcpHeaderError.OPTION_BAD_LENGTH);
    expect(tcpHeaderCheck(segmentWithOptions([8, 6, 0, 0, 0, 0, 1, 1]), 0, 28)).toBe(TcpHeaderError.OPTION_BAD_LENGTH);
  });

  it('skips unknown options and NOPs, stops at EOL', () => {
    const opts = new TcpOptions();
    // Unknown kind 254 (experimental) with a 6-byte value, NOPs, then MSS.
    const b = segmentWithOptions([1, 254, 8, 0xf9, 0x89, 1, 2, 3, 4, 1, 1, 1, 2, 4, 0x05, 0x78]);
    expect(tcpHeaderCheck(b, 0, b.length)).toBe(0);
    expect(tcpParseOptions(b, 0, b.length, opts)).toBe(0);
    expect(opts.mss).toBe(1400);
    // Only NOPs.
    expect(tcpHeaderCheck(segmentWithOptions([1, 1, 1, 1, 1, 1, 1, 1]), 0, 28)).toBe(0);
    // After EOL anything goes, even a zero-length option.
    const e = segmentWithOptions([2, 4, 0x05, 0xb4, 0, 30, 0, 9]);
    expect(tcpParseOptions(e, 0, e.length, opts)).toBe(0);
    expect(opts.mss).toBe(1460);
  });
});

describe('tcp options', () => {
  it('parse a Linux SYN', () => {
    const { buf, at } = ipv4Packet(LINUX_SYN_TCP, 3);
    const opts = new TcpOptions();
    expect(tcpParseOptions(buf, at, 40, opts)).toBe(0);
    expect({ ...opts }).toEqual({ mss: 1460, windowScale: 7, sackPermitted: true, tsVal: 0x0a1b2c3d, tsEcr: 0 });
  });

  it('reset the reused record on each walk', () => {
    const opts = new TcpOptions();
    tcpParseOptions(LINUX_SYN_TCP, 0, 40, opts);
    const bare = segmentWithOptions([]);
    expect(tcpParseOptions(bare, 0, 20, opts)).toBe(0);
    expect({ ...opts }).toEqual({ mss: -1, windowScale: -1, sackPermitted: false, tsVal: -1, tsEcr: -1 });
  });

  it('read timestamps as unsigned and clamp a window scale above 14', () => {
    const b = segmentWithOptions([1, 1, 8, 10, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 1, 1, 3, 3, 20]);
    const opts = new TcpOptions();
    expect(tcpParseOptions(b, 0, b.length, opts)).toBe(0);
    expect(opts.tsVal).toBe(0xffffffff);
    expect(opts.tsEcr).toBe(0x80000001);
    expect(opts.windowScale).toBe(14);
  });

  it('emit SYN options that parse back', () => {
    const cases: Array<[number, number, boolean, number]> = [
      [1460, 7, true, 12],
      [65495, 0, false, 8],
      [536, -1, true, 8],
      [1220, -1, false, 4],
    ];
    for (const [mss, ws, sack, bytes] of cases) {
      const seg = new Uint8Array(1 + 60).fill(0xee);
      const at = 1;
      const n = emitTcpSynOptions(seg, at + TCP_HEADER_LEN, mss, ws, sack);
      expect(n).toBe(bytes);
      expect(n % 4).toBe(0);
      setTcpDataOffset(seg, at, TCP_HEADER_LEN + n);
      const opts = new TcpOptions();
      expect(tcpParseOptions(seg, at, TCP_HEADER_LEN + n, opts)).toBe(0);
      expect({ ...opts }).toEqual({ mss, windowScale: ws, sackPermitted: sack, tsVal: -1, tsEcr: -1 });
    }
    const b = new Uint8Array(12);
    emitTcpSynOptions(b, 0, 1460, 7, true);
    expect(Array.from(b)).toEqual([2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2]);
  });
});

describe('tcp checksum', () => {
  it('matches a byte-by-byte reference over IPv4', () => {
    const { buf, at, src, dst } = ipv4Packet(LINUX_SYN_TCP, 1);
    const want = referenceChecksum(LINUX_SYN_TCP, IP4_SRC, IP4_DST);
    buf[at + 16] = 0x12; // garbage in the field must not matter
    buf[at + 17] = 0x34;
    expect(tcpChecksum(buf, at, 40, 4, src, dst)).toBe(want);
    expect(tcpChecksumValid(buf, at, 40, 4, src, dst)).toBe(false);
    setTcpChecksum(buf, at, 40, 4, src, dst);
    expect(tcpChecksumField(buf, at)).toBe(want);
    expect(tcpChecksumValid(buf, at, 40, 4, src, dst)).toBe(true);
    for (const flip of [at, at + 5, at + 39, src + 2, dst + 3]) {
      buf[flip]! ^= 0x01;
      expect(tcpChecksumValid(buf, at, 40, 4, src, dst)).toBe(false);
      buf[flip]! ^= 0x01;
    }
  });

  it('matches a byte-by-byte reference over IPv6, odd payload length and odd offset', () => {
    const src6 = ip('fd00::1');
    const dst6 = ip('2001:db8::20:1');
    const payload = Array.from({ length: 301 }, (_, i) => (i * 37 + 11) & 0xff); // long enough for the fast paths
    const seg = segmentWithOptions([1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8], payload.length);
    seg.set(payload, 32);
    setTcpSrcPort(seg, 0, 80);
    setTcpDstPort(seg, 0, 50000);
    setTcpSeq(seg, 0, 0xdeadbeef);
    setTcpAck(seg, 0, 0x01020304);
    setTcpFlags(seg, 0, TcpFlag.ACK | TcpFlag.PSH);
    setTcpWindow(seg, 0, 502);
    const lead = 3;
    const buf = new Uint8Array(lead + 40 + seg.length);
    buf[lead] = 0x60;
    buf.set(src6, lead + 8);
    buf.set(dst6, lead + 24);
    buf.set(seg, lead + 40);
    const at = lead + 40;
    const want = referenceChecksum(seg, src6, dst6);
    expect(tcpChecksum(buf, at, seg.length, 6, lead + 8, lead + 24)).toBe(want);
    setTcpChecksum(buf, at, seg.length, 6, lead + 8, lead + 24);
    expect(tcpChecksumValid(buf, at, seg.length, 6, lead + 8, lead + 24)).toBe(true);
    buf[at + seg.length - 1]! ^= 0x80;
    expect(tcpChecksumValid(buf, at, seg.length, 6, lead + 8, lead + 24)).toBe(false);
    buf[at + seg.length - 1]! ^= 0x80;
    buf[lead + 8 + 15]! ^= 0x01;
    expect(tcpChecksumValid(buf, at, seg.length, 6, lead + 8, lead + 24)).toBe(false);
  });

  it('agrees with the reference on random segments (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 400 }),
        fc.boolean(),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat(7),
        (seg, v6, addrs, lead) => {
          const addrLen = v6 ? 16 : 4;
          const buf = new Uint8Array(lead + 2 * addrLen + seg.length);
          buf.set(addrs.subarray(0, 2 * addrLen), lead);
          buf.set(seg, lead + 2 * addrLen);
          const at = lead + 2 * addrLen;
          const want = referenceChecksum(seg, addrs.subarray(0, addrLen), addrs.subarray(addrLen, 2 * addrLen));
          expect(tcpChecksum(buf, at, seg.length, v6 ? 6 : 4, lead, lead + addrLen)).toBe(want);
          setTcpChecksum(buf, at, seg.length, v6 ? 6 : 4, lead, lead + addrLen);
          expect(tcpChecksumValid(buf, at, seg.length, v6 ? 6 : 4, lead, lead + addrLen)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('sequence arithmetic', () => {
  it('orders across the 2^32 wrap', () => {
    const top = 0xffffffff;
    expect(seqLt(top, 0)).toBe(true);
    expect(seqLt(0, top)).toBe(false);
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqLe(5, 5)).toBe(true);
    expect(seqLt(5, 5)).toBe(false);
    expect(seqLe(0x10, 0xfffffff0)).toBe(false);
    expect(seqGt(0x10, 0xfffffff0)).toBe(true);
    expect(seqGe(7, 7)).toBe(true);
    expect(seqDiff(0x10, 0xfffffff0)).toBe(0x20);
    expect(seqDiff(0xfffffff0, 0x10)).toBe(-0x20);
    expect(seqDiff(0x80000000, 0)).toBe(-0x80000000); // half way round reads as "before"
    expect(seqAdd(top, 1)).toBe(0);
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqAdd(0, -1)).toBe(top);
  });

  it('seqAdd and seqDiff invert each other (property)', () => {
    fc.assert(
      // Exactly half the circle apart, "before" is undefined (RFC 9293 3.4): that distance is left out.
      fc.property(fc.nat(0xffffffff), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (a, n) => {
        const b = seqAdd(a, n);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(0xffffffff);
        expect(seqDiff(b, a)).toBe(n);
        expect(seqLt(a, b)).toBe(n > 0);
        expect(seqLe(a, b)).toBe(n >= 0);
      }),
    );
  });
});

// An independent SipHash-2-4 over BigInt, straight from the paper's description, to judge the 32-bit-halves one.
function sipHashBigInt(key: Uint8Array, msg: Uint8Array): bigint {
  const MASK = (1n << 64n) - 1n;
  const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK;
  const word = (b: Uint8Array, o: number, n: number): bigint => {
    let w = 0n;
    for (let i = n - 1; i >= 0; i--) w = (w << 8n) | BigInt(b[o + i] as number);
    return w;
  };
  const k0 = word(key, 0, 8);
  const k1 = word(key, 8, 8);
  const v = [k0 ^ 0x736f6d6570736575n, k1 ^ 0x646f72616e646f6dn, k0 ^ 0x6c7967656e657261n, k1 ^ 0x7465646279746573n];
  const round = (): void => {
    v[0] = (v[0]! + v[1]!) & MASK;
    v[2] = (v[2]! + v[3]!) & MASK;
    v[1] = rotl(v[1]!, 13n) ^ v[0]!;
    v[3] = rotl(v[3]!, 16n) ^ v[2]!;
    v[0] = rotl(v[0]!, 32n);
    v[2] = (v[2]! + v[1]!) & MASK;
    v[0] = (v[0]! + v[3]!) & MASK;
    v[1] = rotl(v[1]!, 17n) ^ v[2]!;
    v[3] = rotl(v[3]!, 21n) ^ v[0]!;
    v[2] = rotl(v[2]!, 32n);
  };
  const words: bigint[] = [];
  const whole = msg.length - (msg.length % 8);
  for (let o = 0; o < whole; o += 8) words.push(word(msg, o, 8));
  words.push(word(msg, whole, msg.length - whole) | (BigInt(msg.length & 0xff) << 56n));
  for (const m of words) {
    v[3] = v[3]! ^ m;
    round();
    round();
    v[0] = v[0]! ^ m;
  }
  v[2] = v[2]! ^ 0xffn;
  for (let i = 0; i < 4; i++) round();
  return v[0]! ^ v[1]! ^ v[2]! ^ v[3]!;
}

const SEQ_KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const asBig = (out: Uint32Array): bigint => (BigInt(out[0]!) << 32n) | BigInt(out[1]!);

describe('SipHash-2-4', () => {
  it('gives the reference paper test vector', () => {
    const msg = Uint8Array.from({ length: 15 }, (_, i) => i);
    const out = new Uint32Array(2);
    const low = sipHash24(SEQ_KEY, msg, 0, 15, out);
    expect(asBig(out)).toBe(0xa129ca6149be45e5n);
    expect(low).toBe(0x49be45e5);
    expect(sipHashBigInt(SEQ_KEY, msg)).toBe(0xa129ca6149be45e5n);
  });

  it('gives the reference vector for the empty message', () => {
    const out = new Uint32Array(2);
    sipHash24(SEQ_KEY, new Uint8Array(0), 0, 0, out);
    expect(asBig(out)).toBe(0x726fdb47dd0e0e31n);
  });

  it('agrees with a BigInt implementation on random keys and messages (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 70 }), fc.nat(5), (key, msg, lead) => {
        const buf = new Uint8Array(lead + msg.length);
        buf.set(msg, lead);
        const out = new Uint32Array(3);
        sipHash24(key, buf, lead, msg.length, out, 1);
        expect(asBig(out.subarray(1))).toBe(sipHashBigInt(key, msg));
      }),
      { numRuns: 300 },
    );
  });
});

describe('IsnGenerator', () => {
  const secret = Uint8Array.from({ length: ISN_SECRET_LEN }, (_, i) => 0xa0 + i);
  const a4 = new Uint8Array([0, 10, 0, 2, 15, 0, 93, 184, 216, 34]); // two addresses at 1 and 6
  const a6 = new Uint8Array(33);
  a6.set(ip('fd00::1'), 0);
  a6.set(ip('2001:db8::1'), 17);

  it('is deterministic for a fixed secret, tuple and time', () => {
    const g = new IsnGenerator(secret);
    const h = new IsnGenerator(secret.slice());
    const x = g.isn(4, a4, 1, 41668, a4, 6, 80, 1_000_000);
    expect(h.isn(4, a4, 1, 41668, a4, 6, 80, 1_000_000)).toBe(x);
    expect(g.isn(4, a4, 1, 41668, a4, 6, 80, 1_000_000)).toBe(x);
    expect(x).toBeGreaterThanOrEqual(0);
    expect(x).toBeLessThanOrEqual(0xffffffff);
    // F is SipHash-2-4's low 32 bits over local addr, local port, remote addr, remote port.
    const tuple = new Uint8Array([10, 0, 2, 15, 0xa2, 0xc4, 93, 184, 216, 34, 0, 80]);
    const f = Number(sipHashBigInt(secret, tuple) & 0xffffffffn);
    expect(x).toBe((250_000 + f) >>> 0);
  });

  it('differs for different 4-tuples, families and secrets', () => {
    const g = new IsnGenerator(secret);
    const t = 5_000_000;
    const seen = new Set<number>([
      g.isn(4, a4, 1, 41668, a4, 6, 80, t),
      g.isn(4, a4, 1, 41669, a4, 6, 80, t),
      g.isn(4, a4, 1, 41668, a4, 6, 81, t),
      g.isn(4, a4, 6, 41668, a4, 1, 80, t),
      g.isn(6, a6, 0, 41668, a6, 17, 80, t),
      g.isn(6, a6, 17, 41668, a6, 0, 80, t),
      new IsnGenerator(secret.map((b) => b ^ 1)).isn(4, a4, 1, 41668, a4, 6, 80, t),
    ]);
    expect(seen.size).toBe(7);
  });

  it('advances with time by time / 4, wrapping mod 2^32', () => {
    const g = new IsnGenerator(secret);
    const t0 = 1_700_000_000_000_000; // microseconds since 1970, around 2023
    const x0 = g.isn(6, a6, 0, 1, a6, 17, 2, t0);
    expect(g.isn(6, a6, 0, 1, a6, 17, 2, t0 + 400)).toBe(seqAdd(x0, 100));
    expect(g.isn(6, a6, 0, 1, a6, 17, 2, t0 + 3)).toBe(x0); // below one tick
    expect(g.isn(6, a6, 0, 1, a6, 17, 2, t0 + 4 * 2 ** 32)).toBe(x0); // a full turn of M
    expect(seqDiff(g.isn(6, a6, 0, 1, a6, 17, 2, t0 + 4_000_000), x0)).toBe(1_000_000);
  });

  it('random() draws a 16-byte secret; bad secrets are refused', () => {
    const g = IsnGenerator.random();
    const h = IsnGenerator.random();
    const x = g.isn(4, a4, 1, 1, a4, 6, 2, 0);
    expect(x).toBe(g.isn(4, a4, 1, 1, a4, 6, 2, 0));
    expect(h.isn(4, a4, 1, 1, a4, 6, 2, 0)).not.toBe(x); // 2^-32 chance of a false failure
    expect(() => new IsnGenerator(new Uint8Array(15))).toThrow(RangeError);
  });
});

describe('tcp robustness (property)', () => {
  it('header check and options walk never throw on random bytes and arguments', () => {
    const opts = new TcpOptions();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: -4, max: 90 }),
        fc.integer({ min: -4, max: 90 }),
        (bytes, at, len) => {
          const c = tcpHeaderCheck(bytes, at, len);
          const p = tcpParseOptions(bytes, at, len, opts);
          expect(p).toBe(c);
          expect(c).toBeGreaterThanOrEqual(0);
          expect(c).toBeLessThanOrEqual(6);
          expect(typeof tcpHeaderErrorReason(c)).toBe('string');
          if (c === 0) {
            const off = tcpDataOffset(bytes, at);
            expect(off).toBeGreaterThanOrEqual(20);
            expect(at + off).toBeLessThanOrEqual(bytes.length);
            expect(opts.mss).toBeLessThanOrEqual(0xffff);
            expect(opts.windowScale).toBeLessThanOrEqual(14);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('option bytes behind a sound fixed header never throw and agree with the check', () => {
    const opts = new TcpOptions();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(20), (raw, payload) => {
        const words = raw.length >>> 2;
        const seg = new Uint8Array(20 + words * 4 + payload);
        setTcpDataOffset(seg, 0, 20 + words * 4);
        seg.set(raw.subarray(0, words * 4), 20);
        const c = tcpHeaderCheck(seg, 0, seg.length);
        expect(tcpParseOptions(seg, 0, seg.length, opts)).toBe(c);
        expect([0, 4, 5, 6]).toContain(c);
      }),
      { numRuns: 2000 },
    );
  });
});
