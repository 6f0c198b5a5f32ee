/**
 * Theory of operation.
 *
 * ICMPv4 (RFC 792) shares a 4-byte prefix (type, code, checksum) across all
 * messages; the next four bytes depend on the type. On a VM link the one
 * message family user-mode networking must answer itself is echo, so the
 * representation covers echo request/reply (identifier, sequence, data)
 * and reports other types as Unsupported while the view still lets a
 * caller look at any ICMP header. The checksum covers the whole message and
 * has no pseudo-header, unlike ICMPv6.
 */
import { get16, placePayload, set16 } from './bytes.js';
import { checksumFinish, checksumPartial } from './checksum.js';
import { badChecksum, malformed, truncated, unsupported, type WireError } from './errors.js';
import { IcmpHdr } from './offsets.js';


export const Icmpv4Type = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  EchoRequest: 8,
  TimeExceeded: 11,
} as const;

export class Icmpv4Packet {
  private constructor(readonly bytes: Uint8Array) {}

  /** Proves: the 8-byte header is present (every ICMPv4 message has it). */
  static checked(bytes: Uint8Array): Icmpv4Packet | WireError {
    if (bytes.length < IcmpHdr.LEN) return truncated(`ICMPv4 header needs ${IcmpHdr.LEN} bytes, have ${bytes.length}`);
    return new Icmpv4Packet(bytes);
  }

  static over(bytes: Uint8Array): Icmpv4Packet {
    return new Icmpv4Packet(bytes);
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
  get data(): Uint8Array {
    return this.bytes.subarray(IcmpHdr.LEN);
  }
  verifyChecksum(): boolean {
    return checksumPartial(this.bytes) === 0xffff;
  }
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = checksumFinish(checksumPartial(this.bytes));
  }
}

export type Icmpv4Repr = {
  type: 'echoRequest' | 'echoReply';
  ident: number;
  seq: number;
  data: Uint8Array;
};

/** `packet` must span exactly the ICMP message (the IP payload). */
export function parseIcmpv4(packet: Icmpv4Packet, verifyChecksum = true): Icmpv4Repr | WireError {
  if (verifyChecksum && !packet.verifyChecksum()) return badChecksum('ICMPv4 checksum');
  const t = packet.msgType;
  if (t !== Icmpv4Type.EchoRequest && t !== Icmpv4Type.EchoReply) return unsupported(`ICMPv4 type ${t}`);
  if (packet.code !== 0) return malformed(`ICMPv4 echo with code ${packet.code}`);
  return {
    type: t === Icmpv4Type.EchoRequest ? 'echoRequest' : 'echoReply',
    ident: packet.echoIdent,
    seq: packet.echoSeq,
    data: packet.data,
  };
}

export function parseIcmpv4Bytes(bytes: Uint8Array, verifyChecksum = true): Icmpv4Repr | WireError {
  const p = Icmpv4Packet.checked(bytes);
  return p instanceof Icmpv4Packet ? parseIcmpv4(p, verifyChecksum) : p;
}

export function icmpv4BufferLength(repr: Icmpv4Repr): number {
  return IcmpHdr.LEN + repr.data.length;
}

/** Writes the message with its checksum; `bytes` must hold `icmpv4BufferLength(repr)`. Returns bytes written. */
export function emitIcmpv4(repr: Icmpv4Repr, bytes: Uint8Array): number | WireError {
  const len = IcmpHdr.LEN + repr.data.length;
  if (bytes.length < len) return truncated(`ICMPv4 emit needs ${len} bytes, buffer has ${bytes.length}`);
  const out = bytes.length === len ? bytes : bytes.subarray(0, len);
  const p = Icmpv4Packet.over(out);
  p.msgType = repr.type === 'echoRequest' ? Icmpv4Type.EchoRequest : Icmpv4Type.EchoReply;
  p.code = 0;
  p.echoIdent = repr.ident;
  p.echoSeq = repr.seq;
  placePayload(out, IcmpHdr.LEN, repr.data);
  p.fillChecksum();
  return len;
}
