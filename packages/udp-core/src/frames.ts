/**
 * Theory of operation.
 *
 * A datagram for the guest is received straight into a slot of the frame
 * slab, at a fixed payload offset that leaves room for the largest header
 * stack we emit. Headers are then written backwards in front of it, so the
 * payload is never copied:
 *
 *   slot start
 *   |  4 spare  | Ethernet 14 | IPv6 40             | UDP 8 | payload ...
 *   |           ^ IPv6 frame start (offset 4)               ^ PAYLOAD_AT = 66
 *   |  24 spare           | 4 | Ethernet 14 | IPv4 20 | UDP 8 | payload ...
 *                             ^ IPv4 frame start (offset 24)
 *
 * Every frame has at least 4 free bytes before it, where passt's stream
 * writer puts qemu's length prefix.
 *
 * Checksums:
 * - IPv4 header: the constant fields (version/IHL, DF flag, TTL, protocol)
 *   are summed once at module load; per frame only total length and the two
 *   addresses are added, then folded. No loop over the header.
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
import { checksumCombine, checksumFinish, checksumPartial, set16 } from '@x/l2';
import { copyBytes, type AddressFamily } from './family.js';

const ETH_DST = 0;
const ETH_SRC = 6;
const ETH_TYPE = 12;
const ETH_LEN = 14;

const IP4_VER_IHL = 0;
const IP4_TOS = 1;
const IP4_TOTAL_LEN = 2;
const IP4_ID = 4;
const IP4_FLAGS = 6;
const IP4_TTL = 8;
const IP4_PROTO = 9;
const IP4_CHECKSUM = 10;
const IP4_SRC = 12;
const IP4_DST = 16;

const IP6_VER_TC_FLOW = 0;
const IP6_PAYLOAD_LEN = 4;
const IP6_NEXT = 6;
const IP6_HOP_LIMIT = 7;
const IP6_SRC = 8;
const IP6_DST = 24;

const UDP_SRC = 0;
const UDP_DST = 2;
const UDP_LEN = 4;
const UDP_CHECKSUM = 6;
const UDP_LEN_HDR = 8;

const PROTO_UDP = 17;
const TTL = 255;
const DONT_FRAGMENT = 0x4000;

/** Room before a frame for the 4-byte qemu length prefix. */
export const PREFIX_ROOM = 4;
/** Where the payload sits inside a slot: prefix room + Ethernet + IPv6 + UDP. */
export const PAYLOAD_AT = PREFIX_ROOM + ETH_LEN + 40 + UDP_LEN_HDR;
/** The largest UDP payload a socket can hand us. */
export const MAX_PAYLOAD = 65535 - UDP_LEN_HDR;
/** A slot holds any datagram; rounded up to a cache-line multiple. */
export const FRAME_SLOT_SIZE = Math.ceil((PAYLOAD_AT + MAX_PAYLOAD) / 64) * 64;

/** Sum of the IPv4 header words that never change: 0x4500, DF, TTL/protocol. */
const IP4_CONSTANT_SUM = 0x4500 + DONT_FRAGMENT + ((TTL << 8) | PROTO_UDP);

/** Offset of the Ethernet header in a slot for this family (frames are built back to front). */
export function frameStartInSlot(fam: AddressFamily): number {
  return PAYLOAD_AT - UDP_LEN_HDR - fam.ipHeaderLen - ETH_LEN;
}

