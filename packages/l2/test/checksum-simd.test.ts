// The WebAssembly SIMD checksum against a byte-at-a-time reference and the portable
// scalar path: every alignment, lengths around the 64-byte padding granule and the
// 64 KiB page boundary, all-ones data (largest lane sums) and random data.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checksumAccelerated, checksumPartial, checksumPartialPortable } from '../src/index.js';

function reference(b: Uint8Array, start: number, end: number): number {
  let acc = 0;
  for (let i = start; i < end; i += 2) acc += ((b[i] as number) << 8) | (i + 1 < end ? (b[i + 1] as number) : 0);
  while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return acc;
}

function noise(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  return b;
}

describe('checksum, WebAssembly SIMD path', () => {
  it('is in use on Node 20', () => {
    // Node has had WebAssembly SIMD since 16.4; if this fails the fast path silently fell back.
    expect(checksumAccelerated()).toBe(true);
  });

  it('agrees with the reference at every alignment and around the padding granule', () => {
    const big = noise(700, 7);
    for (let a = 0; a < 17; a++) {
      for (const n of [127, 128, 129, 191, 192, 193, 255, 256, 257, 320, 511, 600]) {
        const e = Math.min(big.length, a + n);
        expect(checksumPartial(big, a, e), `${a}..${e}`).toBe(reference(big, a, e));
        expect(checksumPartial(big.subarray(a, e)), `subarray ${a}..${e}`).toBe(reference(big, a, e));
      }
    }
  });

  it('carries across 64 KiB pages and keeps lanes exact on all-ones data', () => {
    const ones = new Uint8Array(3 * 65536 + 77).fill(0xff);
    for (const [a, e] of [[0, 65536], [1, 65537], [0, 65537], [3, ones.length], [65535, 2 * 65536 + 1]] as const) {
      expect(checksumPartial(ones, a, e), `ones ${a}..${e}`).toBe(reference(ones, a, e));
    }
    const rand = noise(5 * 65536 + 3, 99);
    for (const [a, e] of [[0, rand.length], [1, rand.length], [65535, 4 * 65536 + 1], [12, 65536 + 12]] as const) {
      expect(checksumPartial(rand, a, e), `noise ${a}..${e}`).toBe(reference(rand, a, e));
    }
  });

  it('equals the portable path on random buffers, offsets and lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(), fc.nat(), (b, x, y) => {
        const start = b.length === 0 ? 0 : x % b.length;
        const end = start + (b.length - start === 0 ? 0 : y % (b.length - start + 1));
        expect(checksumPartial(b, start, end)).toBe(checksumPartialPortable(b, start, end));
        expect(checksumPartial(b, start, end)).toBe(reference(b, start, end));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves the caller buffer untouched and handles views into a shared buffer', () => {
    const backing = noise(4096, 3);
    const before = backing.slice();
    const view = new Uint8Array(backing.buffer, 333, 2000);
    expect(checksumPartial(view)).toBe(reference(backing, 333, 2333));
    expect(backing).toEqual(before);
  });

  it('falls back to the portable loop where WebAssembly is absent', () => {
    // A second Node with the WebAssembly global hidden loads the built package
    // (the test task runs after the build) and must still sum correctly.
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const script = `
      const { checksumAccelerated, checksumPartial } = await import(${JSON.stringify(dist)});
      const b = new Uint8Array(70001);
      for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
      console.log(JSON.stringify({ wasm: typeof WebAssembly, accelerated: checksumAccelerated(), sum: checksumPartial(b, 1) }));`;
    const out = execFileSync(process.execPath, ['--no-expose-wasm', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      timeout: 20_000,
    });
    const b = new Uint8Array(70001);
    for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
    expect(JSON.parse(out)).toEqual({ wasm: 'undefined', accelerated: false, sum: reference(b, 1, b.length) });
  });
});
