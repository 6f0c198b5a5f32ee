/**
 * Frames to and from a tap device (pasta): the descriptor side.
 *
 * A tap gives one frame per read(). The reader drains the device in
 * batches into a slab allocated once, and hands the batch on; with a
 * virtio-net header (IFF_VNET_HDR) the native read drops it. Frames are
 * packed one after another (readPacked), as passt's stream buffer holds
 * them, not one 64 KiB slot each: the slab is sized in bytes (1 MiB and
 * room for one largest frame), so a burst of small frames touches a few
 * pages, and a flood of 64 KiB frames touches 1 MiB where 64 slots took
 * 4 MiB, resident for the process's life. The
 * writing side, with the offload frames, is @x/flow's TapSink; `TapSink`
 * is bound to a descriptor here. The tap's own offloads stay off (no
 * TUNSETOFFLOAD), so what the namespace sends us always arrives as whole,
 * checksummed frames.
 */
import { READABLE, Watcher, readPacked, writeBatch, writeGather, writev } from "@x/syscalls";
import { TapSink as LinkTapSink, VNET_HDR_LEN } from "@x/flow";

export { VNET_HDR_LEN };

/** Room for the largest frame a tap can carry (65520 MTU + Ethernet header), rounded. */
export const TAP_SLOT = 65536 + 64;

/** Bytes of frames one batch may hold, besides room for one largest frame. */
export const TAP_BATCH_BYTES = 1 << 20;

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
    /** Most frames per batch. */
    private readonly batch = 128,
    /** Bytes left free before each frame (udp-core writes replies in place). */
    private readonly headroom = 4,
    /** VNET_HDR_LEN when the tap was opened with a virtio-net header. */
    private readonly vnetHeader = 0,
    bytes = TAP_BATCH_BYTES,
  ) {
    this.slab = new Uint8Array(bytes + TAP_SLOT + 64);
    this.offsets = new Uint32Array(batch);
    this.lengths = new Uint32Array(batch);
  }

  start(): void {
    this.watcher = new Watcher(this.fd, READABLE, () => this.drain());
  }

  /** Reads until the tap is empty (bounded rounds, so sockets get their turn). */
  drain(): void {
    for (let round = 0; round < 16; round++) {
      let n: number;
      try {
        n = readPacked(this.fd, this.slab, TAP_SLOT, this.headroom, this.batch, this.offsets, this.lengths, this.vnetHeader);
      } catch {
        this.errors++;
        return;
      }
      if (n === 0) return;
      this.frames += n;
      this.onFrames(this.slab, this.offsets, this.lengths, n);
      if (n < this.batch && !this.fullAfter(n)) return;
    }
  }

  /** Whether a batch of n frames ended for want of room, not of frames (readPacked's rule). */
  private fullAfter(n: number): boolean {
    const end = (this.offsets[n - 1] as number) + (this.lengths[n - 1] as number);
    return Math.ceil(end / 64) * 64 + this.headroom + TAP_SLOT > this.slab.length;
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

/** @x/flow's TapSink bound to the tap `fd`; `vnetHeader` is VNET_HDR_LEN when it was opened with one. */
export class TapSink extends LinkTapSink {
  constructor(fd: number, capacity = 1024, vnetHeader = 0) {
    super(
      {
        writeBatch: (slab, desc, count, prefix) => writeBatch(fd, slab, desc, count, prefix),
        writeGather: (prefix, slab, desc, count) => writeGather(fd, prefix, slab, desc, count),
        writev: (parts) => writev(fd, parts),
      },
      capacity,
      vnetHeader,
    );
  }
}
