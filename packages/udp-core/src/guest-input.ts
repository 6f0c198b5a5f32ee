/**
 * Theory of operation.
 *
 * Datagrams from the guest arrive as a `GuestDatagrams` batch: a struct of
 * parallel typed arrays (one row per datagram) describing UDP datagrams
 * whose payloads lie in the embedder's receive slab. The engine reuses one
 * batch object for every frame burst, so handing datagrams to udp-core
 * allocates nothing, and the payload is sent to the host socket straight
 * out of the slab it was read into.
 *
 * Embedders that have not parsed the frames themselves can use
 * `appendGuestFrame`, which validates an Ethernet frame before trusting
 * any field (lengths against the buffer and against each other, versions,
 * IPv4 header checksum, fragments) and appends the datagram to a batch.
 * Its verdict says whether the frame was UDP for us, not UDP at all (the
 * caller's business: ARP, ICMP, TCP...) or malformed.
 */
import { checksumPartial, get16 } from '@x/l2';
import { ADDR_STRIDE, copyBytes } from './family.js';

export interface GuestDatagrams {
  /** Rows in use, 0..capacity. */
  count: number;
  /** The slab holding every payload of this batch. */
  slab: Uint8Array;
  readonly capacity: number;
  readonly families: Uint8Array;
  /** 16 bytes per row; IPv4 uses the first 4. */
  readonly srcAddrs: Uint8Array;
  readonly dstAddrs: Uint8Array;
  readonly srcPorts: Uint16Array;
  readonly dstPorts: Uint16Array;
  readonly payloadOffsets: Uint32Array;
  readonly payloadLengths: Uint32Array;
}

export function createGuestDatagrams(capacity: number, slab: Uint8Array = new Uint8Array(0)): GuestDatagrams {
  return {
    count: 0,
    slab,
    capacity,
    families: new Uint8Array(capacity),
    srcAddrs: new Uint8Array(capacity * ADDR_STRIDE),
    dstAddrs: new Uint8Array(capacity * ADDR_STRIDE),
    srcPorts: new Uint16Array(capacity),
    dstPorts: new Uint16Array(capacity),
    payloadOffsets: new Uint32Array(capacity),
    payloadLengths: new Uint32Array(capacity),
  };
}

/** Verdict of `appendGuestFrame`. */
export const FrameVerdict = { Udp: 0, NotUdp: 1, Malformed: 2, BatchFull: 3 } as const;
export type FrameVerdict = (typeof FrameVerdict)[keyof typeof FrameVerdict];

const ETH_TYPE = 12;
const ETH_LEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

const IP4_TOTAL_LEN = 2;
const IP4_FLAGS_FRAG = 6;
const IP4_PROTO = 9;
const IP4_SRC = 12;
const IP4_DST = 16;
const IP4_MF_OR_OFFSET = 0x3fff;

const IP6_LEN = 40;
const IP6_PAYLOAD_LEN = 4;
const IP6_NEXT = 6;
const IP6_SRC = 8;
const IP6_DST = 24;

const EXT_HOP_BY_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_DEST_OPTS = 60;

const PROTO_UDP = 17;
const UDP_LEN_HDR = 8;

/**
 * Parses the frame `slab[at, at + len)` and, when it is a well-formed
 * UDP datagram, appends it to `batch` (whose slab must be `slab`).
 */
export function appendGuestFrame(batch: GuestDatagrams, slab: Uint8Array, at: number, len: number): FrameVerdict {
  if (at < 0 || len < 0 || at + len > slab.length) return FrameVerdict.Malformed;
  if (len < ETH_LEN) return FrameVerdict.Malformed;
  const type = get16(slab, at + ETH_TYPE);
  const ip = at + ETH_LEN;
  const avail = len - ETH_LEN;
  let family: 4 | 6;
  let udp: number;
  let ipEnd: number;
  let srcAt: number;
  let dstAt: number;
  if (type === ETHERTYPE_IPV4) {
    if (avail < 20) return FrameVerdict.Malformed;
    const vihl = slab[ip] as number;
    const ihl = (vihl & 0x0f) * 4;
    if (vihl >> 4 !== 4 || ihl < 20) return FrameVerdict.Malformed;
    const total = get16(slab, ip + IP4_TOTAL_LEN);
    if (total < ihl || total > avail) return FrameVerdict.Malformed;
    if (checksumPartial(slab, ip, ip + ihl) !== 0xffff) return FrameVerdict.Malformed;
    if (slab[ip + IP4_PROTO] !== PROTO_UDP) return FrameVerdict.NotUdp;
    // Fragments carry no whole datagram; passt does not reassemble.
    if ((get16(slab, ip + IP4_FLAGS_FRAG) & IP4_MF_OR_OFFSET) !== 0) return FrameVerdict.Malformed;
    family = 4;
    udp = ip + ihl;
    ipEnd = ip + total;
    srcAt = ip + IP4_SRC;
    dstAt = ip + IP4_DST;
  } else if (type === ETHERTYPE_IPV6) {
    if (avail < IP6_LEN) return FrameVerdict.Malformed;
    if ((slab[ip] as number) >> 4 !== 6) return FrameVerdict.Malformed;
    const plen = get16(slab, ip + IP6_PAYLOAD_LEN);
    if (IP6_LEN + plen > avail) return FrameVerdict.Malformed;
    ipEnd = ip + IP6_LEN + plen;
    let next = slab[ip + IP6_NEXT] as number;
    let p = ip + IP6_LEN;
    while (next === EXT_HOP_BY_HOP || next === EXT_ROUTING || next === EXT_DEST_OPTS) {
      if (p + 8 > ipEnd) return FrameVerdict.Malformed;
      next = slab[p] as number;
      p += ((slab[p + 1] as number) + 1) * 8;
    }
    if (next === EXT_FRAGMENT) return FrameVerdict.Malformed;
    if (next !== PROTO_UDP) return FrameVerdict.NotUdp;
    family = 6;
    udp = p;
    srcAt = ip + IP6_SRC;
    dstAt = ip + IP6_DST;
  } else {
    return FrameVerdict.NotUdp;
  }
  if (udp + UDP_LEN_HDR > ipEnd) return FrameVerdict.Malformed;
  const ulen = get16(slab, udp + 4);
  if (ulen < UDP_LEN_HDR || udp + ulen > ipEnd) return FrameVerdict.Malformed;
  if (batch.count >= batch.capacity) return FrameVerdict.BatchFull;
  const i = batch.count++;
  const alen = family === 4 ? 4 : 16;
  batch.families[i] = family;
  copyBytes(batch.srcAddrs, i * ADDR_STRIDE, slab, srcAt, alen);
  copyBytes(batch.dstAddrs, i * ADDR_STRIDE, slab, dstAt, alen);
  batch.srcPorts[i] = get16(slab, udp);
  batch.dstPorts[i] = get16(slab, udp + 2);
  batch.payloadOffsets[i] = udp + UDP_LEN_HDR;
  batch.payloadLengths[i] = ulen - UDP_LEN_HDR;
  return FrameVerdict.Udp;
}
