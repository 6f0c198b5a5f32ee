/**
 * Theory of operation.
 *
 * Ethernet II is a fixed 14-byte header: destination, source, EtherType.
 * An 802.1Q tag inserts four bytes (TPID 0x8100, then the tag control
 * information) before the real EtherType; we recognise one tag so that a
 * VLAN-tagged frame reports its VLAN id and the inner EtherType rather than
 * being mistaken for an unknown protocol. The FCS is never present: qemu,
 * tap devices and pcap all hand frames over without it.
 *
 * A frame may be longer than its payload needs (Ethernet pads to 60 bytes);
 * this layer cannot know the real payload size, so `payload` runs to the
 * end of the buffer and the network layer trims it using its own length.
 */
import { get16, placePayload, set16, setBytes } from './bytes.js';
import { malformed, truncated, type WireError } from './errors.js';
import { EthHdr } from './offsets.js';

// An 802.1Q tag sits where the untagged payload would start (EthHdr.LEN): tag control information, inner EtherType.
const VLAN_TCI = 14;
const VLAN_INNER_ETHERTYPE = 16;
const VLAN_HEADER_LEN = 18;
const ADDR_LEN = EthHdr.SRC - EthHdr.DST;

export const ETHERNET_HEADER_LEN = EthHdr.LEN;
export const ETHERNET_VLAN_HEADER_LEN = VLAN_HEADER_LEN;
/** Smallest frame on the wire without FCS; shorter frames are padded by the sender. */
export const ETHERNET_MIN_FRAME_LEN = 60;

export const EtherType = {
  Ipv4: 0x0800,
  Arp: 0x0806,
  Vlan: 0x8100,
  Ipv6: 0x86dd,
} as const;

/** A view over a frame in the caller's buffer; accessors assume `checked` (or a correctly sized `over`) vouched for it. */
export class EthernetFrame {
  private constructor(readonly bytes: Uint8Array) {}

  static checked(bytes: Uint8Array): EthernetFrame | WireError {
    if (bytes.length < EthHdr.LEN) return truncated(`Ethernet header needs ${EthHdr.LEN} bytes, have ${bytes.length}`);
    const f = new EthernetFrame(bytes);
    if (f.outerEthertype === EtherType.Vlan && bytes.length < VLAN_HEADER_LEN) {
      return truncated(`802.1Q tagged header needs ${VLAN_HEADER_LEN} bytes, have ${bytes.length}`);
    }
    return f;
  }

  static over(bytes: Uint8Array): EthernetFrame {
    return new EthernetFrame(bytes);
  }

  get dst(): Uint8Array {
    return this.bytes.subarray(EthHdr.DST, EthHdr.DST + ADDR_LEN);
  }
  set dst(mac: Uint8Array) {
    setBytes(this.bytes, EthHdr.DST, mac, ADDR_LEN);
  }
  get src(): Uint8Array {
    return this.bytes.subarray(EthHdr.SRC, EthHdr.SRC + ADDR_LEN);
  }
  set src(mac: Uint8Array) {
    setBytes(this.bytes, EthHdr.SRC, mac, ADDR_LEN);
  }
  /** The EtherType field at offset 12: 0x8100 for tagged frames. */
  get outerEthertype(): number {
    return get16(this.bytes, EthHdr.TYPE);
  }
  set outerEthertype(v: number) {
    set16(this.bytes, EthHdr.TYPE, v);
  }
  get isTagged(): boolean {
    return this.outerEthertype === EtherType.Vlan;
  }
  /** The 802.1Q tag control information (PCP, DEI, VID); meaningful only when tagged. */
  get tci(): number {
    return get16(this.bytes, VLAN_TCI);
  }
  set tci(v: number) {
    set16(this.bytes, VLAN_TCI, v);
  }
  /** The EtherType of the payload, looking through one VLAN tag. */
  get ethertype(): number {
    if (!this.isTagged) return this.outerEthertype;
    return get16(this.bytes, VLAN_INNER_ETHERTYPE);
  }
  set innerEthertype(v: number) {
    set16(this.bytes, VLAN_INNER_ETHERTYPE, v);
  }
  get headerLength(): number {
    return this.isTagged ? VLAN_HEADER_LEN : EthHdr.LEN;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

export type EthernetRepr = {
  dst: Uint8Array;
  src: Uint8Array;
  /** The payload's EtherType (inner one when tagged). */
  ethertype: number;
  /** 802.1Q VLAN id, or null for an untagged frame. */
  vlanId: number | null;
  /** 802.1Q priority code point; 0 when untagged. */
  vlanPriority: number;
  /** Everything after the header, including any Ethernet padding. */
  payload: Uint8Array;
};

export function parseEthernet(frame: EthernetFrame): EthernetRepr | WireError {
  const tagged = frame.isTagged;
  const ethertype = frame.ethertype;
  if (ethertype < 0x0600) {
    // 802.3 length field (LLC/SNAP): not something a VM link needs from us.
    return malformed(`EtherType 0x${ethertype.toString(16)} is an 802.3 length, not Ethernet II`);
  }
  if (tagged && ethertype === EtherType.Vlan) return malformed('stacked 802.1Q tags (QinQ) are not supported');
  const tci = tagged ? frame.tci : 0;
  return {
    dst: frame.dst,
    src: frame.src,
    ethertype,
    vlanId: tagged ? tci & 0x0fff : null,
    vlanPriority: tagged ? tci >>> 13 : 0,
    payload: frame.payload,
  };
}

export function ethernetHeaderLength(repr: Pick<EthernetRepr, 'vlanId'>): number {
  return repr.vlanId === null ? EthHdr.LEN : VLAN_HEADER_LEN;
}

export function ethernetBufferLength(repr: EthernetRepr): number {
  return ethernetHeaderLength(repr) + repr.payload.length;
}

/**
 * Writes the header and then the payload into `bytes`, which must be at
 * least `ethernetBufferLength(repr)` long. If `repr.payload` already lies
 * where it belongs (the caller built the inner packet in place), the copy
 * is skipped. Returns the number of bytes written.
 */
export function emitEthernet(repr: EthernetRepr, bytes: Uint8Array): number {
  const f = EthernetFrame.over(bytes);
  f.dst = repr.dst;
  f.src = repr.src;
  let hlen: number = EthHdr.LEN;
  if (repr.vlanId === null) {
    f.outerEthertype = repr.ethertype;
  } else {
    f.outerEthertype = EtherType.Vlan;
    f.tci = ((repr.vlanPriority & 7) << 13) | (repr.vlanId & 0x0fff);
    f.innerEthertype = repr.ethertype;
    hlen = VLAN_HEADER_LEN;
  }
  placePayload(bytes, hlen, repr.payload);
  return hlen + repr.payload.length;
}

