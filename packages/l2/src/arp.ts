/**
 * Theory of operation.
 *
 * ARP (RFC 826) is generic over hardware and protocol address sizes, but a
 * VM link only ever carries Ethernet/IPv4 ARP, so the view checks the
 * generic lengths (the header states them) while the representation
 * accepts exactly hardware type 1 / 6-byte MACs and protocol 0x0800 /
 * 4-byte addresses; anything else is Unsupported rather than Malformed,
 * since it is valid ARP we merely do not speak.
 */
import { get16, set16, setBytes } from './bytes.js';
import { malformed, truncated, unsupported, type WireError } from './errors.js';
import { ArpHdr } from './offsets.js';

// ArpHdr's positions from SPA on hold only for Ethernet/IPv4 (HLEN 6, PLEN 4), which parse enforces.
/** The generic part before the addresses, whatever their sizes. */
const FIXED_LEN = ArpHdr.SHA;

const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

export const ARP_PACKET_LEN = ArpHdr.LEN;

export const ArpOperation = { Request: 1, Reply: 2 } as const;
export type ArpOperation = (typeof ArpOperation)[keyof typeof ArpOperation];

export class ArpPacket {
  private constructor(readonly bytes: Uint8Array) {}

  /** Proves: the fixed part and the address fields its length bytes announce fit. */
  static checked(bytes: Uint8Array): ArpPacket | WireError {
    if (bytes.length < FIXED_LEN) return truncated(`ARP needs ${FIXED_LEN} bytes, have ${bytes.length}`);
    const p = new ArpPacket(bytes);
    const need = FIXED_LEN + 2 * (p.hardwareLength + p.protocolLength);
    if (bytes.length < need) return truncated(`ARP with these address sizes needs ${need} bytes, have ${bytes.length}`);
    return p;
  }

  static over(bytes: Uint8Array): ArpPacket {
    return new ArpPacket(bytes);
  }

  get hardwareType(): number {
    return get16(this.bytes, ArpHdr.HTYPE);
  }
  get protocolType(): number {
    return get16(this.bytes, ArpHdr.PTYPE);
  }
  get hardwareLength(): number {
    return this.bytes[ArpHdr.HLEN] as number;
  }
  get protocolLength(): number {
    return this.bytes[ArpHdr.PLEN] as number;
  }
  /** Writes the Ethernet/IPv4 constants (types and sizes). */
  setEthernetIpv4(): void {
    set16(this.bytes, ArpHdr.HTYPE, HTYPE_ETHERNET);
    set16(this.bytes, ArpHdr.PTYPE, PTYPE_IPV4);
    this.bytes[ArpHdr.HLEN] = 6;
    this.bytes[ArpHdr.PLEN] = 4;
  }
  get operation(): number {
    return get16(this.bytes, ArpHdr.OPER);
  }
  set operation(v: number) {
    set16(this.bytes, ArpHdr.OPER, v);
  }
  get senderMac(): Uint8Array {
    return this.bytes.subarray(ArpHdr.SHA, ArpHdr.SHA + 6);
  }
  set senderMac(v: Uint8Array) {
    setBytes(this.bytes, ArpHdr.SHA, v, 6);
  }
  get senderIp(): Uint8Array {
    return this.bytes.subarray(ArpHdr.SPA, ArpHdr.SPA + 4);
  }
  set senderIp(v: Uint8Array) {
    setBytes(this.bytes, ArpHdr.SPA, v, 4);
  }
  get targetMac(): Uint8Array {
    return this.bytes.subarray(ArpHdr.THA, ArpHdr.THA + 6);
  }
  set targetMac(v: Uint8Array) {
    setBytes(this.bytes, ArpHdr.THA, v, 6);
  }
  get targetIp(): Uint8Array {
    return this.bytes.subarray(ArpHdr.TPA, ArpHdr.TPA + 4);
  }
  set targetIp(v: Uint8Array) {
    setBytes(this.bytes, ArpHdr.TPA, v, 4);
  }
}

export type ArpRepr = {
  operation: ArpOperation;
  senderMac: Uint8Array;
  senderIp: Uint8Array;
  targetMac: Uint8Array;
  targetIp: Uint8Array;
};

export function parseArp(packet: ArpPacket): ArpRepr | WireError {
  if (packet.hardwareType !== HTYPE_ETHERNET || packet.hardwareLength !== 6) {
    return unsupported(`ARP hardware type ${packet.hardwareType} / length ${packet.hardwareLength}`);
  }
  if (packet.protocolType !== PTYPE_IPV4 || packet.protocolLength !== 4) {
    return unsupported(`ARP protocol type 0x${packet.protocolType.toString(16)} / length ${packet.protocolLength}`);
  }
  const op = packet.operation;
  if (op !== ArpOperation.Request && op !== ArpOperation.Reply) {
    return op === 0 ? malformed('ARP operation 0') : unsupported(`ARP operation ${op}`);
  }
  return {
    operation: op,
    senderMac: packet.senderMac,
    senderIp: packet.senderIp,
    targetMac: packet.targetMac,
    targetIp: packet.targetIp,
  };
}

export function parseArpBytes(bytes: Uint8Array): ArpRepr | WireError {
  const p = ArpPacket.checked(bytes);
  return p instanceof ArpPacket ? parseArp(p) : p;
}

export function arpBufferLength(_repr?: ArpRepr): number {
  return ArpHdr.LEN;
}

/** Writes the 28-byte packet; `bytes` must hold `ARP_PACKET_LEN`. Returns bytes written. */
export function emitArp(repr: ArpRepr, bytes: Uint8Array): number | WireError {
  if (bytes.length < ArpHdr.LEN) return truncated(`ARP emit needs ${ArpHdr.LEN} bytes, buffer has ${bytes.length}`);
  const p = ArpPacket.over(bytes);
  p.setEthernetIpv4();
  p.operation = repr.operation;
  p.senderMac = repr.senderMac;
  p.senderIp = repr.senderIp;
  p.targetMac = repr.targetMac;
  p.targetIp = repr.targetIp;
  return ArpHdr.LEN;
}
