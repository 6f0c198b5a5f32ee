/**
 * Theory of operation.
 *
 * The frame sink of a tap device (pasta's link), with the device itself
 * behind a `TapWriter` so that no descriptor lives here: the embedder
 * binds the three writes to its tap (packages/engine, tap-io.ts).
 *
 * A tap takes one frame per write(). Frames go out with one native call
 * per batch; when the tap's queue is full, frames are dropped and counted,
 * never waited for: a tap never blocks, and UDP tolerates loss better than
 * a stalled process.
 *
 * With a virtio-net header (IFF_VNET_HDR, 12 bytes), every frame crosses
 * the tap behind that header; plain frames carry an all-zero one. Its point
 * is UDP segmentation offload: a run of datagrams from one peer (the UDP
 * engine's sendSegmented) goes into the tap as one frame, headers once and
 * the payloads gathered from where they were received, marked GSO_UDP_L4
 * with the segment size, and the kernel cuts it into datagrams inside the
 * namespace, finishing each checksum. One write then carries up to 64
 * datagrams. Kernels before 6.2 refuse such frames (EINVAL) on the first
 * try, and the sink then reports that it cannot segment. With a capture
 * attached (onFrame), it never segments, so that the capture shows the
 * frames the namespace receives.
 */
import { EthHdr, UdpHdr } from '@x/l2';
import type { FrameSink } from './platform.js';
import { errorCode } from './sockets.js';

/** struct virtio_net_hdr_mrg_rxbuf, the size pasta sets with TUNSETVNETHDRSZ. */
export const VNET_HDR_LEN = 12;
const VNET_F_NEEDS_CSUM = 1;
const VNET_GSO_UDP_L4 = 5;

/** The writes a tap sink needs, bound to one tap by the embedder. */
export interface TapWriter {
  /** One write per frame ((offset, length) pairs in `desc`), each behind `prefix`: how many went. Throws when the kernel refuses one. */
  writeBatch(slab: Uint8Array, desc: Uint32Array, count: number, prefix: Uint8Array | undefined): number;
  /** One write of `prefix` and the `count` ranges of `desc`: bytes, -1 would block. Throws with an errno `code`. */
  writeGather(prefix: Uint8Array, slab: Uint8Array, desc: Uint32Array, count: number): number;
  /** One write of the parts: bytes, -1 would block. */
  writev(parts: Uint8Array[]): number;
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
  readonly sendSegmented?: FrameSink['sendSegmented'];

  constructor(
    private readonly tap: TapWriter,
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
        k = this.tap.writeBatch(slab, done === 0 ? this.desc : this.desc.subarray(2 * done), n - done, prefix);
      } catch {
        // The kernel refused a frame (EIO while the link is down, say).
        // FrameSink's contract is "the first `done` were written", so stop
        // here: this frame and the rest of the batch are the transport's
        // send errors, and counted as dropped here.
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
      written = this.tap.writeGather(this.gsoHeader, slab, desc, count);
    } catch (e) {
      if (!this.segmentedOnce && errorCode(e) === 'EINVAL') return -1;
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
      const ok = this.tap.writev(this.plainHeader.length > 0 ? [this.plainHeader, frame] : [frame]) > 0;
      if (ok) this.frames++;
      else this.dropped++;
      return ok;
    } catch {
      this.dropped++;
      return false;
    }
  }
}
