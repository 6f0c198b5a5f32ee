/**
 * Theory of operation.
 *
 * A segment that belongs to no connection is answered with a RST built
 * from the segment itself (RFC 9293 3.10.7.1): addresses and ports
 * swapped; if it carried an ACK, the RST takes that number as its
 * sequence; otherwise it acknowledges everything the segment occupied and
 * carries the ACK bit. The ACK bit matters for a refused connect: a Linux
 * guest in SYN-SENT only accepts a RST that acknowledges its SYN, and
 * without it would wait for its connect to time out instead of failing at
 * once with ECONNREFUSED.
 */
import { type AddressFamily, type LinkFields } from '@x/flow';
import { TcpFlag, tcpAck, tcpDataOffset, tcpDstPort, tcpFlags, tcpSeq, tcpSrcPort, type FrameHeaders } from '@x/l2';
import type { TcpFrames } from './frames.js';

export class Resets {
  private readonly link: LinkFields;
  private readonly seg = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0 };

  constructor(
    private readonly frames: TcpFrames,
    ourMac: Uint8Array,
    guestMac: Uint8Array,
  ) {
    this.link = { guestMac, ourMac: Uint8Array.from(ourMac), srcAddr: new Uint8Array(0), srcAt: 0, dstAddr: new Uint8Array(0), dstAt: 0 };
  }

  /** Queues the RST answering the guest's segment (sent with the batch). */
  answer(fam: AddressFamily, slab: Uint8Array, h: FrameHeaders): void {
    const at = h.l4At;
    const flags = tcpFlags(slab, at);
    if (flags & TcpFlag.RST) return;
    const seg = this.seg;
    seg.srcPort = tcpDstPort(slab, at);
    seg.dstPort = tcpSrcPort(slab, at);
    if (flags & TcpFlag.ACK) {
      seg.seq = tcpAck(slab, at);
      seg.ack = 0;
      seg.flags = TcpFlag.RST;
    } else {
      const occupied = h.l4End - at - tcpDataOffset(slab, at) + (flags & TcpFlag.SYN ? 1 : 0) + (flags & TcpFlag.FIN ? 1 : 0);
      seg.seq = 0;
      seg.ack = (tcpSeq(slab, at) + occupied) >>> 0;
      seg.flags = TcpFlag.RST | TcpFlag.ACK;
    }
    // The frame's own addresses, swapped: they stay in the guest's slab for this call.
    const l = this.link;
    l.srcAddr = slab;
    l.srcAt = h.dstAt;
    l.dstAddr = slab;
    l.dstAt = h.srcAt;
    if (this.frames.free === 0) this.frames.flush();
    this.frames.push(-1, fam, l, seg, 0);
  }
}
