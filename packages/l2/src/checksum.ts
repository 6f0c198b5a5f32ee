/**
 * Theory of operation.
 *
 * The Internet checksum (RFC 1071) is the ones' complement of the ones'
 * complement sum of 16-bit big-endian words. Two algebraic facts shape this
 * module:
 *
 *  1. The sum is associative and commutative, and 2^16 = 1 (mod 2^16 - 1),
 *     so we may add 32-bit words into a wide accumulator and fold the
 *     carries back in once at the end. Summing words in the machine's byte
 *     order gives the byte-swapped result, which is swapped back once.
 *  2. Because of (1) a sum over pieces can be combined: a pseudo-header sum,
 *     a header sum and a payload sum are added together, with a piece that
 *     starts at an odd offset byte-swapped first.
 *
 * So the primitive is `checksumPartial` (a folded 16-bit sum, not yet
 * complemented), pieces are joined with `checksumCombine`, and
 * `checksumFinish` complements. Small inputs use a plain byte loop. Larger
 * ones go to a WebAssembly SIMD loop (checksum-simd.ts) where the platform
 * has one, which runs about three times faster than any scalar shape; the
 * portable path reads aligned 32-bit words through a `Uint32Array` over the
 * caller's buffer, cached so that repeated sums over one receive buffer do
 * not allocate.
 */

import { simdSumLittleEndian } from './checksum-simd.js';

