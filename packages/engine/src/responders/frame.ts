/**
 * Theory of operation.
 *
 * Every reply we make is a small frame built from the inside out into one
 * buffer: the innermost message is written at its final offset first, then
 * UDP (whose checksum needs the message), then IP, then Ethernet, each
 * emitter finding its payload already in place and skipping the copy. The
 * callers describe the reply as "this link header, these addresses, a
 * message of N bytes written by this function", so the offsets live here
 * and nowhere else.
 *
 * Replies are padded with zeros to the 60-byte Ethernet minimum. A tap
 * device would take a short frame, but a bridge or a real NIC further
 * along might not, and padding costs nothing; IP's own length fields tell
 * receivers where the datagram ends.
 *
 * A reply carries the same 802.1Q tag as the request it answers, so a
 * guest that speaks on a VLAN hears back on it.
 */
import {
  ETHERNET_MIN_FRAME_LEN,
  EtherType,
  IPV4_HEADER_LEN,
  IPV6_HEADER_LEN,
  IpProtocol,
  UDP_HEADER_LEN,
  emitArp,
  emitEthernet,
  emitIpv4,
  emitIpv6,
  emitUdp,
  ethernetHeaderLength,
  isWireError,
  type ArpRepr,
  type EthernetRepr,
  type WireError,
} from '@x/l2';

/** The Ethernet header of a reply. */
export interface LinkHeader {
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  /** The request's VLAN id (null when untagged) and priority, echoed back. */
  readonly vlanId: number | null;
  readonly vlanPriority: number;
}

/** The header of a reply to `request`: back to `dst` from `ourMac`, on the request's VLAN. */
export function replyLink(request: EthernetRepr, ourMac: Uint8Array, dst: Uint8Array): LinkHeader {
  return { dst, src: ourMac, vlanId: request.vlanId, vlanPriority: request.vlanPriority };
}

/** Writes a message of known length at the start of `into`; returns bytes written or why it could not. */
export type MessageWriter = (into: Uint8Array) => number | WireError;

/** TTL of our IPv4 replies: the Linux default, nothing on one link needs more. */
const IPV4_TTL = 64;

function allocate(link: LinkHeader, inner: number): { buf: Uint8Array; at: number } {
  const at = ethernetHeaderLength(link);
  return { buf: new Uint8Array(Math.max(at + inner, ETHERNET_MIN_FRAME_LEN)), at };
}

function finishEthernet(link: LinkHeader, ethertype: number, buf: Uint8Array, at: number, inner: number): Uint8Array {
  emitEthernet(
    {
      dst: link.dst,
      src: link.src,
      ethertype,
      vlanId: link.vlanId,
      vlanPriority: link.vlanPriority,
      payload: buf.subarray(at, at + inner),
    },
    buf
  );
  return buf;
}

/** An ARP packet in a frame. */
export function arpFrame(link: LinkHeader, arp: ArpRepr): Uint8Array | WireError {
  const { buf, at } = allocate(link, 28);
  const n = emitArp(arp, buf.subarray(at));
  if (isWireError(n)) return n;
  return finishEthernet(link, EtherType.Arp, buf, at, n);
}

/** An IPv4 packet whose upper-layer message (checksum included) is written in place by `write`. */
export function ipv4Frame(
  link: LinkHeader,
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  upperLength: number,
  write: MessageWriter
): Uint8Array | WireError {
  const ipLen = IPV4_HEADER_LEN + upperLength;
  const { buf, at } = allocate(link, ipLen);
  const upperAt = at + IPV4_HEADER_LEN;
  const w = write(buf.subarray(upperAt, upperAt + upperLength));
  if (isWireError(w)) return w;
  const i = emitIpv4(
    {
      version: 4,
      src,
      dst,
      protocol,
      ttl: IPV4_TTL,
      dscp: 0,
      ecn: 0,
      ident: 0,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      options: new Uint8Array(0),
      payload: buf.subarray(upperAt, upperAt + upperLength),
    },
    buf.subarray(at, at + ipLen)
  );
  if (isWireError(i)) return i;
  return finishEthernet(link, EtherType.Ipv4, buf, at, ipLen);
}

/** A UDP datagram over IPv4, the payload written in place by `write`. */
export function ipv4UdpFrame(
  link: LinkHeader,
  src: Uint8Array,
  dst: Uint8Array,
  srcPort: number,
  dstPort: number,
  payloadLength: number,
  write: MessageWriter
): Uint8Array | WireError {
  const udpLen = UDP_HEADER_LEN + payloadLength;
  return ipv4Frame(link, src, dst, IpProtocol.Udp, udpLen, (into) => udpMessage(into, src, dst, srcPort, dstPort, udpLen, write));
}

/** The UDP header and payload of either family's frame, written into `into` (the IP payload). */
function udpMessage(
  into: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  srcPort: number,
  dstPort: number,
  udpLen: number,
  write: MessageWriter
): number | WireError {
  const w = write(into.subarray(UDP_HEADER_LEN, udpLen));
  if (isWireError(w)) return w;
  return emitUdp({ srcPort, dstPort, payload: into.subarray(UDP_HEADER_LEN, udpLen) }, into, src, dst);
}

/** An IPv6 packet whose upper-layer message (checksum included) is written in place by `write`. */
export function ipv6Frame(
  link: LinkHeader,
  src: Uint8Array,
  dst: Uint8Array,
  nextHeader: number,
  hopLimit: number,
  upperLength: number,
  write: MessageWriter
): Uint8Array | WireError {
  const ipLen = IPV6_HEADER_LEN + upperLength;
  const { buf, at } = allocate(link, ipLen);
  const upperAt = at + IPV6_HEADER_LEN;
  const w = write(buf.subarray(upperAt, upperAt + upperLength));
  if (isWireError(w)) return w;
  const i = emitIpv6(
    {
      version: 6,
      src,
      dst,
      nextHeader,
      hopLimit,
      trafficClass: 0,
      flowLabel: 0,
      upperOffset: IPV6_HEADER_LEN,
      isFragment: false,
      fragmentOffset: 0,
      moreFragments: false,
      fragmentIdent: 0,
      payload: buf.subarray(upperAt, upperAt + upperLength),
    },
    buf.subarray(at, at + ipLen)
  );
  if (isWireError(i)) return i;
  return finishEthernet(link, EtherType.Ipv6, buf, at, ipLen);
}

/** A UDP datagram over IPv6 (hop limit 255: DHCPv6 stays on the link), the payload written in place. */
export function ipv6UdpFrame(
  link: LinkHeader,
  src: Uint8Array,
  dst: Uint8Array,
  srcPort: number,
  dstPort: number,
  payloadLength: number,
  write: MessageWriter
): Uint8Array | WireError {
  const udpLen = UDP_HEADER_LEN + payloadLength;
  return ipv6Frame(link, src, dst, IpProtocol.Udp, 255, udpLen, (into) => udpMessage(into, src, dst, srcPort, dstPort, udpLen, write));
}
