/**
 * Theory of operation.
 *
 * Every frame a guest sends must be classified before anything else looks
 * at it: is it ARP, IP, or something we drop, and for IP, where are the
 * addresses, which upper-layer protocol follows and where do its bytes
 * start and end. `parseFrameHeaders` answers exactly that, for one frame at
 * an offset in a caller's receive buffer, and is meant to be the one place
 * on the receive path that reads an L3 header. passt reads IP header
 * fields in several places, some before the header was validated (a bad
 * IHL once made it take ports out of the payload); here nothing about the
 * IP header is reported until all of it has been checked, so whatever a
 * caller reads from the result can be trusted.
 *
 * Its shape is set by the hot path. The view/representation split of the
 * other modules allocates a view and a repr (and subarrays) per packet;
 * this function allocates nothing. The result goes into a caller-owned
 * `FrameHeaders` record that one reader reuses for every frame, positions
 * are absolute offsets into the caller's buffer rather than subarrays, and
 * the reason for a rejection is a constant string literal, not a formatted
 * message. It never throws, whatever the arguments, and reads only
 * `buf[at, at + len)`.
 *
 * What is checked:
 *
 *   Ethernet  14 bytes present. ARP is reported as such with no further
 *             checks (arp.ts parses it). Anything but IPv4/IPv6/ARP,
 *             802.1Q tags included, is UnknownEtherType: a VM link we
 *             serve is untagged.
 *   IPv4      20 bytes, version 4, IHL >= 5, IHL*4 <= total length <= the
 *             bytes after the Ethernet header, and a valid header checksum
 *             (over the options too).
 *   IPv6      40 bytes, version 6, 40 + payload length <= the bytes after
 *             the Ethernet header, and an extension-header chain
 *             (hop-by-hop, routing, destination options, AH) in which every
 *             header lies wholly inside the payload, hop-by-hop comes first
 *             and there are at most 16 of them.
 *
 * The IP length fields, not the frame length, bound the packet: a frame
 * padded to the 60-byte Ethernet minimum ends, for us, at `l4End`.
 *
 * Fragments (IPv4 MF or a nonzero offset, any IPv6 fragment header) are a
 * class of their own, with every field filled in, because their payload is
 * not a whole upper-layer packet and must not be handed to a transport as
 * one.
 *
 * The upper-layer header itself is deliberately not looked at. Each
 * transport (UDP, TCP, ICMP) has its own minimum length, length field and
 * checksum with a pseudo-header, and validates them in its own parser over
 * `[l4At, l4End)`; checking some of that here too would be a second, partial
 * copy of those rules that could only drift from the real one.
 */
import { get16 } from './bytes.js';
import { checksumPartial } from './checksum.js';
import { EtherType } from './ethernet.js';
import { IpProtocol } from './ipv4.js';
import { EthHdr, Ip4Hdr, Ip6Hdr } from './offsets.js';

/** What parseFrameHeaders found. */
export const FrameClass = { Ip: 0, Arp: 1, UnknownEtherType: 2, Malformed: 3, Fragment: 4 } as const;
export type FrameClass = (typeof FrameClass)[keyof typeof FrameClass];

/**
 * Reusable result record: one instance per reader, overwritten by each
 * parse; all offsets are absolute in the buffer. Every field is reset at the
 * start of a parse, so a field the parse did not reach reads 0 (or '').
 */
export class FrameHeaders {
  /** The EtherType at offset 12 of the frame; 0 until parsed. */
  etherType = 0;
  /** 4 or 6 once the frame is known to carry a version-matching IP header; 0 otherwise. */
  family: 0 | 4 | 6 = 0;
  /** Start of the Ethernet payload, `at + 14`: the IP header (or the ARP packet). */
  l3At = 0;
  /** Length of each IP address: 4, 16, or 0 when there is none. */
  addrLen: 0 | 4 | 16 = 0;
  /** Start of the source address. */
  srcAt = 0;
  /** Start of the destination address. */
  dstAt = 0;
  /** Upper-layer protocol, after any IPv6 extension headers (for a fragment: the fragment header's Next Header). */
  protocol = 0;
  /** Start of the upper-layer header (for a fragment: of the fragment's payload). */
  l4At = 0;
  /** End of the IP payload as the IP header states it; link padding is excluded. */
  l4End = 0;
  /** Why the frame is Malformed or a Fragment; a constant string, '' otherwise. */
  detail = '';
}

