/**
 * Theory of operation.
 *
 * Every segment toward the guest is built in one slab of equal slots, each
 * with room in front for the Ethernet and IP headers (and the 4 bytes a
 * sink may use for qemu's length prefix), so that socket data can be
 * peeked straight into place behind its TCP header and the headers
 * written around it afterwards: the payload is never copied. Slots fill in
 * the order segments are produced (control segments and data alike, so a
 * FIN never overtakes the data before it) and the whole run goes to the
 * frame sink in one call at the end of a batch, or earlier when the slab
 * is full.
 *
 * The TCP checksum covers the payload, so it is summed here once per
 * frame; the IP header comes from @x/flow's `writeIpFrame`, the one place
 * link headers are written.
 */
import {
  L4_AT,
  writeIpFrame,
  type AddressFamily,
  type FrameSink,
  type LinkFields,
} from '@x/flow';
import {
  IpProtocol,
  Ip4Hdr,
  Ip6Hdr,
  TcpHdr,
  emitTcpSynOptions,
  set16,
  set32,
  setTcpChecksum,
} from '@x/l2';

/** Room for the TCP header with SYN options. */
export const TCP_ROOM = 32;
/** Where a data segment's payload starts in its slot (no options on data). */
export const PAYLOAD_AT = L4_AT + TcpHdr.LEN;

/** The header fields of one segment toward the guest. */
export interface SegmentFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  /** The window field, already scaled down. */
  window: number;
}

/** SYN options: MSS and window scale (-1: none). */
export interface SynOptions {
  mss: number;
  windowScale: number;
}

export class TcpFrames {
  readonly slab: Uint8Array;
  readonly slotSize: number;
  readonly slots: number;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  /** Per slot: the connection and the sequence number of its first payload byte (-1: no payload). */
  readonly slotFlow: Int32Array;
  readonly slotSeq: Float64Array;
  /** Slots used in the current run. */
  count = 0;
  /** Frames the sink accepted, and refused. */
  sent = 0;
  refused = 0;

  constructor(
    private readonly sink: FrameSink,
    /** The largest payload one frame carries. */
    readonly maxPayload: number,
    slots = 32,
  ) {
    this.slotSize = PAYLOAD_AT + TCP_ROOM + maxPayload;
    this.slots = slots;
    this.slab = new Uint8Array(this.slotSize * slots);
    this.offsets = new Uint32Array(slots);
    this.lengths = new Uint32Array(slots);
    this.slotFlow = new Int32Array(slots);
    this.slotSeq = new Float64Array(slots);
  }

  /** Free slots in this run. */
  get free(): number {
    return this.slots - this.count;
  }

  /** Where slot i's payload goes (data segments carry no options). */
  payloadAt(i: number): number {
    return i * this.slotSize + PAYLOAD_AT;
  }

  /**
   * Finishes the segment in slot `this.count`: header, optional SYN
   * options, payload already in place, IP and Ethernet headers, checksum.
   */
  push(flow: number, fam: AddressFamily, link: LinkFields, s: SegmentFields, payload: number, syn?: SynOptions): void {
    const slab = this.slab;
    const l4 = this.count * this.slotSize + L4_AT;
    const opts = syn ? emitTcpSynOptions(slab, l4 + TcpHdr.LEN, syn.mss, syn.windowScale, false) : 0;
    if (opts > 0 && payload > 0) throw new RangeError('a SYN carries no payload here');
    set16(slab, l4 + TcpHdr.SRC_PORT, s.srcPort);
    set16(slab, l4 + TcpHdr.DST_PORT, s.dstPort);
    set32(slab, l4 + TcpHdr.SEQ, s.seq >>> 0);
    set32(slab, l4 + TcpHdr.ACK, s.ack >>> 0);
    slab[l4 + TcpHdr.DATA_OFF] = ((TcpHdr.LEN + opts) / 4) << 4;
    slab[l4 + TcpHdr.FLAGS] = s.flags;
    set16(slab, l4 + TcpHdr.WINDOW, Math.min(s.window, 0xffff));
    set16(slab, l4 + TcpHdr.CHECKSUM, 0);
    set16(slab, l4 + TcpHdr.URGENT, 0);
    const len = TcpHdr.LEN + opts + payload;
    const start = writeIpFrame(fam, slab, l4, IpProtocol.Tcp, len, link);
    const ip = l4 - fam.ipHeaderLen;
    const v4 = fam.family === 4;
    setTcpChecksum(slab, l4, len, fam.family, ip + (v4 ? Ip4Hdr.SRC : Ip6Hdr.SRC), ip + (v4 ? Ip4Hdr.DST : Ip6Hdr.DST));
    this.offsets[this.count] = start;
    this.lengths[this.count] = l4 + len - start;
    this.slotFlow[this.count] = flow;
    this.slotSeq[this.count] = payload > 0 ? s.seq >>> 0 : -1;
    this.count++;
  }

  /**
   * Sends the run to the sink. Frames it refused are lost to the guest:
   * `onLost` hears of each one that carried data, so that its connection
   * sends those bytes again instead of waiting for a timeout.
   */
  flush(onLost?: (flow: number, seq: number) => void): void {
    if (this.count === 0) return;
    let n = 0;
    try {
      n = this.sink.sendFrames(this.slab, this.offsets, this.lengths, this.count);
    } catch {
      n = 0;
    }
    this.sent += n;
    this.refused += this.count - n;
    if (onLost) for (let i = n; i < this.count; i++) if ((this.slotSeq[i] as number) >= 0) onLost(this.slotFlow[i] as number, this.slotSeq[i] as number);
    this.count = 0;
  }
}
