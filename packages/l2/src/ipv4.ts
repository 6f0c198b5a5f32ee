/**
 * Theory of operation.
 *
 * An IPv4 packet states its own size twice: the header length (IHL, in
 * 32-bit words) and the total length. Both are checked once in
 * `Ipv4Packet.checked` against each other and against the buffer, after
 * which accessors trust them. The payload is `[IHL*4, totalLength)`, never
 * "the rest of the buffer": frames from a link are padded up to the
 * Ethernet minimum and those pad bytes are not part of the datagram.
 *
 * Options are carried through untouched (exposed as a subarray) because
 * nothing on a VM link needs to interpret them, but refusing them would
 * drop legitimate traffic. Fragments are reported, not reassembled: the
 * representation says whether more fragments follow and at what offset
 * this one sits, so a higher layer can decide what to do.
 */
import { get16, placePayload, set16, setBytes } from './bytes.js';
import { checksumPartial, checksumFinish } from './checksum.js';
import { badChecksum, malformed, truncated, unsupported, type WireError } from './errors.js';
import { Ip4Hdr } from './offsets.js';

const ADDR_LEN = 4;
const MAX_HEADER_LEN = 60;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

export const IPV4_HEADER_LEN = Ip4Hdr.LEN;

/** IP protocol numbers this package deals with (shared by IPv4 and IPv6 next-header). */
export const IpProtocol = {
  HopByHop: 0,
  Icmp: 1,
  Tcp: 6,
  Udp: 17,
  Ipv6Route: 43,
  Ipv6Frag: 44,
  Icmpv6: 58,
  Ipv6NoNext: 59,
  Ipv6Opts: 60,
} as const;

export class Ipv4Packet {
  private constructor(readonly bytes: Uint8Array) {}

  /** Proves: 20 header bytes exist, IHL >= 5, IHL*4 <= total length <= buffer. */
  static checked(bytes: Uint8Array): Ipv4Packet | WireError {
    if (bytes.length < Ip4Hdr.LEN) return truncated(`IPv4 header needs ${Ip4Hdr.LEN} bytes, have ${bytes.length}`);
    const p = new Ipv4Packet(bytes);
    const hlen = p.headerLength;
    if (hlen < Ip4Hdr.LEN) return malformed(`IPv4 IHL ${hlen / 4} is below 5`);
    const total = p.totalLength;
    if (total < hlen) return malformed(`IPv4 total length ${total} is below the header length ${hlen}`);
    if (total > bytes.length) return truncated(`IPv4 total length ${total} exceeds the ${bytes.length} bytes present`);
    return p;
  }

  static over(bytes: Uint8Array): Ipv4Packet {
    return new Ipv4Packet(bytes);
  }