/** Sum of one address's 16-bit words, unfolded. */
function addrWordSum(b: Uint8Array, at: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += ((b[at + i] as number) << 8) | (b[at + i + 1] as number);
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Everything that varies per frame; one instance is reused for every datagram. */
export interface FrameFields {
  guestMac: Uint8Array;
  ourMac: Uint8Array;
  /** Source address at srcAddr[srcAt..], destination at dstAddr[dstAt..] (tables with a 16-byte stride are fine). */
  srcAddr: Uint8Array;
  srcAt: number;
  dstAddr: Uint8Array;
  dstAt: number;
  srcPort: number;
  dstPort: number;
  /** Compute the optional UDP checksum over IPv4 too. */
  udpChecksum4: boolean;
}

/**
 * Writes Ethernet, IP and UDP headers in front of the payload already at
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
  const udp = slotBase + PAYLOAD_AT - UDP_LEN_HDR;
  const ip = udp - fam.ipHeaderLen;
  const eth = ip - ETH_LEN;
  const udpLen = UDP_LEN_HDR + payloadLen;

  copyBytes(slab, eth + ETH_DST, f.guestMac, 0, 6);
  copyBytes(slab, eth + ETH_SRC, f.ourMac, 0, 6);
  set16(slab, eth + ETH_TYPE, fam.etherType);

  set16(slab, udp + UDP_SRC, f.srcPort);
  set16(slab, udp + UDP_DST, f.dstPort);
  set16(slab, udp + UDP_LEN, udpLen);
  set16(slab, udp + UDP_CHECKSUM, 0);

  let srcField: number;
  if (fam.family === 4) {
    const total = 20 + udpLen;
    slab[ip + IP4_VER_IHL] = 0x45;
    slab[ip + IP4_TOS] = 0;
    set16(slab, ip + IP4_TOTAL_LEN, total);
    set16(slab, ip + IP4_ID, 0);
    set16(slab, ip + IP4_FLAGS, DONT_FRAGMENT);
    slab[ip + IP4_TTL] = TTL;
    slab[ip + IP4_PROTO] = PROTO_UDP;
    copyBytes(slab, ip + IP4_SRC, f.srcAddr, f.srcAt, 4);
    copyBytes(slab, ip + IP4_DST, f.dstAddr, f.dstAt, 4);
    const sum = IP4_CONSTANT_SUM + total + addrWordSum(f.srcAddr, f.srcAt, 4) + addrWordSum(f.dstAddr, f.dstAt, 4);
    set16(slab, ip + IP4_CHECKSUM, ~fold(sum) & 0xffff);
    srcField = ip + IP4_SRC;
    if (!f.udpChecksum4 && !offload) return eth;
  } else {
    slab[ip + IP6_VER_TC_FLOW] = 0x60;
    slab[ip + IP6_VER_TC_FLOW + 1] = 0;
    set16(slab, ip + IP6_VER_TC_FLOW + 2, 0);
    set16(slab, ip + IP6_PAYLOAD_LEN, udpLen);
    slab[ip + IP6_NEXT] = PROTO_UDP;
    slab[ip + IP6_HOP_LIMIT] = TTL;
    copyBytes(slab, ip + IP6_SRC, f.srcAddr, f.srcAt, 16);
    copyBytes(slab, ip + IP6_DST, f.dstAddr, f.dstAt, 16);
    srcField = ip + IP6_SRC;
  }
  // Pseudo-header: both addresses are adjacent in either IP header.
  const pseudo = fold(checksumPartial(slab, srcField, srcField + 2 * fam.addrLen) + PROTO_UDP + udpLen);
  if (offload) {
    set16(slab, udp + UDP_CHECKSUM, pseudo);
    return eth;
  }
  const body = checksumPartial(slab, udp, udp + udpLen);
  let c = checksumFinish(checksumCombine(pseudo, body));
  if (c === 0) c = 0xffff;
  set16(slab, udp + UDP_CHECKSUM, c);
  return eth;
}

/** Bytes of Ethernet, IP and UDP header in front of the payload. */
export function headerLength(fam: AddressFamily): number {
  return ETH_LEN + fam.ipHeaderLen + UDP_LEN_HDR;
}

/** Length of the frame carrying `payloadLen` bytes of UDP payload. */
export function frameLength(fam: AddressFamily, payloadLen: number): number {
  return headerLength(fam) + payloadLen;
}

