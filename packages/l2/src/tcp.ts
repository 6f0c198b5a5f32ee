/**
 * Theory of operation.
 *
 * The TCP segment (RFC 9293 3.1) as the TCP translation layer sees it on
 * its hot path: a header sitting inside a frame in a receive or send
 * buffer, right after its IP header. The translator reads ports, sequence
 * and acknowledgement numbers, flags and window out of every segment, and
 * writes them into pre-built frames for every segment it sends, so, as in
 * icmp-echo.ts, these are plain functions over the caller's buffer and an
 * offset, and nothing here allocates.
 *
 * Trust is established once. `tcpHeaderCheck(buf, at, len)` proves that
 * `buf[at, at + len)` lies inside `buf`, holds the 20-byte fixed header,
 * that the data offset is at least 20 and at most `len`, and that the
 * options between byte 20 and the data offset walk cleanly. After that
 * the accessors (which check nothing) may be used freely, and the payload
 * is `[at + tcpDataOffset, at + len)`. The check returns a small number,
 * 0 for a sound header and one of `TcpHeaderError` otherwise
 * (`tcpHeaderErrorReason` names it for logs), and never throws: a
 * malformed segment off the wire is an ordinary outcome (errors.ts).
 *
 * Options. Each option is a kind byte, and, except for EOL (0) and NOP
 * (1), a length byte that counts the kind and length bytes too, then the
 * value. The walk stops at EOL (what follows is padding), steps over
 * NOPs, skips unknown kinds by their length, and rejects an option whose
 * length byte is missing, below 2 (a zero length would loop forever, which
 * is why RFC 9293 3.1 singles it out), runs past the data offset, or does
 * not match the fixed size of a kind it knows. The kinds it records are
 * those a translator needs to answer a SYN and to keep timestamps going:
 * MSS (2), window scale (3), SACK permitted (4) and timestamps (8). They
 * land in a caller-owned `TcpOptions` record that is reset and refilled
 * on each walk, so one record serves a whole receive batch. A window
 * scale above 14 is recorded as 14, the value RFC 7323 2.3 says to use.
 * `tcpHeaderCheck` is the same walk with nowhere to write.
 *
 * For the SYN and SYN-ACK we send, `emitTcpSynOptions` writes MSS, then
 * NOP + window scale, then NOP NOP + SACK permitted: each padded to 4
 * bytes on its own, so the result is always a multiple of 4 and the data
 * offset is 20 plus it.
 *
 * Checksum. TCP sums a pseudo-header (source and destination addresses,
 * protocol 6 and segment length) with the whole segment. The IPv4 layout
 * (16-bit length) and the IPv6 one (32-bit length, zero padding, next
 * header) add up to the same 16-bit words, so one function serves both,
 * with the family choosing only the address length. As in icmp-echo.ts,
 * the checksum field's two bytes are left out of the sum, so the value is
 * the same whatever the field holds, and one function computes both the
 * value to store and the value to compare against.
 *
 * Sequence numbers live in a 32-bit circle (RFC 9293 3.4): "a before b"
 * means the distance from b back to a is less than 2^31. With numbers
 * kept as unsigned 32-bit values, `(a - b) | 0` is that distance as a
 * signed 32-bit integer, and everything else follows from it.
 *
 * Initial sequence numbers (RFC 6528) are tcp-isn.ts's.
 */
import { IPV4_ADDR_LEN, IPV6_ADDR_LEN } from './addr.js';
import { get16, get32, set16, set32 } from './bytes.js';
import { checksumCombine, checksumFinish, checksumPartial, pseudoHeaderSumAt } from './checksum.js';
import { IpProtocol } from './ipv4.js';
import { TcpHdr } from './offsets.js';

/** The fixed header length, without options. */
export const TCP_HEADER_LEN = TcpHdr.LEN;
/** The longest header the 4-bit data offset can describe: 15 words. */
export const TCP_MAX_HEADER_LEN = 60;

