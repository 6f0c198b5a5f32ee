/**
 * Theory of operation.
 *
 * Initial sequence numbers (RFC 6528): ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey), with M a timer ticking every 4
 * microseconds and F a keyed pseudorandom function, so that ISNs of one
 * 4-tuple keep advancing while an off-path attacker cannot predict those
 * of another. F here is SipHash-2-4 (Aumasson and Bernstein, 2012), a
 * keyed hash built for exactly this kind of short input, of which we keep
 * the low 32 bits. SipHash works on 64-bit words; BigInt arithmetic would
 * allocate on every operation, so each 64-bit word is carried as a pair of
 * 32-bit halves (high, low) in int32 variables: additions propagate the
 * carry out of the low half by hand, rotations move bits between the two
 * halves, and a rotation by 32 just swaps them.
 */
import { IPV4_ADDR_LEN, IPV6_ADDR_LEN } from './addr.js';
import { set16 } from './bytes.js';

// ---------------------------------------------------------------------------
// SipHash-2-4 over pairs of 32-bit halves.

// The four state words, each as (high, low) int32 halves. Module-level so
// the round function can work on them without an object or array per call.
let v0h = 0;
let v0l = 0;
let v1h = 0;
let v1l = 0;
let v2h = 0;
let v2l = 0;
let v3h = 0;
let v3l = 0;

/** 1 when the unsigned addition that produced low half `sum` from `a` wrapped. */
function carry(sum: number, a: number): number {
  return sum >>> 0 < a >>> 0 ? 1 : 0;
}

/** One SipRound on the module state. */
function sipRound(): void {
  let h: number;
  let l: number;
  // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
  l = (v0l + v1l) | 0;
  v0h = (v0h + v1h + carry(l, v0l)) | 0;
  v0l = l;
  h = (v1h << 13) | (v1l >>> 19);
  v1l = (v1l << 13) | (v1h >>> 19);
  v1h = h ^ v0h;
  v1l ^= v0l;
  h = v0h;
  v0h = v0l;
  v0l = h;
  // v2 += v3; v3 <<<= 16; v3 ^= v2
  l = (v2l + v3l) | 0;
  v2h = (v2h + v3h + carry(l, v2l)) | 0;
  v2l = l;
  h = (v3h << 16) | (v3l >>> 16);
  v3l = (v3l << 16) | (v3h >>> 16);
  v3h = h ^ v2h;
  v3l ^= v2l;
  // v0 += v3; v3 <<<= 21; v3 ^= v0
  l = (v0l + v3l) | 0;
  v0h = (v0h + v3h + carry(l, v0l)) | 0;
  v0l = l;
  h = (v3h << 21) | (v3l >>> 11);
  v3l = (v3l << 21) | (v3h >>> 11);
  v3h = h ^ v0h;
  v3l ^= v0l;
  // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
  l = (v2l + v1l) | 0;
  v2h = (v2h + v1h + carry(l, v2l)) | 0;
  v2l = l;
  h = (v1h << 17) | (v1l >>> 15);
  v1l = (v1l << 17) | (v1h >>> 15);
  v1h = h ^ v2h;
  v1l ^= v2l;
  h = v2h;
  v2h = v2l;
  v2l = h;
}

/** Absorbs one 64-bit message word (mh, ml) with two compression rounds. */
function sipCompress(mh: number, ml: number): void {
  v3h ^= mh;
  v3l ^= ml;
  sipRound();
  sipRound();
  v0h ^= mh;
  v0l ^= ml;
}

/** Little-endian 32-bit read, as int32. */
function le32(b: Uint8Array, o: number): number {
  return (b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24);
}

/** High half of the last `sipHashWords` result. */
let resultHigh = 0;

/**
 * SipHash-2-4 of `msg[at, at + len)` under the key (k0, k1) given as
 * 32-bit halves (each key word read little-endian from the 16-byte key).
 * Returns the low 32 bits, unsigned, and leaves the high 32 in `resultHigh`.
 */
