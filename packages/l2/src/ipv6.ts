/**
 * Theory of operation.
 *
 * The IPv6 fixed header is 40 bytes and states only the payload length;
 * `Ipv6Packet.checked` proves header and claimed payload fit the buffer,
 * and the packet ends at 40 + payload length (Ethernet padding beyond that
 * is ignored, as for IPv4).
 *
 * The upper-layer protocol is not necessarily the fixed header's Next
 * Header: hop-by-hop, routing, fragment and destination-options extension
 * headers may come first. `parseIpv6` walks that chain, checking each
 * header's length against what remains, and reports the final protocol,
 * where its bytes start, and any fragment header it met. A chain that runs
 * off the end is Truncated; one that is structurally wrong (hop-by-hop not
 * first, option TLVs overrunning their header) is Malformed. Unknown
 * next-header values simply end the walk: they are the upper layer as far
 * as this layer can tell.
 *
 * Emitting writes only the fixed header: nothing we originate needs
 * extension headers.
 */
import { get16, get32, placePayload, set16, setBytes } from './bytes.js';
import { malformed, truncated, unsupported, type WireError } from './errors.js';
import { IpProtocol } from './ipv4.js';
import { Ip6Hdr } from './offsets.js';

const ADDR_LEN = 16;

// Generic extension header: next header, length in 8-octet units not counting the first 8.
const EXT_NEXT_HEADER = 0;
const EXT_LEN = 1;
const EXT_OPTIONS = 2;
const EXT_MIN_LEN = 8;
// Fragment header (RFC 8200 4.5), fixed 8 bytes.
const FRAG_OFFSET_FLAGS = 2;
const FRAG_IDENT = 4;
const FRAG_HEADER_LEN = 8;

/** Refuse pathological chains quickly; real packets carry a handful. */
const MAX_EXTENSION_HEADERS = 16;

export const IPV6_HEADER_LEN = Ip6Hdr.LEN;

export class Ipv6Packet {
  private constructor(readonly bytes: Uint8Array) {}

  /** Proves: 40 header bytes exist and 40 + payload length <= buffer. */
  static checked(bytes: Uint8Array): Ipv6Packet | WireError {
    if (bytes.length < Ip6Hdr.LEN) return truncated(`IPv6 header needs ${Ip6Hdr.LEN} bytes, have ${bytes.length}`);
    const p = new Ipv6Packet(bytes);
    const total = Ip6Hdr.LEN + p.payloadLength;
    if (total > bytes.length) {
      return truncated(`IPv6 payload length ${p.payloadLength} exceeds the ${bytes.length - Ip6Hdr.LEN} bytes present`);
    }
    return p;
  }

  static over(bytes: Uint8Array): Ipv6Packet {
    return new Ipv6Packet(bytes);
  }

