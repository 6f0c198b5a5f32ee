/**
 * Theory of operation.
 *
 * ICMPv6 (RFC 4443) messages share ICMPv4's 4-byte prefix but the checksum
 * also covers the IPv6 pseudo-header, so parse and emit take the source and
 * destination addresses. This module owns that header and checksum and the
 * echo messages; Neighbor Discovery bodies (types 133-136) are delegated to
 * ndp.ts, and the result is one discriminated union `Icmpv6Repr` on `type`
 * so that a caller can switch over everything a guest may send.
 */
import { get16, placePayload, set16 } from './bytes.js';
import { checksumCombine, checksumFinish, checksumPartial, pseudoHeaderSum } from './checksum.js';
import { badChecksum, malformed, truncated, unsupported, type WireError } from './errors.js';
import { IpProtocol } from './ipv4.js';
import { isNdpType, ndpBufferLength, parseNdp, writeNdp, type NdpRepr } from './ndp.js';
import { IcmpHdr } from './offsets.js';

/** Type, code and checksum: the part every ICMPv6 message has (the echo fields follow). */
const HEADER_LEN = IcmpHdr.ID;

export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  EchoRequest: 128,
  EchoReply: 129,
  RouterSolicit: 133,
  RouterAdvert: 134,
  NeighborSolicit: 135,
  NeighborAdvert: 136,
} as const;

export class Icmpv6Packet {
  private constructor(readonly bytes: Uint8Array) {}

  /** Proves: the 4-byte common header is present; type-specific sizes are checked by the parser. */
  static checked(bytes: Uint8Array): Icmpv6Packet | WireError {
    if (bytes.length < HEADER_LEN) return truncated(`ICMPv6 header needs ${HEADER_LEN} bytes, have ${bytes.length}`);
    return new Icmpv6Packet(bytes);
  }

  static over(bytes: Uint8Array): Icmpv6Packet {
    return new Icmpv6Packet(bytes);
  }

  get msgType(): number {
    return this.bytes[IcmpHdr.TYPE] as number;
  }
  set msgType(v: number) {
    this.bytes[IcmpHdr.TYPE] = v;
  }
  get code(): number {
    return this.bytes[IcmpHdr.CODE] as number;
  }
  set code(v: number) {
    this.bytes[IcmpHdr.CODE] = v;
  }
  get checksum(): number {
    return get16(this.bytes, IcmpHdr.CHECKSUM);
  }
  set checksum(v: number) {
    set16(this.bytes, IcmpHdr.CHECKSUM, v);
  }
  /** Echo only: callers check the type and an 8-byte length first. */
  get echoIdent(): number {
    return get16(this.bytes, IcmpHdr.ID);
  }
  set echoIdent(v: number) {
    set16(this.bytes, IcmpHdr.ID, v);
  }
  get echoSeq(): number {
    return get16(this.bytes, IcmpHdr.SEQ);
  }
  set echoSeq(v: number) {
    set16(this.bytes, IcmpHdr.SEQ, v);
  }
  private sum(src: Uint8Array, dst: Uint8Array): number {
    const len = this.bytes.length;
    return checksumCombine(pseudoHeaderSum(src, dst, IpProtocol.Icmpv6, len), checksumPartial(this.bytes));
  }
  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    return this.sum(src, dst) === 0xffff;
  }
  fillChecksum(src: Uint8Array, dst: Uint8Array): void {
    this.checksum = 0;
    this.checksum = checksumFinish(this.sum(src, dst));
  }
}

export type Icmpv6EchoRepr = {
  type: 'echoRequest' | 'echoReply';
  ident: number;
  seq: number;
  data: Uint8Array;
};

export type Icmpv6Repr = Icmpv6EchoRepr | NdpRepr;

function isEcho(repr: Icmpv6Repr): repr is Icmpv6EchoRepr {
  return repr.type === 'echoRequest' || repr.type === 'echoReply';
}

/**
 * `packet` spans exactly the ICMPv6 message (the upper-layer payload from
 * `parseIpv6`). For NDP the caller must also check the IPv6 hop limit is
 * 255 (RFC 4861 6.1), which proves the sender is on-link.
 */
export function parseIcmpv6(
  packet: Icmpv6Packet,
  src: Uint8Array,
  dst: Uint8Array,
  verifyChecksum = true,
): Icmpv6Repr | WireError {
  if (verifyChecksum && !packet.verifyChecksum(src, dst)) return badChecksum('ICMPv6 checksum');
  const t = packet.msgType;
  if (t === Icmpv6Type.EchoRequest || t === Icmpv6Type.EchoReply) {
    if (packet.bytes.length < IcmpHdr.LEN) return truncated('ICMPv6 echo header needs 8 bytes');
    if (packet.code !== 0) return malformed(`ICMPv6 echo with code ${packet.code}`);
    return {
      type: t === Icmpv6Type.EchoRequest ? 'echoRequest' : 'echoReply',
      ident: packet.echoIdent,
      seq: packet.echoSeq,
      data: packet.bytes.subarray(IcmpHdr.LEN),
    };
  }
  if (isNdpType(t)) return parseNdp(packet.bytes, src, dst);
  return unsupported(`ICMPv6 type ${t}`);
}

export function parseIcmpv6Bytes(
  bytes: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  verifyChecksum = true,
): Icmpv6Repr | WireError {
  const p = Icmpv6Packet.checked(bytes);
  return p instanceof Icmpv6Packet ? parseIcmpv6(p, src, dst, verifyChecksum) : p;
}

export function icmpv6BufferLength(repr: Icmpv6Repr): number | WireError {
  if (isEcho(repr)) return IcmpHdr.LEN + repr.data.length;
  return ndpBufferLength(repr);
}

/** Writes the message and its pseudo-header checksum. Returns bytes written. */
export function emitIcmpv6(repr: Icmpv6Repr, bytes: Uint8Array, src: Uint8Array, dst: Uint8Array): number | WireError {
  const len = icmpv6BufferLength(repr);
  if (typeof len !== 'number') return len;
  if (bytes.length < len) return truncated(`ICMPv6 emit needs ${len} bytes, buffer has ${bytes.length}`);
  const out = bytes.length === len ? bytes : bytes.subarray(0, len);
  const p = Icmpv6Packet.over(out);
  if (isEcho(repr)) {
    p.msgType = repr.type === 'echoRequest' ? Icmpv6Type.EchoRequest : Icmpv6Type.EchoReply;
    p.code = 0;
    p.echoIdent = repr.ident;
    p.echoSeq = repr.seq;
    placePayload(out, IcmpHdr.LEN, repr.data);
  } else {
    const w = writeNdp(repr, out);
    if (typeof w !== 'number') return w;
  }
  p.fillChecksum(src, dst);
  return len;
}