/** Refuse pathological chains quickly; real packets carry a handful (the same bound as parseIpv6). */
const MAX_EXTENSION_HEADERS = 16;

/** IPsec Authentication Header (RFC 4302): not in IpProtocol, since nothing else here deals with it. */
const PROTOCOL_AH = 51;

// Generic IPv6 extension header: next header, then a length byte; every one is at least 8 bytes.
const EXT_NEXT_HEADER = 0;
const EXT_LEN = 1;
const EXT_MIN_LEN = 8;

const IP4_FLAG_MF = 0x2000;
const IP4_FRAG_OFFSET_MASK = 0x1fff;

function reset(out: FrameHeaders): void {
  out.etherType = 0;
  out.family = 0;
  out.l3At = 0;
  out.addrLen = 0;
  out.srcAt = 0;
  out.dstAt = 0;
  out.protocol = 0;
  out.l4At = 0;
  out.l4End = 0;
  out.detail = '';
}

function reject(out: FrameHeaders, detail: string): FrameClass {
  out.detail = detail;
  return FrameClass.Malformed;
}

/**
 * Classifies the Ethernet frame `buf[at, at + len)` and, for IP, locates
 * its addresses and upper layer.
 *
 * @param buf the caller's buffer, e.g. a receive ring slot holding several frames
 * @param at where the frame starts in `buf`
 * @param len the frame's length as the link delivered it (padding included)
 * @param out the record to fill; every field is overwritten
 * @returns the class; `out.detail` says why for Malformed and Fragment
 */
export function parseFrameHeaders(buf: Uint8Array, at: number, len: number, out: FrameHeaders): FrameClass {
  reset(out);
  if (!Number.isInteger(at) || !Number.isInteger(len) || at < 0 || len < 0 || at + len > buf.length) {
    return reject(out, 'frame lies outside the buffer');
  }
  if (len < EthHdr.LEN) return reject(out, 'frame is shorter than an Ethernet header');
  const etherType = get16(buf, at + EthHdr.TYPE);
  out.etherType = etherType;
  out.l3At = at + EthHdr.LEN;
  if (etherType === EtherType.Arp) return FrameClass.Arp;
  if (etherType === EtherType.Ipv4) return parseIpv4Header(buf, at + EthHdr.LEN, len - EthHdr.LEN, out);
  if (etherType === EtherType.Ipv6) return parseIpv6Header(buf, at + EthHdr.LEN, len - EthHdr.LEN, out);
  return FrameClass.UnknownEtherType;
}

/** `l3` is the IPv4 header's start and `avail` the bytes from there to the end of the frame. */
function parseIpv4Header(buf: Uint8Array, l3: number, avail: number, out: FrameHeaders): FrameClass {
  if (avail < Ip4Hdr.LEN) return reject(out, 'IPv4 header is truncated');
  const verIhl = buf[l3 + Ip4Hdr.VER_IHL] as number;
  if (verIhl >>> 4 !== 4) return reject(out, 'IPv4 EtherType with an IP version other than 4');
  const hlen = (verIhl & 0x0f) * 4;
  if (hlen < Ip4Hdr.LEN) return reject(out, 'IPv4 IHL is below 5');
  const total = get16(buf, l3 + Ip4Hdr.TOTAL_LEN);
  if (total < hlen) return reject(out, 'IPv4 total length is below the header length');
  if (total > avail) return reject(out, 'IPv4 total length exceeds the frame');
  // A header that includes its own checksum sums to 0xffff; at most 60 bytes, so the scalar path, no allocation.
  if (checksumPartial(buf, l3, l3 + hlen) !== 0xffff) return reject(out, 'IPv4 header checksum is wrong');
  out.family = 4;
  out.addrLen = 4;
  out.srcAt = l3 + Ip4Hdr.SRC;
  out.dstAt = l3 + Ip4Hdr.DST;
  out.protocol = buf[l3 + Ip4Hdr.PROTOCOL] as number;
  out.l4At = l3 + hlen;
  out.l4End = l3 + total;
  const flagsFrag = get16(buf, l3 + Ip4Hdr.FLAGS_FRAG);
  if ((flagsFrag & IP4_FLAG_MF) !== 0) {
    out.detail = 'IPv4 fragment with more fragments following';
    return FrameClass.Fragment;
  }
  if ((flagsFrag & IP4_FRAG_OFFSET_MASK) !== 0) {
    out.detail = 'IPv4 fragment at a nonzero offset';
    return FrameClass.Fragment;
  }
  return FrameClass.Ip;
}