/** The flag bits of the byte at `TcpHdr.FLAGS` (RFC 9293 3.1, RFC 3168 for ECE and CWR). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** Option kinds (IANA "TCP Option Kind Numbers") that the walk knows. */
export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;

/** Layout of one option: kind, length, then the value. */
const Opt = { KIND: 0, LEN: 1, VALUE: 2 } as const;
/** Total lengths of the fixed-size options we read or write. */
const OptLen = { MSS: 4, WINDOW_SCALE: 3, SACK_PERMITTED: 2, TIMESTAMPS: 10 } as const;
/** Timestamps option: TSecr follows the 4-byte TSval. */
const TS_ECR = Opt.VALUE + 4;
/** The largest window scale shift RFC 7323 2.3 allows. */
const MAX_WINDOW_SCALE = 14;

/** What `tcpHeaderCheck` and `tcpParseOptions` return: 0 for a sound header. */
export const TcpHeaderError = {
  OK: 0,
  /** Fewer than 20 bytes, or the claimed segment does not lie inside the buffer. */
  SHORT: 1,
  /** Data offset below 20 bytes. */
  DATA_OFFSET_SMALL: 2,
  /** Data offset beyond the segment. */
  DATA_OFFSET_LONG: 3,
  /** An option's length byte is missing, or the option runs past the data offset. */
  OPTION_TRUNCATED: 4,
  /** An option's length byte is 0 or 1, shorter than the option's own kind and length bytes. */
  OPTION_ZERO_LENGTH: 5,
  /** A known option (MSS, window scale, SACK permitted, timestamps) with the wrong length. */
  OPTION_BAD_LENGTH: 6,
} as const;
export type TcpHeaderErrorCode = (typeof TcpHeaderError)[keyof typeof TcpHeaderError];

const REASONS: readonly string[] = [
  'ok',
  'segment shorter than the 20-byte TCP header',
  'data offset below 20 bytes',
  'data offset beyond the segment',
  'truncated TCP option',
  'TCP option length below 2',
  'TCP option with the wrong length for its kind',
];

/** A constant, human-readable name for a `TcpHeaderError` code, for logs and tests. */
export function tcpHeaderErrorReason(code: number): string {
  return REASONS[code] ?? 'unknown TCP header error';
}

/**
 * The options a segment carried, filled in place by `tcpParseOptions`.
 * Absent numeric options are -1; create one record and reuse it.
 */
export class TcpOptions {
  /** Maximum segment size (kind 2), or -1. */
  mss = -1;
  /** Window scale shift count (kind 3), clamped to 14, or -1. */
  windowScale = -1;
  /** Whether SACK permitted (kind 4) was present. */
  sackPermitted = false;
  /** Timestamp value (kind 8), unsigned 32-bit, or -1. */
  tsVal = -1;
  /** Timestamp echo reply (kind 8), unsigned 32-bit, or -1. */
  tsEcr = -1;

  /** Back to "nothing seen", as at the start of every walk. */
  reset(): void {
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.tsVal = -1;
    this.tsEcr = -1;
  }
}

// ---------------------------------------------------------------------------
// Fields. None of these check anything: call tcpHeaderCheck first.