function sipHashWords(k0h: number, k0l: number, k1h: number, k1l: number, msg: Uint8Array, at: number, len: number): number {
  // The initial state: the key XOR "somepseudorandomlygeneratedbytes".
  v0h = k0h ^ 0x736f6d65;
  v0l = k0l ^ 0x70736575;
  v1h = k1h ^ 0x646f7261;
  v1l = k1l ^ 0x6e646f6d;
  v2h = k0h ^ 0x6c796765;
  v2l = k0l ^ 0x6e657261;
  v3h = k1h ^ 0x74656462;
  v3l = k1l ^ 0x79746573;
  const end = at + len;
  const wholeEnd = end - (len & 7);
  let i = at;
  for (; i < wholeEnd; i += 8) sipCompress(le32(msg, i + 4), le32(msg, i));
  // The last word: the 0..7 remaining bytes, little-endian, and the length's low byte on top.
  let mh = (len & 0xff) << 24;
  let ml = 0;
  for (let k = 0; i + k < end; k++) {
    const byte = msg[i + k] as number;
    if (k < 4) ml |= byte << (8 * k);
    else mh |= byte << (8 * (k - 4));
  }
  sipCompress(mh, ml);
  v2l ^= 0xff;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  resultHigh = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}

/**
 * SipHash-2-4 of `msg[at, at + len)` under the 16-byte `key`, writing the
 * 64-bit result as `out[outAt]` = high 32 bits and `out[outAt + 1]` = low
 * 32 bits. Returns the low 32 bits. Allocates nothing.
 */
export function sipHash24(key: Uint8Array, msg: Uint8Array, at: number, len: number, out: Uint32Array, outAt = 0): number {
  const low = sipHashWords(le32(key, 4), le32(key, 0), le32(key, 12), le32(key, 8), msg, at, len);
  out[outAt] = resultHigh;
  out[outAt + 1] = low;
  return low;
}

// ---------------------------------------------------------------------------
// Initial sequence numbers.

/** The secret's length: SipHash's 128-bit key. */
export const ISN_SECRET_LEN = 16;

/** Room for the hashed 4-tuple: two IPv6 addresses and two ports. */
const tupleScratch = new Uint8Array(2 * IPV6_ADDR_LEN + 4);

interface RandomSource {
  getRandomValues(array: Uint8Array): Uint8Array;
}

/**
 * RFC 6528 initial sequence numbers: ISN = M + F(4-tuple, secret), with M
 * the 4-microsecond timer and F the low 32 bits of SipHash-2-4 keyed by
 * the secret over (local address, local port, remote address, remote
 * port), ports big-endian.
 */
export class IsnGenerator {
  private readonly k0h: number;
  private readonly k0l: number;
  private readonly k1h: number;
  private readonly k1l: number;

  /** @param secret 16 secret bytes, read once (later changes to the array have no effect) */
  constructor(secret: Uint8Array) {
    if (secret.length !== ISN_SECRET_LEN) {
      throw new RangeError(`IsnGenerator needs a ${ISN_SECRET_LEN}-byte secret, got ${secret.length}`);
    }
    this.k0l = le32(secret, 0);
    this.k0h = le32(secret, 4);
    this.k1l = le32(secret, 8);
    this.k1h = le32(secret, 12);
  }

  /** A generator with a fresh secret from `globalThis.crypto.getRandomValues`. */
  static random(): IsnGenerator {
    const source = (globalThis as unknown as { crypto?: RandomSource }).crypto;
    if (source === undefined) throw new Error('IsnGenerator.random needs globalThis.crypto.getRandomValues');
    const secret = new Uint8Array(ISN_SECRET_LEN);
    source.getRandomValues(secret);
    return new IsnGenerator(secret);
  }

  /**
   * The ISN for a connection we open or accept, as an unsigned 32-bit number.
   *
   * @param family 4 or 6: the addresses are 4 or 16 bytes
   * @param srcAddr buffer holding our (local) address, at `srcAt`
   * @param srcPort our port
   * @param dstAddr buffer holding the peer's (remote) address, at `dstAt`
   * @param dstPort the peer's port
   * @param nowMicros a clock in microseconds (monotonic is best); M is nowMicros / 4 mod 2^32
   */
  isn(
    family: 4 | 6,
    srcAddr: Uint8Array,
    srcAt: number,
    srcPort: number,
    dstAddr: Uint8Array,
    dstAt: number,
    dstPort: number,
    nowMicros: number,
  ): number {
    const addrLen = family === 6 ? IPV6_ADDR_LEN : IPV4_ADDR_LEN;
    const t = tupleScratch;
    for (let k = 0; k < addrLen; k++) t[k] = srcAddr[srcAt + k] as number;
    set16(t, addrLen, srcPort);
    for (let k = 0; k < addrLen; k++) t[addrLen + 2 + k] = dstAddr[dstAt + k] as number;
    set16(t, 2 * addrLen + 2, dstPort);
    const f = sipHashWords(this.k0h, this.k0l, this.k1h, this.k1l, t, 0, 2 * addrLen + 4);
    const m = Math.floor(nowMicros / 4) % 0x1_0000_0000;
    return (m + f) >>> 0;
  }
}