export { simdChecksumAvailable as checksumAccelerated } from './checksum-simd.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Fold a non-negative accumulator (below 2^53) to 16 bits with end-around carry. */
function fold(acc: number): number {
  // Accumulators are exact doubles below 2^53; each step adds the carries back in (end-around carry).
  while (acc > 0xffff) {
    acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  }
  return acc;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/** One cached word view, so hot-path sums over the same receive buffer never allocate. */
let cachedBuffer: ArrayBufferLike | null = null;
let cachedWords: Uint32Array = new Uint32Array(0);

function wordsOf(buffer: ArrayBufferLike, needWords: number): Uint32Array {
  if (buffer !== cachedBuffer || cachedWords.length < needWords) {
    cachedBuffer = buffer;
    cachedWords = new Uint32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
  }
  return cachedWords;
}

/** Words per block in `sumWords`, small enough that float64 sums stay exact. */
const WORD_BLOCK = 1 << 20;

/** Below this size the word path's setup costs more than it saves. */
const WORD_PATH_MIN = 64;

/** From this size the copy into WebAssembly memory and the call pay for themselves (measured: ~1.2x at 128 B, 2x at 1400 B). */
const SIMD_PATH_MIN = 128;

/**
 * Folded ones' complement sum of `bytes[start, end)` treated as big-endian
 * 16-bit words (an odd final byte is padded with zero). Not complemented,
 * so that it can be combined with other partial sums.
 */
export function checksumPartial(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  if (start < 0) start = 0;
  if (end > bytes.length) end = bytes.length;
  if (end - start >= SIMD_PATH_MIN) {
    const le = simdSumLittleEndian(bytes, start, end);
    if (le >= 0) return swap16(fold(le));
  }
  return checksumPartialPortable(bytes, start, end);
}

/**
 * `checksumPartial` without the WebAssembly path: the scalar loop used
 * where SIMD is unavailable and for small inputs. Exported so that
 * benchmarks and cross-checks can run it side by side with the fast path.
 */
export function checksumPartialPortable(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  if (start < 0) start = 0;
  if (end > bytes.length) end = bytes.length;
  const len = end - start;
  if (len <= 0) return 0;
  if (len < WORD_PATH_MIN) return fold(sumBytes(bytes, start, end));

  // Head: bytes until the absolute address is 4-aligned.
  const abs = bytes.byteOffset + start;
  const headLen = (4 - (abs & 3)) & 3;
  let acc = sumBytes(bytes, start, start + headLen);
  const wordStart = (abs + headLen) >>> 2;
  const wordCount = (len - headLen) >>> 2;
  const words = wordsOf(bytes.buffer, wordStart + wordCount);
  let s = sumWords(words, wordStart, wordStart + wordCount);
  if (LITTLE_ENDIAN) s = swap16(s);
  // Words starting at an odd distance from `start` sit in the other byte lane.
  if (headLen & 1) s = swap16(s);
  acc += s;
  const tailStart = start + headLen + wordCount * 4;
  if (tailStart < end) {
    let t = fold(sumBytes(bytes, tailStart, end));
    if ((tailStart - start) & 1) t = swap16(t);
    acc += t;
  }
  return fold(acc);
}

function sumBytes(bytes: Uint8Array, start: number, end: number): number {
  let acc = 0;
  let i = start;
  for (; i + 1 < end; i += 2) acc += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (i < end) acc += (bytes[i] as number) << 8;
  return acc;
}

/**
 * Adds whole 32-bit words into four float64 accumulators. A Uint32Array
 * element can exceed the int32 range, so V8 keeps these sums as unboxed
 * doubles, which are exact below 2^53: a block of 2^20 words puts at most
 * 2^18 words (< 2^50) in each accumulator. Eight loads per iteration and
 * independent accumulators keep the add latency off the critical path;
 * this measured fastest of the shapes tried (split 16-bit halves in int32
 * accumulators, Uint16Array loads, SWAR byte lanes).
 */
function sumWords(w: Uint32Array, from: number, to: number): number {
  let total = 0;
  let i = from;
  while (i < to) {
    const blockStop = Math.min(to, i + WORD_BLOCK);
    const unrolledEnd = blockStop - 7;
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    for (; i < unrolledEnd; i += 8) {
      a += (w[i] as number) + (w[i + 4] as number);
      b += (w[i + 1] as number) + (w[i + 5] as number);
      c += (w[i + 2] as number) + (w[i + 6] as number);
      d += (w[i + 3] as number) + (w[i + 7] as number);
    }
    for (; i < blockStop; i++) a += w[i] as number;
    total = fold(total + a + b + c + d);
  }
  return total;
}

/**
 * Joins the partial sum `b` of a piece that starts `offsetOfB` bytes into
 * the checksummed region onto the running sum `a`; an odd offset puts b's
 * bytes in the other lane of each 16-bit word, hence the swap.
 */
export function checksumCombine(a: number, b: number, offsetOfB = 0): number {
  return fold(a + ((offsetOfB & 1) === 1 ? swap16(b) : b));
}

/** Complement a partial sum into the value stored in a header. */
export function checksumFinish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** The checksum field value for `bytes[start, end)` alone. */
export function internetChecksum(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  return checksumFinish(checksumPartial(bytes, start, end));
}

/**
 * Pseudo-header sum shared by IPv4 (RFC 768/793) and IPv6 (RFC 8200 8.1).
 * Both are the sum of the two addresses, the protocol, and the upper-layer
 * length; IPv6's 32-bit length and zero padding add the same 16-bit words
 * as IPv4's layout, so one function serves both families, chosen by the
 * address length alone.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let acc = protocol + (length >>> 16) + (length & 0xffff);
  for (let i = 0; i + 1 < src.length; i += 2) acc += ((src[i] as number) << 8) | (src[i + 1] as number);
  for (let i = 0; i + 1 < dst.length; i += 2) acc += ((dst[i] as number) << 8) | (dst[i + 1] as number);
  return fold(acc);
}

/**
 * `pseudoHeaderSum` with the addresses read where they sit in a frame
 * (`addrLen` bytes at `srcAt` and at `dstAt` of `buf`), so that the frame
 * paths of UDP, ICMPv6 and TCP sum them without a view per packet.
 */
export function pseudoHeaderSumAt(buf: Uint8Array, srcAt: number, dstAt: number, addrLen: number, protocol: number, length: number): number {
  let acc = protocol + (length >>> 16) + (length & 0xffff);
  for (let i = 0; i < addrLen; i += 2) {
    acc += (((buf[srcAt + i] as number) << 8) | (buf[srcAt + i + 1] as number)) + (((buf[dstAt + i] as number) << 8) | (buf[dstAt + i + 1] as number));
  }
  return fold(acc);
}

/**
 * RFC 1624 eqn. 3: the new checksum field after one 16-bit word of the
 * covered data changes from `oldWord` to `newWord`, HC' = ~(~HC + ~m + m').
 * Used for NAT-style rewrites (addresses, ports, TTL) without re-summing
 * the packet.
 */
export function checksumAdjust(oldChecksum: number, oldWord: number, newWord: number): number {
  const sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(sum) & 0xffff;
}

/** `checksumAdjust` for a changed byte run (e.g. an address), word by word; `at` is its offset parity. */
export function checksumAdjustBytes(
  oldChecksum: number,
  oldBytes: Uint8Array,
  newBytes: Uint8Array,
  at = 0,
): number {
  const oldSum = checksumPartial(oldBytes);
  const newSum = checksumPartial(newBytes);
  const o = (at & 1) === 1 ? swap16(oldSum) : oldSum;
  const n = (at & 1) === 1 ? swap16(newSum) : newSum;
  return checksumAdjust(oldChecksum, o, n);
}

/** Whether a region that includes its own checksum field sums correctly (to 0xffff, i.e. -0). */
export function checksumValid(sum: number): boolean {
  return fold(sum) === 0xffff;
}