/** Source port of the segment at `at`. */
export function tcpSrcPort(buf: Uint8Array, at: number): number {
  return get16(buf, at + TcpHdr.SRC_PORT);
}
/** Sets the source port. */
export function setTcpSrcPort(buf: Uint8Array, at: number, port: number): void {
  set16(buf, at + TcpHdr.SRC_PORT, port);
}
/** Destination port. */
export function tcpDstPort(buf: Uint8Array, at: number): number {
  return get16(buf, at + TcpHdr.DST_PORT);
}
/** Sets the destination port. */
export function setTcpDstPort(buf: Uint8Array, at: number, port: number): void {
  set16(buf, at + TcpHdr.DST_PORT, port);
}
/** Sequence number, as an unsigned 32-bit number. */
export function tcpSeq(buf: Uint8Array, at: number): number {
  return get32(buf, at + TcpHdr.SEQ);
}
/** Sets the sequence number (taken modulo 2^32). */
export function setTcpSeq(buf: Uint8Array, at: number, seq: number): void {
  set32(buf, at + TcpHdr.SEQ, seq >>> 0);
}
/** Acknowledgement number, as an unsigned 32-bit number (meaningful when ACK is set). */
export function tcpAck(buf: Uint8Array, at: number): number {
  return get32(buf, at + TcpHdr.ACK);
}
/** Sets the acknowledgement number (taken modulo 2^32). */
export function setTcpAck(buf: Uint8Array, at: number, ack: number): void {
  set32(buf, at + TcpHdr.ACK, ack >>> 0);
}
/** Data offset in bytes: the header length including options, 0 to 60 in steps of 4. */
export function tcpDataOffset(buf: Uint8Array, at: number): number {
  return ((buf[at + TcpHdr.DATA_OFF] as number) >>> 4) * 4;
}
/**
 * Sets the data offset from a header length in bytes (a multiple of 4,
 * 20 to 60). The low nibble of the byte (reserved bits) is kept.
 */
export function setTcpDataOffset(buf: Uint8Array, at: number, headerLen: number): void {
  const o = at + TcpHdr.DATA_OFF;
  buf[o] = (((headerLen >>> 2) & 0x0f) << 4) | ((buf[o] as number) & 0x0f);
}
/** The flag byte: an OR of `TcpFlag` bits. */
export function tcpFlags(buf: Uint8Array, at: number): number {
  return buf[at + TcpHdr.FLAGS] as number;
}
/** Sets the flag byte to an OR of `TcpFlag` bits. */
export function setTcpFlags(buf: Uint8Array, at: number, flags: number): void {
  buf[at + TcpHdr.FLAGS] = flags & 0xff;
}
/** Receive window, unscaled, as on the wire. */
export function tcpWindow(buf: Uint8Array, at: number): number {
  return get16(buf, at + TcpHdr.WINDOW);
}
/** Sets the receive window (already shifted down by the scale). */
export function setTcpWindow(buf: Uint8Array, at: number, window: number): void {
  set16(buf, at + TcpHdr.WINDOW, window);
}
/** The checksum field as it stands. */
export function tcpChecksumField(buf: Uint8Array, at: number): number {
  return get16(buf, at + TcpHdr.CHECKSUM);
}
/** Stores a raw checksum field value (see `setTcpChecksum` to compute and store). */
export function setTcpChecksumField(buf: Uint8Array, at: number, checksum: number): void {
  set16(buf, at + TcpHdr.CHECKSUM, checksum);
}
/** Urgent pointer (meaningful when URG is set). */
export function tcpUrgent(buf: Uint8Array, at: number): number {
  return get16(buf, at + TcpHdr.URGENT);
}
/** Sets the urgent pointer. */
export function setTcpUrgent(buf: Uint8Array, at: number, urgent: number): void {
  set16(buf, at + TcpHdr.URGENT, urgent);
}

// ---------------------------------------------------------------------------
// Header check and options walk.

/**
 * The one walk behind `tcpHeaderCheck` (out = null) and `tcpParseOptions`.
 * Reads only inside `buf[at, at + len)` once the first checks pass, so it
 * cannot run off the buffer.
 */
