/**
 * Frames to and from a tap device (pasta).
 *
 * A tap gives one frame per read() and takes one per write(). The reader
 * drains the device in batches into a slab allocated once, slot by slot,
 * and hands the batch on; the writer sends udp-core's finished frames with
 * one native call per batch. When the tap's queue is full, frames are
 * dropped and counted: a tap never blocks, and UDP tolerates loss better
 * than a stalled process.
 *
 * With a virtio-net header (IFF_VNET_HDR, 12 bytes), every frame crosses the
 * tap behind that header. Reads drop it in the native call; plain writes
 * send an all-zero one. Its point is UDP segmentation offload: a run of
 * datagrams from one peer (udp-core's sendSegmented) goes into the tap as
 * one frame, headers once and the payloads gathered from where they were
 * received, marked GSO_UDP_L4 with the segment size, and the kernel cuts it
 * into datagrams inside the namespace, finishing each checksum. One write
 * then carries up to 64 datagrams. Kernels before 6.2 refuse such frames
 * (EINVAL) on the first try, and the sink reports that it cannot segment.
 * The tap's own offloads stay off (no TUNSETOFFLOAD), so what the namespace
 * sends us always arrives as whole, checksummed frames.
 */
import { READABLE, Watcher, hasCode, readBatch, writeBatch, writeGather, writev } from "@x/syscalls";
import type { FrameSink } from "@x/flow";
import { EthHdr, UdpHdr } from "@x/l2";

/** struct virtio_net_hdr_mrg_rxbuf, the size pasta sets with TUNSETVNETHDRSZ. */
export const VNET_HDR_LEN = 12;
const VNET_F_NEEDS_CSUM = 1;
const VNET_GSO_UDP_L4 = 5;

/** Room for the largest frame a tap can carry (65520 MTU + Ethernet header), rounded. */
export const TAP_SLOT = 65536 + 64;

export type FramesHandler = (slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number) => void;

export class TapReader {
  private readonly slab: Uint8Array;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private watcher: Watcher | undefined;
  frames = 0;
  errors = 0;

  constructor(
    private readonly fd: number,
    private readonly onFrames: FramesHandler,
    private readonly batch = 64,
    /** Bytes left free before each frame (udp-core writes replies in place). */
    private readonly headroom = 4,
    /** VNET_HDR_LEN when the tap was opened with a virtio-net header. */
    private readonly vnetHeader = 0,
  ) {
    this.slab = new Uint8Array(batch * TAP_SLOT);
    this.offsets = new Uint32Array(batch);
    this.lengths = new Uint32Array(batch);
    for (let i = 0; i < batch; i++) this.offsets[i] = i * TAP_SLOT + headroom;
  }

  start(): void {
    this.watcher = new Watcher(this.fd, READABLE, () => this.drain());
  }

  /** Reads until the tap is empty (bounded rounds, so sockets get their turn). */
  drain(): void {
    for (let round = 0; round < 16; round++) {
      let n: number;
      try {
        n = readBatch(this.fd, this.slab, TAP_SLOT, this.headroom, this.batch, this.lengths, this.vnetHeader);
      } catch {
        this.errors++;
        return;
      }
      if (n === 0) return;
      this.frames += n;
      this.onFrames(this.slab, this.offsets, this.lengths, n);
      if (n < this.batch) return;
    }
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

export class TapSink implements FrameSink {
  private readonly desc: Uint32Array;
  /** The all-zero header in front of plain frames; empty without IFF_VNET_HDR. */
  private readonly plainHeader: Uint8Array;
  /** The header of an offload frame, rewritten per run. */
  private readonly gsoHeader = new Uint8Array(VNET_HDR_LEN);
  private readonly gsoView = new DataView(this.gsoHeader.buffer);
  /** Whether an offload frame ever went in: after that, a refusal is about the frame, not the kernel. */
  private segmentedOnce = false;
  frames = 0;
  dropped = 0;
  onFrame: ((frame: Uint8Array) => void) | undefined;
  /** Present only on a tap with a virtio-net header; see FrameSink. */
  readonly sendSegmented?: FrameSink["sendSegmented"];

  constructor(
    private readonly fd: number,
    capacity = 1024,
    vnetHeader = 0,
  ) {
    this.desc = new Uint32Array(capacity * 2);
    this.plainHeader = new Uint8Array(vnetHeader);
    if (vnetHeader === VNET_HDR_LEN) {
      this.sendSegmented = (slab, desc, count, segment, ipHeaderLen) => this.segmented(slab, desc, count, segment, ipHeaderLen);
    }
  }

  sendFrames(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    const n = Math.min(count, this.desc.length / 2);
    const prefix = this.plainHeader.length > 0 ? this.plainHeader : undefined;
    for (let i = 0; i < n; i++) {
      this.desc[2 * i] = offsets[i] as number;
      this.desc[2 * i + 1] = lengths[i] as number;
      if (this.onFrame) {
        const o = offsets[i] as number;
        this.onFrame(slab.subarray(o, o + (lengths[i] as number)));
      }
    }
    let done = 0;
    while (done < n) {
      let k: number;
      try {
        k = writeBatch(this.fd, slab, done === 0 ? this.desc : this.desc.subarray(2 * done), n - done, prefix);
      } catch {
        // The kernel refused a frame (EIO while the link is down, say).
        // FrameSink's contract is "the first `done` were written", so stop
        // here: this frame and the rest of the batch are udp-core's send
        // errors, and counted as dropped here.
        break;
      }
      if (k === 0) break;
      done += k;
    }
    this.frames += done;
    this.dropped += count - done;
    return done;
  }

  private segmented(slab: Uint8Array, desc: Uint32Array, count: number, segment: number, ipHeaderLen: number): number {
    // A capture wants the frames the namespace sees; let udp-core send them one by one.
    if (this.onFrame) return -1;
    const csumStart = EthHdr.LEN + ipHeaderLen;
    const h = this.gsoView;
    h.setUint8(0, VNET_F_NEEDS_CSUM);
    h.setUint8(1, VNET_GSO_UDP_L4);
    h.setUint16(2, csumStart + UdpHdr.LEN, true);
    h.setUint16(4, segment, true);
    h.setUint16(6, csumStart, true);
    h.setUint16(8, UdpHdr.CHECKSUM, true);
    h.setUint16(10, 0, true);
    let written: number;
    try {
      written = writeGather(this.fd, this.gsoHeader, slab, desc, count);
    } catch (e) {
      if (!this.segmentedOnce && hasCode(e, "EINVAL")) return -1;
      this.dropped += count;
      return 0;
    }
    if (written < 0) {
      this.dropped += count;
      return 0;
    }
    this.segmentedOnce = true;
    this.frames += count;
    return count;
  }

  /** Sends one frame (responders' replies). */
  sendOne(frame: Uint8Array): boolean {
    this.onFrame?.(frame);
    try {
      const ok = writev(this.fd, this.plainHeader.length > 0 ? [this.plainHeader, frame] : [frame]) > 0;
      if (ok) this.frames++;
      else this.dropped++;
      return ok;
    } catch {
      this.dropped++;
      return false;
    }
  }
}
