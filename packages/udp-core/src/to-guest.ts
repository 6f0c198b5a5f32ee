/**
 * Theory of operation.
 *
 * World to guest. A host socket (a guest port's binding, or a forwarded
 * port's permanent socket) is read with recvmmsg straight into slots of
 * the frame slab at PAYLOAD_AT; each datagram's flow is found by the host
 * side's tuple (the peer's address and port, our bound port), and its
 * guest side says where the frame goes and from which address and port the
 * guest sees it. A datagram no flow knows is a new peer: the NAT rules
 * pick the source the guest sees (the host itself appears as the gateway,
 * and a "local bind" is remembered for the gateway's way back) and the
 * guest address (the one this port last sent from, else the last seen),
 * and a flow is recorded for the answer.
 *
 * Headers are written in place in front of each payload (frames.ts over
 * @x/flow's link headers). Where the sink can segment (sendSegmented), a
 * run of consecutive datagrams from one peer with equal payloads (the last
 * may be shorter) leaves as one offload frame: headers written once, in
 * front of the run's first payload, the other payloads left where recvmmsg
 * put them. Everything else leaves frame by frame in one sendFrames call;
 * frames keep their order either way. A run shares one flow lookup.
 */
import {
  ADDR_STRIDE,
  bytesEqual,
  copyBytes,
  createRecvBatch,
  errorCode,
  type AddressFamily,
  type RecvBatch,
  type SocketHandle,
} from '@x/flow';
import { BindingTable } from './bindings.js';
import { buildFrame, FRAME_SLOT_SIZE, frameLength, headerLength, PAYLOAD_AT, type FrameFields } from './frames.js';
import type { UdpState } from './state.js';

/** Datagrams in one offload frame at most (Linux segments up to 64 per UDP GSO skb comfortably; its limit is 128). */
const MAX_SEGMENTS = 64;

export class HostToGuest {
  private readonly frameRecv: RecvBatch;
  private readonly frameOffsets: Uint32Array;
  private readonly frameLengths: Uint32Array;
  readonly fields: FrameFields;
  private readonly srcScratch = new Uint8Array(ADDR_STRIDE);
  private readonly dstScratch = new Uint8Array(ADDR_STRIDE);
  /** Frames built and not yet handed to the sink, and their payload bytes. */
  private pendingFrames = 0;
  private pendingBytes = 0;
  /** Whether runs go to the sink as offload frames (it has sendSegmented and has not refused). */
  private segmenting: boolean;
  /** (offset, length) pairs of one offload frame. */
  private readonly runDesc = new Uint32Array(2 * MAX_SEGMENTS);

  constructor(
    private readonly s: UdpState,
    ourMac: Uint8Array,
  ) {
    const n = s.settings.frameBatch;
    this.frameRecv = createRecvBatch(n, FRAME_SLOT_SIZE, PAYLOAD_AT);
    this.frameOffsets = new Uint32Array(n);
    this.frameLengths = new Uint32Array(n);
    this.segmenting = s.sink.sendSegmented !== undefined;
    this.fields = {
      guestMac: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      ourMac: Uint8Array.from(ourMac),
      srcAddr: this.srcScratch,
      srcAt: 0,
      dstAddr: this.dstScratch,
      dstAt: 0,
      srcPort: 0,
      dstPort: 0,
      udpChecksum4: s.settings.udpChecksum4,
    };
  }

  /**
   * Reads the host socket `h`, bound to `boundPort`, whose datagrams go to
   * guest port `guestPort`, and turns them into frames.
   */
  drain(fam: AddressFamily, guestPort: number, boundPort: number, h: SocketHandle): void {
    const s = this.s;
    const slot = BindingTable.slot(fam, guestPort);
    const rb = this.frameRecv;
    const c = s.counters.toGuest;
    for (let round = 0; round < s.settings.drainRounds; round++) {
      if (s.bindings.handle[slot] !== h) return; // closed (aged, evicted) meanwhile
      let n: number;
      try {
        n = s.sockets.recv(h, rb, rb.capacity);
      } catch (e) {
        s.log.debug(`udp: recv on IPv${fam.family} port ${guestPort}: ${errorCode(e)}`);
        return;
      }
      if (n <= 0) return;
      const now = s.clock.now();
      s.bindings.touch(slot, now);
      this.pendingFrames = 0;
      this.pendingBytes = 0;
      // The last datagram routed: the next one from the same peer shares its flow.
      let prev = -1;
      for (let i = 0; i < n; ) {
        const len = rb.lengths[i] as number;
        if (rb.families[i] !== fam.family || len > rb.slotSize - rb.offset) {
          c.malformed++;
          i++;
          continue;
        }
        const run = this.segmenting ? this.runLength(fam, i, n) : 1;
        const same =
          prev >= 0 && rb.ports[prev] === rb.ports[i] && bytesEqual(rb.addrs, prev * ADDR_STRIDE, rb.addrs, i * ADDR_STRIDE, fam.addrLen);
        if (!same && !this.route(fam, i, guestPort, boundPort, slot, now)) {
          c.noBinding += run;
          prev = -1;
          i += run;
          continue;
        }
        prev = i + run - 1;
        if (run > 1 && this.sendRun(fam, i, run)) {
          i += run;
          continue;
        }
        for (let k = i; k < i + run; k++) this.queueFrame(fam, k);
        i += run;
      }
      this.flushFrames(fam);
      if (n < rb.capacity) return;
    }
  }

