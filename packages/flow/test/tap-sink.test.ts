import { describe, expect, it } from 'vitest';
import { TapSink, VNET_HDR_LEN, type TapWriter } from '../src/index.js';

class Tap implements TapWriter {
  readonly writes: Uint8Array[] = [];
  refuseGather: string | undefined;
  acceptFrames = Infinity;
  writeBatch(slab: Uint8Array, desc: Uint32Array, count: number, prefix: Uint8Array | undefined): number {
    const n = Math.min(count, this.acceptFrames);
    for (let i = 0; i < n; i++) {
      const f = slab.subarray(desc[2 * i] as number, (desc[2 * i] as number) + (desc[2 * i + 1] as number));
      this.writes.push(Uint8Array.from([...(prefix ?? []), ...f]));
    }
    return n;
  }
  writeGather(prefix: Uint8Array, slab: Uint8Array, desc: Uint32Array, count: number): number {
    if (this.refuseGather) throw Object.assign(new Error(this.refuseGather), { code: this.refuseGather });
    const parts = [...prefix];
    for (let i = 0; i < count; i++) parts.push(...slab.subarray(desc[2 * i] as number, (desc[2 * i] as number) + (desc[2 * i + 1] as number)));
    this.writes.push(Uint8Array.from(parts));
    return parts.length;
  }
  writev(parts: Uint8Array[]): number {
    const all = parts.flatMap((p) => [...p]);
    this.writes.push(Uint8Array.from(all));
    return all.length;
  }
}

const slab = Uint8Array.from({ length: 256 }, (_, i) => i);

describe('TapSink', () => {
  it('writes frames behind an all-zero virtio-net header, and counts what the tap refused', () => {
    const tap = new Tap();
    const sink = new TapSink(tap, 16, VNET_HDR_LEN);
    expect(sink.sendFrames(slab, Uint32Array.of(4, 40), Uint32Array.of(10, 20), 2)).toBe(2);
    expect(tap.writes.map((w) => w.length)).toEqual([22, 32]);
    expect([...(tap.writes[0] as Uint8Array).subarray(0, 12)]).toEqual(new Array(12).fill(0));
    tap.acceptFrames = 0;
    expect(sink.sendFrames(slab, Uint32Array.of(4), Uint32Array.of(10), 1)).toBe(0);
    expect(sink.dropped).toBe(1);
  });

  it('sends a run as one offload frame marked GSO_UDP_L4 with its segment size and checksum offsets', () => {
    const tap = new Tap();
    const sink = new TapSink(tap, 16, VNET_HDR_LEN);
    const desc = Uint32Array.of(0, 14 + 20 + 8 + 100, 150, 100);
    expect(sink.sendSegmented?.(slab, desc, 2, 100, 20)).toBe(2);
    const h = new DataView((tap.writes[0] as Uint8Array).buffer);
    expect(h.getUint8(0)).toBe(1); // NEEDS_CSUM
    expect(h.getUint8(1)).toBe(5); // GSO_UDP_L4
    expect(h.getUint16(2, true)).toBe(14 + 20 + 8); // header length
    expect(h.getUint16(4, true)).toBe(100); // segment
    expect(h.getUint16(6, true)).toBe(34); // checksum start
    expect(h.getUint16(8, true)).toBe(6); // checksum offset in UDP
    expect((tap.writes[0] as Uint8Array).length).toBe(12 + 142 + 100);
  });

  it('says it cannot segment when the kernel refuses the first offload frame, and drops (not gives up) after one went in', () => {
    const tap = new Tap();
    tap.refuseGather = 'EINVAL';
    const sink = new TapSink(tap, 16, VNET_HDR_LEN);
    const desc = Uint32Array.of(0, 142, 150, 100);
    expect(sink.sendSegmented?.(slab, desc, 2, 100, 20)).toBe(-1);
    tap.refuseGather = undefined;
    expect(sink.sendSegmented?.(slab, desc, 2, 100, 20)).toBe(2);
    tap.refuseGather = 'EINVAL';
    expect(sink.sendSegmented?.(slab, desc, 2, 100, 20)).toBe(0);
    expect(sink.dropped).toBe(2);
  });

  it('never segments with a capture attached, and has no offload at all without a virtio-net header', () => {
    const tap = new Tap();
    const sink = new TapSink(tap, 16, VNET_HDR_LEN);
    const seen: number[] = [];
    sink.onFrame = (f) => void seen.push(f.length);
    expect(sink.sendSegmented?.(slab, Uint32Array.of(0, 142), 1, 100, 20)).toBe(-1);
    expect(sink.sendOne(slab.subarray(0, 60))).toBe(true);
    expect(seen).toEqual([60]);
    expect(new TapSink(new Tap(), 16, 0).sendSegmented).toBeUndefined();
  });
});