function walk(buf: Uint8Array, at: number, len: number, out: TcpOptions | null): TcpHeaderErrorCode {
  if (out !== null) out.reset();
  // Written so that NaN or fractional arguments fail too rather than slip through.
  if (!(at >= 0 && len >= TcpHdr.LEN && at + len <= buf.length) || !Number.isInteger(at) || !Number.isInteger(len)) {
    return TcpHeaderError.SHORT;
  }
  const hdrLen = tcpDataOffset(buf, at);
  if (hdrLen < TcpHdr.LEN) return TcpHeaderError.DATA_OFFSET_SMALL;
  if (hdrLen > len) return TcpHeaderError.DATA_OFFSET_LONG;
  const end = at + hdrLen;
  let i = at + TcpHdr.LEN;
  while (i < end) {
    const kind = buf[i + Opt.KIND] as number;
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    if (i + Opt.LEN >= end) return TcpHeaderError.OPTION_TRUNCATED;
    const optLen = buf[i + Opt.LEN] as number;
    if (optLen < Opt.VALUE) return TcpHeaderError.OPTION_ZERO_LENGTH;
    if (i + optLen > end) return TcpHeaderError.OPTION_TRUNCATED;
    switch (kind) {
      case TcpOptionKind.MSS:
        if (optLen !== OptLen.MSS) return TcpHeaderError.OPTION_BAD_LENGTH;
        if (out !== null) out.mss = get16(buf, i + Opt.VALUE);
        break;
      case TcpOptionKind.WINDOW_SCALE:
        if (optLen !== OptLen.WINDOW_SCALE) return TcpHeaderError.OPTION_BAD_LENGTH;
        if (out !== null) out.windowScale = Math.min(buf[i + Opt.VALUE] as number, MAX_WINDOW_SCALE);
        break;
      case TcpOptionKind.SACK_PERMITTED:
        if (optLen !== OptLen.SACK_PERMITTED) return TcpHeaderError.OPTION_BAD_LENGTH;
        if (out !== null) out.sackPermitted = true;
        break;
      case TcpOptionKind.TIMESTAMPS:
        if (optLen !== OptLen.TIMESTAMPS) return TcpHeaderError.OPTION_BAD_LENGTH;
        if (out !== null) {
          out.tsVal = get32(buf, i + Opt.VALUE);
          out.tsEcr = get32(buf, i + TS_ECR);
        }
        break;
      default:
        // Unknown (or unrecorded, like SACK blocks): its length was checked, step over it.
        break;
    }
    i += optLen;
  }
  return TcpHeaderError.OK;
}

/**
 * Whether `buf[at, at + len)` starts with a sound TCP header: 0 (`OK`) or a
 * `TcpHeaderError` code. Never throws, whatever the bytes and arguments.
 *
 * @param buf the caller's buffer
 * @param at where the TCP header starts
 * @param len the segment length, header and payload (the IP payload length)
 */
export function tcpHeaderCheck(buf: Uint8Array, at: number, len: number): TcpHeaderErrorCode {
  return walk(buf, at, len, null);
}

/**
 * Walks the options of the segment at `at` into `out`, allocating nothing.
 * Performs every check `tcpHeaderCheck` does and returns the same code;
 * on an error `out` may hold what was seen before the fault.
 *
 * @param buf the caller's buffer
 * @param at where the TCP header starts
 * @param len the segment length, header and payload
 * @param out the reusable record to fill; reset first
 */
export function tcpParseOptions(buf: Uint8Array, at: number, len: number, out: TcpOptions): TcpHeaderErrorCode {
  return walk(buf, at, len, out);
}

/**
 * Writes the options for a SYN or SYN-ACK at `buf[at..]`: MSS, then
 * NOP + window scale when `windowScale >= 0`, then NOP NOP + SACK
 * permitted when `sackPermitted`. Returns the bytes written, a multiple
 * of 4 (at most 12); the caller sets the data offset to 20 plus that.
 * The caller provides the room.
 *
 * @param mss the maximum segment size to announce (0..65535)
 * @param windowScale the shift count to announce (0..14), or -1 for none
 * @param sackPermitted whether to announce SACK
 */
