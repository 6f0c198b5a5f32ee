/**
 * Theory of operation.
 *
 * A UDP datagram (RFC 768) is an 8-byte header and a payload. The header's
 * length field must agree with the bytes the IP layer delivered: it may not
 * exceed them, and the payload is `[8, length)`. The checksum covers a
 * pseudo-header of the enclosing IP addresses, so parse and emit take the
 * source and destination addresses; their length (4 or 16) selects the
 * family, which also decides the checksum rules: over IPv4 a zero checksum
 * means "not computed", over IPv6 it is forbidden (RFC 8200 8.1). A
 * computed checksum of zero is sent as 0xffff, its ones' complement twin.
 */
import { get16, placePayload, set16 } from './bytes.js';
import { checksumCombine, checksumFinish, checksumPartial, pseudoHeaderSum } from './checksum.js';
import { badChecksum, malformed, truncated, unsupported, type WireError } from './errors.js';
import { IpProtocol } from './ipv4.js';
import { UdpHdr } from './offsets.js';


export const UDP_HEADER_LEN = UdpHdr.LEN;

export class UdpPacket {
  private constructor(readonly bytes: Uint8Array) {}

  /** Proves: 8 header bytes exist and 8 <= length field <= buffer. */
  static checked(bytes: Uint8Array): UdpPacket | WireError {
    if (bytes.length < UdpHdr.LEN) return truncated(`UDP header needs ${UdpHdr.LEN} bytes, have ${bytes.length}`);
    const p = new UdpPacket(bytes);
    const len = p.length;
    if (len < UdpHdr.LEN) return malformed(`UDP length ${len} is below the header size`);
    if (len > bytes.length) return truncated(`UDP length ${len} exceeds the ${bytes.length} bytes of IP payload`);
    return p;
  }

  static over(bytes: Uint8Array): UdpPacket {
    return new UdpPacket(bytes);
  }

  get srcPort(): number {
    return get16(this.bytes, UdpHdr.SRC_PORT);
  }
  set srcPort(v: number) {
    set16(this.bytes, UdpHdr.SRC_PORT, v);
  }
  get dstPort(): number {
    return get16(this.bytes, UdpHdr.DST_PORT);
  }
  set dstPort(v: number) {
    set16(this.bytes, UdpHdr.DST_PORT, v);
  }
  get length(): number {
    return get16(this.bytes, UdpHdr.LENGTH);
  }
  set length(v: number) {
    set16(this.bytes, UdpHdr.LENGTH, v);
  }
  get checksum(): number {
    return get16(this.bytes, UdpHdr.CHECKSUM);
  }
  set checksum(v: number) {
    set16(this.bytes, UdpHdr.CHECKSUM, v);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(UdpHdr.LEN, this.length);
  }
  /** Sum over pseudo-header and datagram, checksum field included: valid when it is 0xffff. */
  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    const len = this.length;
    const sum = checksumCombine(pseudoHeaderSum(src, dst, IpProtocol.Udp, len), checksumPartial(this.bytes, 0, len));
    return sum === 0xffff;
  }
  fillChecksum(src: Uint8Array, dst: Uint8Array): void {
    this.checksum = 0;
    const len = this.length;
    const sum = checksumCombine(pseudoHeaderSum(src, dst, IpProtocol.Udp, len), checksumPartial(this.bytes, 0, len));
    const c = checksumFinish(sum);
    this.checksum = c === 0 ? 0xffff : c;
  }
}

export type UdpRepr = {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
};

/**
 * `src`/`dst` are the enclosing IP addresses (4 or 16 bytes). With
 * `verifyChecksum` false the checksum is not looked at, for links that
 * vouch for integrity (e.g. checksum offload on a local socket).
 */
export function parseUdp(
  packet: UdpPacket,
  src: Uint8Array,
  dst: Uint8Array,
  verifyChecksum = true,
): UdpRepr | WireError {
  const v6 = src.length === 16;
  if (verifyChecksum) {
    const c = packet.checksum;
    if (c === 0) {
      if (v6) return malformed('UDP over IPv6 with a zero checksum');
    } else if (!packet.verifyChecksum(src, dst)) {
      return badChecksum('UDP checksum');
    }
  }
  return { srcPort: packet.srcPort, dstPort: packet.dstPort, payload: packet.payload };
}

/** Convenience: `checked` then `parseUdp`. */
export function parseUdpBytes(
  bytes: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  verifyChecksum = true,
): UdpRepr | WireError {
  const p = UdpPacket.checked(bytes);
  return p instanceof UdpPacket ? parseUdp(p, src, dst, verifyChecksum) : p;
}

export function udpBufferLength(repr: Pick<UdpRepr, 'payload'>): number {
  return UdpHdr.LEN + repr.payload.length;
}

/**
 * Writes header, payload (skipped when already in place) and checksum into
 * `bytes`. Returns bytes written.
 */
export function emitUdp(repr: UdpRepr, bytes: Uint8Array, src: Uint8Array, dst: Uint8Array): number | WireError {
  const len = UdpHdr.LEN + repr.payload.length;
  if (len > 0xffff) return unsupported(`UDP datagram of ${len} bytes exceeds 65535`);
  if (bytes.length < len) return truncated(`UDP emit needs ${len} bytes, buffer has ${bytes.length}`);
  const p = UdpPacket.over(bytes);
  p.srcPort = repr.srcPort;
  p.dstPort = repr.dstPort;
  p.length = len;
  placePayload(bytes, UdpHdr.LEN, repr.payload);
  p.fillChecksum(src, dst);
  return len;
}