  get version(): number {
    return (this.bytes[Ip4Hdr.VER_IHL] as number) >>> 4;
  }
  get headerLength(): number {
    return ((this.bytes[Ip4Hdr.VER_IHL] as number) & 0x0f) * 4;
  }
  /** Sets version 4 together with the header length, which must be a multiple of 4. */
  setVersionAndHeaderLength(hlen: number): void {
    this.bytes[Ip4Hdr.VER_IHL] = 0x40 | ((hlen >>> 2) & 0x0f);
  }
  get dscp(): number {
    return (this.bytes[Ip4Hdr.TOS] as number) >>> 2;
  }
  get ecn(): number {
    return (this.bytes[Ip4Hdr.TOS] as number) & 3;
  }
  setDscpEcn(dscp: number, ecn: number): void {
    this.bytes[Ip4Hdr.TOS] = ((dscp & 0x3f) << 2) | (ecn & 3);
  }
  get totalLength(): number {
    return get16(this.bytes, Ip4Hdr.TOTAL_LEN);
  }
  set totalLength(v: number) {
    set16(this.bytes, Ip4Hdr.TOTAL_LEN, v);
  }
  get ident(): number {
    return get16(this.bytes, Ip4Hdr.ID);
  }
  set ident(v: number) {
    set16(this.bytes, Ip4Hdr.ID, v);
  }
  get flagsAndFragment(): number {
    return get16(this.bytes, Ip4Hdr.FLAGS_FRAG);
  }
  set flagsAndFragment(v: number) {
    set16(this.bytes, Ip4Hdr.FLAGS_FRAG, v);
  }
  get dontFragment(): boolean {
    return (this.flagsAndFragment & FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (this.flagsAndFragment & FLAG_MF) !== 0;
  }
  /** In bytes (the field counts 8-byte units). */
  get fragmentOffset(): number {
    return (this.flagsAndFragment & FRAG_OFFSET_MASK) * 8;
  }
  get ttl(): number {
    return this.bytes[Ip4Hdr.TTL] as number;
  }
  set ttl(v: number) {
    this.bytes[Ip4Hdr.TTL] = v;
  }
  get protocol(): number {
    return this.bytes[Ip4Hdr.PROTOCOL] as number;
  }
  set protocol(v: number) {
    this.bytes[Ip4Hdr.PROTOCOL] = v;
  }
  get checksum(): number {
    return get16(this.bytes, Ip4Hdr.CHECKSUM);
  }
  set checksum(v: number) {
    set16(this.bytes, Ip4Hdr.CHECKSUM, v);
  }
  get src(): Uint8Array {
    return this.bytes.subarray(Ip4Hdr.SRC, Ip4Hdr.SRC + ADDR_LEN);
  }
  set src(a: Uint8Array) {
    setBytes(this.bytes, Ip4Hdr.SRC, a, ADDR_LEN);
  }
  get dst(): Uint8Array {
    return this.bytes.subarray(Ip4Hdr.DST, Ip4Hdr.DST + ADDR_LEN);
  }
  set dst(a: Uint8Array) {
    setBytes(this.bytes, Ip4Hdr.DST, a, ADDR_LEN);
  }
  get options(): Uint8Array {
    return this.bytes.subarray(Ip4Hdr.LEN, this.headerLength);
  }
  /** `[IHL*4, totalLength)`: excludes link-layer padding. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength);
  }
  verifyChecksum(): boolean {
    return checksumPartial(this.bytes, 0, this.headerLength) === 0xffff;
  }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = checksumFinish(checksumPartial(this.bytes, 0, this.headerLength));
  }
}

export type Ipv4Repr = {
  version: 4;
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  ttl: number;
  dscp: number;
  ecn: number;
  ident: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Byte offset of this fragment's payload in the original datagram; 0 when unfragmented. */
  fragmentOffset: number;
  /** Raw option bytes (length a multiple of 4, at most 40); empty when IHL is 5. */
  options: Uint8Array;
  payload: Uint8Array;
};

/** A fragment is any packet with MF set or a nonzero offset; its payload is not a whole upper-layer packet. */
export function isIpv4Fragment(repr: Ipv4Repr): boolean {
  return repr.moreFragments || repr.fragmentOffset !== 0;
}

export function parseIpv4(packet: Ipv4Packet, verifyChecksum = true): Ipv4Repr | WireError {
  if (packet.version !== 4) return malformed(`IP version ${packet.version} in an IPv4 header`);
  if (verifyChecksum && !packet.verifyChecksum()) return badChecksum('IPv4 header checksum');
  if ((packet.flagsAndFragment & 0x8000) !== 0) return malformed('IPv4 reserved flag bit is set');
  const fragmentOffset = packet.fragmentOffset;
  if (fragmentOffset + packet.totalLength - packet.headerLength > 65535) {
    return malformed('IPv4 fragment extends beyond 65535 bytes');
  }
  return {
    version: 4,
    src: packet.src,
    dst: packet.dst,
    protocol: packet.protocol,
    ttl: packet.ttl,
    dscp: packet.dscp,
    ecn: packet.ecn,
    ident: packet.ident,
    dontFragment: packet.dontFragment,
    moreFragments: packet.moreFragments,
    fragmentOffset,
    options: packet.options,
    payload: packet.payload,
  };
}

/** Convenience: `checked` then `parseIpv4`. */
export function parseIpv4Bytes(bytes: Uint8Array, verifyChecksum = true): Ipv4Repr | WireError {
  const p = Ipv4Packet.checked(bytes);
  return p instanceof Ipv4Packet ? parseIpv4(p, verifyChecksum) : p;
}

export function ipv4HeaderLength(repr: Pick<Ipv4Repr, 'options'>): number {
  return Ip4Hdr.LEN + repr.options.length;
}

export function ipv4BufferLength(repr: Ipv4Repr): number {
  return Ip4Hdr.LEN + repr.options.length + repr.payload.length;
}

/**
 * Writes header (with checksum), options and payload into `bytes`, which
 * must hold `ipv4BufferLength(repr)` bytes. The payload copy is skipped
 * when it is already in place. Returns bytes written, or an error when the
 * repr cannot be expressed (options not a multiple of 4 or too long, a
 * datagram over 65535 bytes, an unaligned fragment offset).
 */
export function emitIpv4(repr: Ipv4Repr, bytes: Uint8Array): number | WireError {
  const hlen = Ip4Hdr.LEN + repr.options.length;
  if ((repr.options.length & 3) !== 0 || hlen > MAX_HEADER_LEN) {
    return unsupported(`IPv4 options of ${repr.options.length} bytes (must be a multiple of 4, at most 40)`);
  }
  const total = hlen + repr.payload.length;
  if (total > 0xffff) return unsupported(`IPv4 datagram of ${total} bytes exceeds 65535`);
  if ((repr.fragmentOffset & 7) !== 0 || repr.fragmentOffset > FRAG_OFFSET_MASK * 8) {
    return unsupported(`IPv4 fragment offset ${repr.fragmentOffset} is not a multiple of 8 within range`);
  }
  if (bytes.length < total) return truncated(`IPv4 emit needs ${total} bytes, buffer has ${bytes.length}`);
  const p = Ipv4Packet.over(bytes);
  p.setVersionAndHeaderLength(hlen);
  p.setDscpEcn(repr.dscp, repr.ecn);
  p.totalLength = total;
  p.ident = repr.ident;
  p.flagsAndFragment =
    (repr.dontFragment ? FLAG_DF : 0) | (repr.moreFragments ? FLAG_MF : 0) | (repr.fragmentOffset >>> 3);
  p.ttl = repr.ttl;
  p.protocol = repr.protocol;
  p.src = repr.src;
  p.dst = repr.dst;
  if (repr.options.length > 0) placePayload(bytes, Ip4Hdr.LEN, repr.options);
  p.fillChecksum();
  placePayload(bytes, hlen, repr.payload);
  return total;
}