export function emitTcpSynOptions(
  buf: Uint8Array,
  at: number,
  mss: number,
  windowScale: number,
  sackPermitted: boolean,
): number {
  let o = at;
  buf[o + Opt.KIND] = TcpOptionKind.MSS;
  buf[o + Opt.LEN] = OptLen.MSS;
  set16(buf, o + Opt.VALUE, mss);
  o += OptLen.MSS;
  if (windowScale >= 0) {
    buf[o++] = TcpOptionKind.NOP;
    buf[o + Opt.KIND] = TcpOptionKind.WINDOW_SCALE;
    buf[o + Opt.LEN] = OptLen.WINDOW_SCALE;
    buf[o + Opt.VALUE] = Math.min(windowScale, MAX_WINDOW_SCALE);
    o += OptLen.WINDOW_SCALE;
  }
  if (sackPermitted) {
    buf[o++] = TcpOptionKind.NOP;
    buf[o++] = TcpOptionKind.NOP;
    buf[o + Opt.KIND] = TcpOptionKind.SACK_PERMITTED;
    buf[o + Opt.LEN] = OptLen.SACK_PERMITTED;
    o += OptLen.SACK_PERMITTED;
  }
  return o - at;
}

// ---------------------------------------------------------------------------
// Checksum.


/** Sum of the pseudo-header and the segment, the checksum field left out. */
function segmentSum(buf: Uint8Array, at: number, len: number, family: 4 | 6, srcAddrAt: number, dstAddrAt: number): number {
  const addrLen = family === 6 ? IPV6_ADDR_LEN : IPV4_ADDR_LEN;
  const fieldAt = at + TcpHdr.CHECKSUM;
  // Both pieces start at even distances from `at` (0 and 18), so no lane swap.
  const sum = checksumCombine(checksumPartial(buf, at, fieldAt), checksumPartial(buf, fieldAt + 2, at + len));
  return checksumCombine(sum, pseudoHeaderSumAt(buf, srcAddrAt, dstAddrAt, addrLen, IpProtocol.Tcp, len));
}

/**
 * The checksum field value for the segment `buf[at, at + len)`, whatever
 * the field holds now.
 *
 * @param buf the caller's buffer holding the segment and the addresses
 * @param at where the TCP header starts
 * @param len the segment length, header and payload
 * @param family 4 or 6: selects 4- or 16-byte addresses in the pseudo-header
 * @param srcAddrAt where the IP source address starts in `buf`
 * @param dstAddrAt where the IP destination address starts in `buf`
 */
export function tcpChecksum(
  buf: Uint8Array,
  at: number,
  len: number,
  family: 4 | 6,
  srcAddrAt: number,
  dstAddrAt: number,
): number {
  return checksumFinish(segmentSum(buf, at, len, family, srcAddrAt, dstAddrAt));
}

/** Computes `tcpChecksum` and stores it in the segment's checksum field. */
export function setTcpChecksum(
  buf: Uint8Array,
  at: number,
  len: number,
  family: 4 | 6,
  srcAddrAt: number,
  dstAddrAt: number,
): void {
  set16(buf, at + TcpHdr.CHECKSUM, tcpChecksum(buf, at, len, family, srcAddrAt, dstAddrAt));
}

/**
 * Whether the segment's checksum field is right, accepting both encodings
 * of a zero sum as a receiver summing the whole segment would.
 */
export function tcpChecksumValid(
  buf: Uint8Array,
  at: number,
  len: number,
  family: 4 | 6,
  srcAddrAt: number,
  dstAddrAt: number,
): boolean {
  const field = get16(buf, at + TcpHdr.CHECKSUM);
  return checksumCombine(segmentSum(buf, at, len, family, srcAddrAt, dstAddrAt), field) === 0xffff;
}

// ---------------------------------------------------------------------------
// Sequence arithmetic, modulo 2^32.

/** Signed distance a - b around the 32-bit circle, in [-2^31, 2^31). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
/** Whether a comes strictly before b. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
/** Whether a comes before b or equals it. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
/** Whether a comes strictly after b. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
/** Whether a comes after b or equals it. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
/** a + n (n may be negative) as an unsigned 32-bit sequence number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
