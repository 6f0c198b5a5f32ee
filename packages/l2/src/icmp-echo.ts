/**
 * Theory of operation.
 *
 * Echo request and reply are the one ICMP exchange user-mode networking
 * relays itself (a guest's ping becomes an unprivileged ICMP socket's
 * datagram and back), and they have the same layout in ICMPv4 and ICMPv6:
 * type, code, checksum, identifier, sequence, data (IcmpHdr). The views in
 * icmpv4.ts and icmpv6.ts cover them too, but want a subarray per message
 * and the addresses as separate arrays; on the relay path the message sits
 * inside a frame in a receive or send buffer, next to its IP header, and
 * what the relay does is read the identifier, rewrite it (the host socket
 * picks its own), and fix the checksum. So these functions take the
 * caller's buffer and offsets and allocate nothing.
 *
 * The two families differ only in the checksum: ICMPv4 sums the message
 * alone (RFC 792), ICMPv6 adds the IPv6 pseudo-header of source and
 * destination address, upper-layer length and next header 58 (RFC 4443
 * 2.3). `icmpEchoChecksum` computes the field value as though the field
 * held zero, so a caller need not clear it first, and it is the same
 * function for checking and for filling in.
 *
 * Nothing here checks lengths: like the views' accessors, these trust the
 * caller, who has already proved (e.g. with parseFrameHeaders) that
 * `buf[at, at + len)` is the whole message, at least `IcmpHdr.LEN` bytes,
 * and, for ICMPv6, that the 16-byte addresses are at `srcAddrAt` and
 * `dstAddrAt`.
 */
import { IPV6_ADDR_LEN } from './addr.js';
import { get16, set16 } from './bytes.js';
import { checksumCombine, checksumFinish, checksumPartial, pseudoHeaderSumAt } from './checksum.js';
import { IpProtocol } from './ipv4.js';
import { IcmpHdr } from './offsets.js';


/** The message type (echo request: 8 or 128, reply: 0 or 129) of the message at `at`. */
export function icmpEchoType(buf: Uint8Array, at: number): number {
  return buf[at + IcmpHdr.TYPE] as number;
}
/** Sets the type, e.g. to turn a request into its reply. */
export function setIcmpEchoType(buf: Uint8Array, at: number, type: number): void {
  buf[at + IcmpHdr.TYPE] = type;
}
/** The code, 0 for every valid echo message. */
export function icmpEchoCode(buf: Uint8Array, at: number): number {
  return buf[at + IcmpHdr.CODE] as number;
}
/** Sets the code. */
export function setIcmpEchoCode(buf: Uint8Array, at: number, code: number): void {
  buf[at + IcmpHdr.CODE] = code;
}
/** The identifier, which matches replies to the sender (an ICMP socket's "port"). */
export function icmpEchoId(buf: Uint8Array, at: number): number {
  return get16(buf, at + IcmpHdr.ID);
}
/** Sets the identifier, e.g. to the one the host's ICMP socket was given. */
export function setIcmpEchoId(buf: Uint8Array, at: number, id: number): void {
  set16(buf, at + IcmpHdr.ID, id);
}
/** The sequence number. */
export function icmpEchoSeq(buf: Uint8Array, at: number): number {
  return get16(buf, at + IcmpHdr.SEQ);
}
/** Sets the sequence number. */
export function setIcmpEchoSeq(buf: Uint8Array, at: number, seq: number): void {
  set16(buf, at + IcmpHdr.SEQ, seq);
}
/** The checksum field as it stands. */
export function icmpEchoChecksumField(buf: Uint8Array, at: number): number {
  return get16(buf, at + IcmpHdr.CHECKSUM);
}

/**
 * Sum of the message `buf[at, at + len)` without its checksum field, plus,
 * for family 6, the IPv6 pseudo-header. The field's two bytes are left out
 * rather than read, which is the same as summing them as zero.
 */
function echoSum(buf: Uint8Array, at: number, len: number, family: 4 | 6, srcAddrAt: number, dstAddrAt: number): number {
  const end = at + len;
  const fieldAt = at + IcmpHdr.CHECKSUM;
  // The pieces start at even distances from `at` (0 and 4), so they join without a lane swap.
  let sum = checksumCombine(checksumPartial(buf, at, fieldAt), checksumPartial(buf, fieldAt + 2, end));
  if (family === 6) sum = checksumCombine(sum, pseudoHeaderSumAt(buf, srcAddrAt, dstAddrAt, IPV6_ADDR_LEN, IpProtocol.Icmpv6, len));
  return sum;
}

/**
 * The checksum field value for the echo message `buf[at, at + len)`,
 * whatever the field holds now.
 *
 * @param buf the caller's buffer holding the message (and, for ICMPv6, the addresses)
 * @param at where the message (its type byte) starts
 * @param len the message length: ICMP header and data, i.e. the IP payload
 * @param family 4 for ICMPv4 (message only), 6 for ICMPv6 (pseudo-header too)
 * @param srcAddrAt where the 16-byte IPv6 source address starts in `buf`; ignored for family 4
 * @param dstAddrAt where the 16-byte IPv6 destination address starts; ignored for family 4
 */
export function icmpEchoChecksum(
  buf: Uint8Array,
  at: number,
  len: number,
  family: 4 | 6,
  srcAddrAt: number,
  dstAddrAt: number,
): number {
  return checksumFinish(echoSum(buf, at, len, family, srcAddrAt, dstAddrAt));
}

/** Computes `icmpEchoChecksum` and stores it in the message's checksum field. */
export function setIcmpEchoChecksum(
  buf: Uint8Array,
  at: number,
  len: number,
  family: 4 | 6,
  srcAddrAt: number,
  dstAddrAt: number,
): void {
  set16(buf, at + IcmpHdr.CHECKSUM, icmpEchoChecksum(buf, at, len, family, srcAddrAt, dstAddrAt));
}

/**
 * Whether the message's checksum field is right. Both encodings of a zero
 * sum (0x0000 and 0xffff) are accepted, as a receiver summing the whole
 * message including the field would.
 */
export function icmpEchoChecksumValid(
  buf: Uint8Array,
  at: number,
  len: number,
  family: 4 | 6,
  srcAddrAt: number,
  dstAddrAt: number,
): boolean {
  const field = get16(buf, at + IcmpHdr.CHECKSUM);
  return checksumCombine(echoSum(buf, at, len, family, srcAddrAt, dstAddrAt), field) === 0xffff;
}
