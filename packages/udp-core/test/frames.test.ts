import { describe, expect, it } from 'vitest';
import { buildFrame, FRAME_SLOT_SIZE, frameLength, PAYLOAD_AT, type FrameFields } from '../src/frames.js';
import { IPV4, IPV6 } from '../src/index.js';
import { LruList } from '@x/flow';
import { ip, parseFrame } from './fakes.js';

function fields(src: string, dst: string, checksum4 = false): FrameFields {
  return {
    guestMac: Uint8Array.of(2, 0, 0, 0, 0, 2),
    ourMac: Uint8Array.of(2, 0, 0, 0, 0, 1),
    srcAddr: ip(src),
    srcAt: 0,
    dstAddr: ip(dst),
    dstAt: 0,
    srcPort: 65535,
    dstPort: 1,
    udpChecksum4: checksum4,
  };
}

describe('buildFrame', () => {
  const cases = [
    ['IPv4', IPV4, '203.0.113.7', '198.51.100.2'],
    ['IPv6', IPV6, '2001:db8:1::7', '2001:db8::2'],
  ] as const;
  for (const [name, fam, src, dst] of cases) {
    for (const len of [0, 1, 2, 1472, fam.family === 4 ? 65507 : 65527]) {
      it(`${name}: ${len}-byte payload built in place parses back with valid checksums`, () => {
        const slab = new Uint8Array(2 * FRAME_SLOT_SIZE);
        const base = FRAME_SLOT_SIZE; // second slot
        for (let i = 0; i < len; i++) slab[base + PAYLOAD_AT + i] = (i * 13 + 5) & 0xff;
        const start = buildFrame(fam, slab, base, len, fields(src, dst, true));
        expect(start).toBeGreaterThanOrEqual(base + 4);
        const f = parseFrame(slab.subarray(start, start + frameLength(fam, len)));
        expect(f).toMatchObject({ family: fam.family, src, dst, srcPort: 65535, dstPort: 1 });
        expect(f.udpChecksum).not.toBe(0);
        expect(f.frame.length).toBe(frameLength(fam, len));
      });
    }
  }

  it('leaves the IPv4 UDP checksum at 0 unless asked', () => {
    const slab = new Uint8Array(FRAME_SLOT_SIZE);
    const start = buildFrame(IPV4, slab, 0, 3, fields('203.0.113.7', '198.51.100.2'));
    expect(parseFrame(slab.subarray(start, start + frameLength(IPV4, 3))).udpChecksum).toBe(0);
  });

  it('rebuilds correctly over a slot that held a different frame before', () => {
    const slab = new Uint8Array(FRAME_SLOT_SIZE);
    buildFrame(IPV6, slab, 0, 100, fields('2001:db8:1::7', '2001:db8::2'));
    const start = buildFrame(IPV4, slab, 0, 10, fields('203.0.113.9', '198.51.100.3', true));
    expect(parseFrame(slab.subarray(start, start + frameLength(IPV4, 10)))).toMatchObject({
      src: '203.0.113.9',
      dst: '198.51.100.3',
    });
  });
});

describe('LruList', () => {
  it('orders by last use and sweeps only what expired', () => {
    const l = new LruList(10);
    l.touch(3, 0);
    l.touch(5, 10);
    l.touch(7, 20);
    l.touch(3, 30);
    expect(l.oldest).toBe(5);
    const expired: number[] = [];
    l.sweep(125, 100, (s) => {
      expired.push(s);
      l.remove(s);
    });
    expect(expired).toEqual([5, 7]);
    expect(l.size).toBe(1);
    l.remove(3);
    expect(l.oldest).toBe(-1);
    expect(l.size).toBe(0);
  });
});