  get version(): number {
    return (this.bytes[Ip6Hdr.VER_TC_FLOW] as number) >>> 4;
  }
  get trafficClass(): number {
    return (get16(this.bytes, Ip6Hdr.VER_TC_FLOW) >>> 4) & 0xff;
  }
  get flowLabel(): number {
    return get32(this.bytes, Ip6Hdr.VER_TC_FLOW) & 0xfffff;
  }
  /** Version 6 with the given traffic class and flow label. */
  setVersionClassFlow(trafficClass: number, flowLabel: number): void {
    const b = this.bytes;
    b[Ip6Hdr.VER_TC_FLOW] = 0x60 | ((trafficClass >>> 4) & 0x0f);
    b[Ip6Hdr.VER_TC_FLOW + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
    set16(b, Ip6Hdr.VER_TC_FLOW + 2, flowLabel & 0xffff);
  }
  get payloadLength(): number {
    return get16(this.bytes, Ip6Hdr.PAYLOAD_LEN);
  }
  set payloadLength(v: number) {
    set16(this.bytes, Ip6Hdr.PAYLOAD_LEN, v);
  }
  get nextHeader(): number {
    return this.bytes[Ip6Hdr.NEXT_HEADER] as number;
  }
  set nextHeader(v: number) {
    this.bytes[Ip6Hdr.NEXT_HEADER] = v;
  }
  get hopLimit(): number {
    return this.bytes[Ip6Hdr.HOP_LIMIT] as number;
  }
  set hopLimit(v: number) {
    this.bytes[Ip6Hdr.HOP_LIMIT] = v;
  }
  get src(): Uint8Array {
    return this.bytes.subarray(Ip6Hdr.SRC, Ip6Hdr.SRC + ADDR_LEN);
  }
  set src(a: Uint8Array) {
    setBytes(this.bytes, Ip6Hdr.SRC, a, ADDR_LEN);
  }
  get dst(): Uint8Array {
    return this.bytes.subarray(Ip6Hdr.DST, Ip6Hdr.DST + ADDR_LEN);
  }
  set dst(a: Uint8Array) {
    setBytes(this.bytes, Ip6Hdr.DST, a, ADDR_LEN);
  }
  /** Everything after the fixed header up to the stated payload length, extension headers included. */
  get payload(): Uint8Array {
    return this.bytes.subarray(Ip6Hdr.LEN, Ip6Hdr.LEN + this.payloadLength);
  }
}

export type Ipv6Repr = {
  version: 6;
  src: Uint8Array;
  dst: Uint8Array;
  /** The upper-layer protocol found after walking the extension headers. */
  nextHeader: number;
  hopLimit: number;
  trafficClass: number;
  flowLabel: number;
  /** Offset of the upper-layer header from the start of the IPv6 packet (40 without extension headers). */
  upperOffset: number;
  /** True when a fragment header was present. */
  isFragment: boolean;
  /** Fragment offset in bytes; 0 when not fragmented. */
  fragmentOffset: number;
  moreFragments: boolean;
  fragmentIdent: number;
  /** The upper-layer bytes, `[upperOffset, 40 + payload length)`. */
  payload: Uint8Array;
};

/** Checks that the TLV options of a hop-by-hop or destination options header tile it exactly. */
function checkOptionTlvs(b: Uint8Array, from: number, to: number): WireError | null {
  let i = from;
  while (i < to) {
    const type = b[i] as number;
    if (type === 0) {
      i++; // Pad1 is the one single-byte option.
      continue;
    }
    if (i + 2 > to) return malformed('IPv6 option header ends inside an option TLV');
    i += 2 + (b[i + 1] as number);
    if (i > to) return malformed('IPv6 option TLV overruns its extension header');
  }
  return null;
}

export function parseIpv6(packet: Ipv6Packet): Ipv6Repr | WireError {
  if (packet.version !== 6) return malformed(`IP version ${packet.version} in an IPv6 header`);
  const b = packet.bytes;
  const end = Ip6Hdr.LEN + packet.payloadLength;
  let next = packet.nextHeader;
  let off = Ip6Hdr.LEN;
  let isFragment = false;
  let fragmentOffset = 0;
  let moreFragments = false;
  let fragmentIdent = 0;
  if (packet.payloadLength === 0 && next === IpProtocol.HopByHop) {
    return unsupported('IPv6 jumbograms (payload length 0 with hop-by-hop) are not supported');
  }
  for (let count = 0; ; count++) {
    if (count > MAX_EXTENSION_HEADERS) return malformed('IPv6 extension header chain is too long');
    if (next === IpProtocol.HopByHop || next === IpProtocol.Ipv6Opts || next === IpProtocol.Ipv6Route) {
      if (next === IpProtocol.HopByHop && off !== Ip6Hdr.LEN) {
        return malformed('IPv6 hop-by-hop header is not first');
      }
      if (off + EXT_MIN_LEN > end) return truncated('IPv6 extension header runs past the payload');
      const len = ((b[off + EXT_LEN] as number) + 1) * 8;
      if (off + len > end) return truncated(`IPv6 extension header of ${len} bytes runs past the payload`);
      if (next !== IpProtocol.Ipv6Route) {
        const err = checkOptionTlvs(b, off + EXT_OPTIONS, off + len);
        if (err !== null) return err;
      }
      next = b[off + EXT_NEXT_HEADER] as number;
      off += len;
    } else if (next === IpProtocol.Ipv6Frag) {
      if (isFragment) return malformed('IPv6 packet with two fragment headers');
      if (off + FRAG_HEADER_LEN > end) return truncated('IPv6 fragment header runs past the payload');
      const of = get16(b, off + FRAG_OFFSET_FLAGS);
      isFragment = true;
      fragmentOffset = of & 0xfff8;
      moreFragments = (of & 1) === 1;
      fragmentIdent = get32(b, off + FRAG_IDENT);
      next = b[off + EXT_NEXT_HEADER] as number;
      off += FRAG_HEADER_LEN;
      // Later fragments carry no further headers of the chain: stop here.
      if (fragmentOffset !== 0) break;
    } else {
      break;
    }
  }
  return {
    version: 6,
    src: packet.src,
    dst: packet.dst,
    nextHeader: next,
    hopLimit: packet.hopLimit,
    trafficClass: packet.trafficClass,
    flowLabel: packet.flowLabel,
    upperOffset: off,
    isFragment,
    fragmentOffset,
    moreFragments,
    fragmentIdent,
    payload: b.subarray(off, end),
  };
}

/** Convenience: `checked` then `parseIpv6`. */
export function parseIpv6Bytes(bytes: Uint8Array): Ipv6Repr | WireError {
  const p = Ipv6Packet.checked(bytes);
  return p instanceof Ipv6Packet ? parseIpv6(p) : p;
}

export function ipv6BufferLength(repr: Pick<Ipv6Repr, 'payload'>): number {
  return Ip6Hdr.LEN + repr.payload.length;
}

/**
 * Writes the fixed header (`nextHeader` directly, no extension headers;
 * the fragment fields of the repr are ignored) and the payload, skipping
 * the copy when the payload is already in place. Returns bytes written.
 */
export function emitIpv6(repr: Ipv6Repr, bytes: Uint8Array): number | WireError {
  const total = Ip6Hdr.LEN + repr.payload.length;
  if (repr.payload.length > 0xffff) return unsupported(`IPv6 payload of ${repr.payload.length} bytes needs a jumbogram`);
  if (bytes.length < total) return truncated(`IPv6 emit needs ${total} bytes, buffer has ${bytes.length}`);
  const p = Ipv6Packet.over(bytes);
  p.setVersionClassFlow(repr.trafficClass, repr.flowLabel);
  p.payloadLength = repr.payload.length;
  p.nextHeader = repr.nextHeader;
  p.hopLimit = repr.hopLimit;
  p.src = repr.src;
  p.dst = repr.dst;
  placePayload(bytes, Ip6Hdr.LEN, repr.payload);
  return total;
}
