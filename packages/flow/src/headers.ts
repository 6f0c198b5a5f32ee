/**
 * Theory of operation.
 *
 * The one place where Ethernet and IP headers of frames for the guest are
 * written, for every transport. A transport receives its payload straight
 * into a slot of a frame slab, writes its own header (UDP, ICMP, later TCP)
 * in front of it, and asks `writeIpFrame` to put the IP and Ethernet
 * headers in front of that, backwards, so that the payload is never
 * copied:
 *
 *   slot start
 *   | 4 spare | Ethernet 14 | IPv6 40              | L4 header | payload
 *   |         ^ IPv6 frame start (4)               ^ L4_AT = 58
 *   | 24 spare          | 4 | Ethernet 14 | IPv4 20 | L4 header | payload
 *                           ^ IPv4 frame start (24)
 *
 * Every frame keeps at least PREFIX_ROOM free bytes before it, where the
 * qemu stream writer puts its length prefix.
 *
 * The IPv4 header checksum is not summed over the header: the fields that
 * never change (version and length, DF, TTL) are a constant, and per frame
 * only the protocol, total length and the two addresses are added and
 * folded. Transports that need the pseudo-header sum (UDP over IPv6 and
 * with checksums on, ICMPv6, TCP) take it from `pseudoHeaderSum`, which
 * reads the addresses where this function wrote them (@x/l2's
 * pseudoHeaderSumAt, the one sum of a pseudo-header in a frame).
 */
import { EthHdr, Ip4Hdr, Ip6Hdr, pseudoHeaderSumAt, set16 } from '@x/l2';
import { copyBytes, type AddressFamily } from './address.js';

/** Room before a frame for the 4-byte qemu length prefix. */
export const PREFIX_ROOM = 4;
/** Where the upper-layer header starts in a slot: prefix room, Ethernet, the longer IP header. */
export const L4_AT = PREFIX_ROOM + EthHdr.LEN + Ip6Hdr.LEN;

const TTL = 255;
const DONT_FRAGMENT = 0x4000;
/** Sum of the IPv4 header words that never change: 0x4500, DF and TTL (protocol added per frame). */
const IP4_CONSTANT_SUM = 0x4500 + DONT_FRAGMENT + (TTL << 8);

/** The per-frame inputs of the link headers; one instance is reused for every frame. */
export interface LinkFields {
  guestMac: Uint8Array;
  ourMac: Uint8Array;
  /** Source address at srcAddr[srcAt..], destination at dstAddr[dstAt..] (tables with a 16-byte stride are fine). */
  srcAddr: Uint8Array;
  srcAt: number;
  dstAddr: Uint8Array;
  dstAt: number;
}

/** Ethernet plus IP header bytes for this family (no options, no extension headers). */
export function linkHeaderLength(fam: AddressFamily): number {
  return EthHdr.LEN + fam.ipHeaderLen;
}

function addrWordSum(b: Uint8Array, at: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += ((b[at + i] as number) << 8) | (b[at + i + 1] as number);
  return s;
}

/** Folds a 32-bit one's-complement sum to 16 bits. */
export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/**
 * Writes the IP header for `l4Len` bytes of `protocol` starting at
 * `slab[l4At]`, and the Ethernet header before it.
 * @returns the frame's start offset; the frame runs to `l4At + l4Len`
 */
export function writeIpFrame(
  fam: AddressFamily,
  slab: Uint8Array,
  l4At: number,
  protocol: number,
  l4Len: number,
  f: LinkFields,
): number {
  const ip = l4At - fam.ipHeaderLen;
  const eth = ip - EthHdr.LEN;
  copyBytes(slab, eth + EthHdr.DST, f.guestMac, 0, 6);
  copyBytes(slab, eth + EthHdr.SRC, f.ourMac, 0, 6);
  set16(slab, eth + EthHdr.TYPE, fam.etherType);
  if (fam.family === 4) {
    const total = Ip4Hdr.LEN + l4Len;
    slab[ip + Ip4Hdr.VER_IHL] = 0x45;
    slab[ip + Ip4Hdr.TOS] = 0;
    set16(slab, ip + Ip4Hdr.TOTAL_LEN, total);
    set16(slab, ip + Ip4Hdr.ID, 0);
    set16(slab, ip + Ip4Hdr.FLAGS_FRAG, DONT_FRAGMENT);
    slab[ip + Ip4Hdr.TTL] = TTL;
    slab[ip + Ip4Hdr.PROTOCOL] = protocol;
    copyBytes(slab, ip + Ip4Hdr.SRC, f.srcAddr, f.srcAt, 4);
    copyBytes(slab, ip + Ip4Hdr.DST, f.dstAddr, f.dstAt, 4);
    const sum = IP4_CONSTANT_SUM + protocol + total + addrWordSum(f.srcAddr, f.srcAt, 4) + addrWordSum(f.dstAddr, f.dstAt, 4);
    set16(slab, ip + Ip4Hdr.CHECKSUM, ~fold(sum) & 0xffff);
  } else {
    slab[ip + Ip6Hdr.VER_TC_FLOW] = 0x60;
    slab[ip + Ip6Hdr.VER_TC_FLOW + 1] = 0;
    set16(slab, ip + Ip6Hdr.VER_TC_FLOW + 2, 0);
    set16(slab, ip + Ip6Hdr.PAYLOAD_LEN, l4Len);
    slab[ip + Ip6Hdr.NEXT_HEADER] = protocol;
    slab[ip + Ip6Hdr.HOP_LIMIT] = TTL;
    copyBytes(slab, ip + Ip6Hdr.SRC, f.srcAddr, f.srcAt, 16);
    copyBytes(slab, ip + Ip6Hdr.DST, f.dstAddr, f.dstAt, 16);
  }
  return eth;
}

/**
 * The folded, uncomplemented pseudo-header sum (RFC 768, RFC 8200 8.1) for
 * the frame whose upper-layer header is at `l4At`, read from the addresses
 * `writeIpFrame` wrote (they are adjacent in both IP headers).
 */
export function pseudoHeaderSum(fam: AddressFamily, slab: Uint8Array, l4At: number, protocol: number, l4Len: number): number {
  const ip = l4At - fam.ipHeaderLen;
  const v4 = fam.family === 4;
  return pseudoHeaderSumAt(slab, ip + (v4 ? Ip4Hdr.SRC : Ip6Hdr.SRC), ip + (v4 ? Ip4Hdr.DST : Ip6Hdr.DST), fam.addrLen, protocol, l4Len);
}
