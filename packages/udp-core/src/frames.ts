/**
 * Theory of operation.
 *
 * A datagram for the guest is received straight into a slot of the frame
 * slab at PAYLOAD_AT, which leaves room for the UDP header and, in front
 * of it, the link headers that @x/flow writes (headers.ts: Ethernet and
 * IPv4 or IPv6, and the 4 spare bytes for qemu's length prefix). This
 * module adds only what is UDP's: its header and its checksum.
 *
 * Checksums:
 * - UDP over IPv6 is mandatory (RFC 8200 8.1): pseudo-header (the two
 *   addresses as already written in the IPv6 header, protocol, length)
 *   plus header plus payload, via @x/l2's partial sums over the slab.
 * - UDP over IPv4 may be 0 ("not computed"); `udpChecksum4` turns it on.
 * - Offload (a run of datagrams sent as one segmentation-offload frame, see
 *   FrameSink.sendSegmented): the lengths cover the whole run, and the UDP
 *   field holds only the pseudo-header sum, uncomplemented, as Linux's
 *   CHECKSUM_PARTIAL wants it: the kernel finishes each segment's checksum
 *   (or skips it, for local delivery), so the payload is never summed here.
 */
import { checksumCombine, checksumFinish, checksumPartial, IpProtocol, set16, UdpHdr } from '@x/l2';
import { L4_AT, linkHeaderLength, PREFIX_ROOM, pseudoHeaderSum, writeIpFrame, type AddressFamily, type LinkFields } from '@x/flow';

export { PREFIX_ROOM };
/** Where the payload sits inside a slot: the link headers' room, then UDP's 8 bytes. */
export const PAYLOAD_AT = L4_AT + UdpHdr.LEN;
/** The largest UDP payload a socket can hand us. */
export const MAX_PAYLOAD = 65535 - UdpHdr.LEN;
/** A slot holds any datagram; rounded up to a cache-line multiple. */
export const FRAME_SLOT_SIZE = Math.ceil((PAYLOAD_AT + MAX_PAYLOAD) / 64) * 64;

/** Everything that varies per frame; one instance is reused for every datagram. */
export interface FrameFields extends LinkFields {
  srcPort: number;
  dstPort: number;
  /** Compute the optional UDP checksum over IPv4 too. */
  udpChecksum4: boolean;
}

/**
 * Writes UDP, IP and Ethernet headers in front of the payload already at
 * `slab[slotBase + PAYLOAD_AT, + payloadLen)`. With `offload`, `payloadLen`
 * is the whole run's and the UDP checksum is left for the kernel to finish.
 * @returns the frame's start offset in `slab`; its length is
 *   `frameLength(fam, payloadLen)`.
 */
export function buildFrame(
  fam: AddressFamily,
  slab: Uint8Array,
  slotBase: number,
  payloadLen: number,
  f: FrameFields,
  offload = false,
): number {
  const udp = slotBase + L4_AT;
  const udpLen = UdpHdr.LEN + payloadLen;
  set16(slab, udp + UdpHdr.SRC_PORT, f.srcPort);
  set16(slab, udp + UdpHdr.DST_PORT, f.dstPort);
  set16(slab, udp + UdpHdr.LENGTH, udpLen);
  set16(slab, udp + UdpHdr.CHECKSUM, 0);
  const eth = writeIpFrame(fam, slab, udp, IpProtocol.Udp, udpLen, f);
  if (fam.family === 4 && !f.udpChecksum4 && !offload) return eth;
  const pseudo = pseudoHeaderSum(fam, slab, udp, IpProtocol.Udp, udpLen);
  if (offload) {
    set16(slab, udp + UdpHdr.CHECKSUM, pseudo);
    return eth;
  }
  const body = checksumPartial(slab, udp, udp + udpLen);
  let c = checksumFinish(checksumCombine(pseudo, body));
  if (c === 0) c = 0xffff;
  set16(slab, udp + UdpHdr.CHECKSUM, c);
  return eth;
}

/** Bytes of Ethernet, IP and UDP header in front of the payload. */
export function headerLength(fam: AddressFamily): number {
  return linkHeaderLength(fam) + UdpHdr.LEN;
}

/** Length of the frame carrying `payloadLen` bytes of UDP payload. */
export function frameLength(fam: AddressFamily, payloadLen: number): number {
  return headerLength(fam) + payloadLen;
}