/** `l3` is the IPv6 header's start and `avail` the bytes from there to the end of the frame. */
function parseIpv6Header(buf: Uint8Array, l3: number, avail: number, out: FrameHeaders): FrameClass {
  if (avail < Ip6Hdr.LEN) return reject(out, 'IPv6 header is truncated');
  if ((buf[l3 + Ip6Hdr.VER_TC_FLOW] as number) >>> 4 !== 6) {
    return reject(out, 'IPv6 EtherType with an IP version other than 6');
  }
  const payloadLen = get16(buf, l3 + Ip6Hdr.PAYLOAD_LEN);
  if (Ip6Hdr.LEN + payloadLen > avail) return reject(out, 'IPv6 payload length exceeds the frame');
  const end = l3 + Ip6Hdr.LEN + payloadLen;
  let next = buf[l3 + Ip6Hdr.NEXT_HEADER] as number;
  let off = l3 + Ip6Hdr.LEN;
  for (let count = 0; ; count++) {
    let extLen: number;
    if (next === IpProtocol.HopByHop || next === IpProtocol.Ipv6Route || next === IpProtocol.Ipv6Opts) {
      if (next === IpProtocol.HopByHop && count !== 0) return reject(out, 'IPv6 hop-by-hop header is not first');
      if (off + EXT_MIN_LEN > end) return reject(out, 'IPv6 extension header runs past the payload');
      extLen = ((buf[off + EXT_LEN] as number) + 1) * 8;
    } else if (next === PROTOCOL_AH) {
      if (off + EXT_MIN_LEN > end) return reject(out, 'IPv6 authentication header runs past the payload');
      extLen = ((buf[off + EXT_LEN] as number) + 2) * 4;
    } else if (next === IpProtocol.Ipv6Frag) {
      // The fixed 8-byte fragment header (RFC 8200 4.5) must be there even though it ends the walk.
      if (off + EXT_MIN_LEN > end) return reject(out, 'IPv6 fragment header runs past the payload');
      fill6(out, l3, buf[off + EXT_NEXT_HEADER] as number, off + EXT_MIN_LEN, end);
      out.detail = 'IPv6 fragment header';
      return FrameClass.Fragment;
    } else {
      break;
    }
    if (count >= MAX_EXTENSION_HEADERS) return reject(out, 'IPv6 extension header chain is too long');
    if (off + extLen > end) return reject(out, 'IPv6 extension header runs past the payload');
    next = buf[off + EXT_NEXT_HEADER] as number;
    off += extLen;
  }
  fill6(out, l3, next, off, end);
  return FrameClass.Ip;
}

function fill6(out: FrameHeaders, l3: number, protocol: number, l4At: number, l4End: number): void {
  out.family = 6;
  out.addrLen = 16;
  out.srcAt = l3 + Ip6Hdr.SRC;
  out.dstAt = l3 + Ip6Hdr.DST;
  out.protocol = protocol;
  out.l4At = l4At;
  out.l4End = l4End;
}
