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
 * The link and IP headers are read once, by @x/l2's `parseFrameHeaders`
 * (the engine's dispatcher does it for every guest frame, whatever its
 * protocol); `appendParsed` takes that result and checks only what is
 * UDP's: the UDP header inside the IP payload and its length. Embedders
 * that have not parsed the frames themselves use `appendGuestFrame`, which
 * runs the same parse first. The verdict says whether the frame was UDP
 * for us, not UDP at all (the caller's business: ARP, ICMP, TCP...) or
 * malformed; fragments count as malformed, as passt does not reassemble.
 */
import { FrameClass, FrameHeaders, get16, IpProtocol, parseFrameHeaders, UdpHdr } from '@x/l2';
import { ADDR_STRIDE, copyBytes } from '@x/flow';

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

/** The parse record appendGuestFrame reuses (single-threaded: one is enough). */
const scratch = new FrameHeaders();

/**
 * Parses the frame `slab[at, at + len)` and, when it is a well-formed
 * UDP datagram, appends it to `batch` (whose slab must be `slab`).
 */
export function appendGuestFrame(batch: GuestDatagrams, slab: Uint8Array, at: number, len: number): FrameVerdict {
  const k = parseFrameHeaders(slab, at, len, scratch);
  if (k === FrameClass.Malformed || k === FrameClass.Fragment) return FrameVerdict.Malformed;
  if (k !== FrameClass.Ip || scratch.protocol !== IpProtocol.Udp) return FrameVerdict.NotUdp;
  return appendParsed(batch, slab, scratch);
}

/**
 * Appends the UDP datagram of a frame that `parseFrameHeaders` classified
 * as IP with protocol UDP, after checking its UDP header.
 */
export function appendParsed(batch: GuestDatagrams, slab: Uint8Array, h: FrameHeaders): FrameVerdict {
  const udp = h.l4At;
  if (udp + UdpHdr.LEN > h.l4End) return FrameVerdict.Malformed;
  const ulen = get16(slab, udp + UdpHdr.LENGTH);
  if (ulen < UdpHdr.LEN || udp + ulen > h.l4End) return FrameVerdict.Malformed;
  if (batch.count >= batch.capacity) return FrameVerdict.BatchFull;
  const i = batch.count++;
  batch.families[i] = h.family;
  copyBytes(batch.srcAddrs, i * ADDR_STRIDE, slab, h.srcAt, h.addrLen);
  copyBytes(batch.dstAddrs, i * ADDR_STRIDE, slab, h.dstAt, h.addrLen);
  batch.srcPorts[i] = get16(slab, udp + UdpHdr.SRC_PORT);
  batch.dstPorts[i] = get16(slab, udp + UdpHdr.DST_PORT);
  batch.payloadOffsets[i] = udp + UdpHdr.LEN;
  batch.payloadLengths[i] = ulen - UdpHdr.LEN;
  return FrameVerdict.Udp;
}