  /**
   * Sets the frame fields (addresses, ports) for datagram i from its flow,
   * recording a new flow for a new peer. False when the guest cannot be
   * reached (no address of this family known yet, or the table refused).
   */
  private route(fam: AddressFamily, i: number, guestPort: number, boundPort: number, slot: number, now: number): boolean {
    const s = this.s;
    const rb = this.frameRecv;
    const f = this.fields;
    const srcAt = i * ADDR_STRIDE;
    const peerPort = rb.ports[i] as number;
    const hit = s.lookupHost(fam, rb.addrs, srcAt, peerPort, boundPort);
    if (hit >= 0) {
      const flow = hit >> 1;
      const guestSide = (1 - (hit & 1)) as 0 | 1;
      s.flows.ourAddr(flow, guestSide, this.srcScratch, 0);
      s.flows.endAddr(flow, guestSide, this.dstScratch, 0);
      f.srcPort = s.flows.ourPort(flow, guestSide);
      f.dstPort = s.flows.endPort(flow, guestSide);
      s.flows.touch(flow, now);
      return true;
    }
    s.addresses.rewriteSource(fam, rb.addrs, srcAt, peerPort, now, this.srcScratch, 0);
    if (s.bindings.guestAddrKnown[slot] === 1) {
      copyBytes(this.dstScratch, 0, s.bindings.guestAddr, slot * ADDR_STRIDE, fam.addrLen);
    } else if (!s.addresses.guestDestination(fam, this.srcScratch, 0, this.dstScratch, 0)) {
      return false;
    }
    f.srcPort = peerPort;
    f.dstPort = guestPort;
    const flow = s.hostFlow(fam, rb.addrs, srcAt, peerPort, boundPort, this.srcScratch, 0, this.dstScratch, 0, guestPort, now);
    if (flow < 0) s.counters.toGuest.capReached++;
    return flow >= 0;
  }

  /**
   * How many datagrams from index `i` on can go as one offload frame: same
   * peer (address and port), the payload size of the first for all but the
   * last, the last no larger, within the segment and byte limits.
   */
  private runLength(fam: AddressFamily, i: number, n: number): number {
    const rb = this.frameRecv;
    const segment = rb.lengths[i] as number;
    if (segment === 0) return 1;
    const room = 65535 - 8 - fam.ipHeaderLen;
    let total = segment;
    let j = i + 1;
    for (; j < n && j - i < MAX_SEGMENTS; j++) {
      const len = rb.lengths[j] as number;
      if (len === 0 || len > segment || total + len > room) break;
      if (rb.families[j] !== fam.family || rb.ports[j] !== rb.ports[i]) break;
      if (!bytesEqual(rb.addrs, i * ADDR_STRIDE, rb.addrs, j * ADDR_STRIDE, fam.addrLen)) break;
      total += len;
      if (len < segment) {
        j++;
        break;
      }
    }
    return j - i;
  }

  /** Sends datagrams [i, i + run) as one offload frame; false when the sink cannot segment (then never asked again). */
  private sendRun(fam: AddressFamily, i: number, run: number): boolean {
    const s = this.s;
    const rb = this.frameRecv;
    const c = s.counters.toGuest;
    const sink = s.sink;
    if (sink.sendSegmented === undefined) return false;
    let total = 0;
    for (let k = i; k < i + run; k++) total += rb.lengths[k] as number;
    const first = rb.lengths[i] as number;
    this.flushFrames(fam);
    const start = buildFrame(fam, rb.slab, i * rb.slotSize, total, this.fields, true);
    const d = this.runDesc;
    d[0] = start;
    d[1] = headerLength(fam) + first;
    for (let k = 1; k < run; k++) {
      d[2 * k] = (i + k) * rb.slotSize + rb.offset;
      d[2 * k + 1] = rb.lengths[i + k] as number;
    }
    let sent = 0;
    try {
      sent = sink.sendSegmented(rb.slab, d, run, first, fam.ipHeaderLen);
    } catch (e) {
      s.log.debug(`udp: frame sink (offload): ${errorCode(e)}`);
    }
    if (sent < 0) {
      this.segmenting = false;
      s.log.info('udp: the frame sink cannot segment UDP; sending frame by frame');
      return false;
    }
    if (sent >= run) {
      c.datagrams += run;
      c.bytes += total;
      s.counters.events.offloadFrames++;
    } else {
      c.sendError += run;
    }
    return true;
  }

  /** Builds datagram k's frame in place and queues it for the next flushFrames. */
  private queueFrame(fam: AddressFamily, k: number): void {
    const rb = this.frameRecv;
    const len = rb.lengths[k] as number;
    const q = this.pendingFrames;
    this.frameOffsets[q] = buildFrame(fam, rb.slab, k * rb.slotSize, len, this.fields);
    this.frameLengths[q] = frameLength(fam, len);
    this.pendingFrames = q + 1;
    this.pendingBytes += len;
  }

  /** Hands the queued frames to the sink in one call and counts the outcome. */
  private flushFrames(fam: AddressFamily): void {
    const frames = this.pendingFrames;
    if (frames === 0) return;
    const s = this.s;
    const c = s.counters.toGuest;
    const rb = this.frameRecv;
    this.pendingFrames = 0;
    let accepted = 0;
    try {
      accepted = s.sink.sendFrames(rb.slab, this.frameOffsets, this.frameLengths, frames);
    } catch (e) {
      s.log.debug(`udp: frame sink: ${errorCode(e)}`);
    }
    if (accepted >= frames) {
      c.datagrams += frames;
      c.bytes += this.pendingBytes;
    } else {
      const headers = headerLength(fam);
      for (let k = 0; k < accepted; k++) c.bytes += (this.frameLengths[k] as number) - headers;
      c.datagrams += accepted;
      c.sendError += frames - accepted;
    }
    this.pendingBytes = 0;
  }
}
