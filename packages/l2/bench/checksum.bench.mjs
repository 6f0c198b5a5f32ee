// Benchmark: our Internet checksum (dist build) vs the same algorithm in C compiled with cc -O2.
// Run with `pnpm bench` (builds first). Not part of `vitest run`.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { checksumAccelerated, checksumPartial, checksumPartialPortable } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const LEN = 65536;
const ITERS = Number(process.env.ITERS ?? 20000);

const bin = '/tmp/l2-checksum-bench';
execFileSync('cc', ['-O2', '-o', bin, join(here, 'checksum.c')], { stdio: 'inherit' });
// For context only: the same C without the compiler's auto-vectorisation,
// i.e. the scalar loop that JavaScript can express. The target is judged
// against the vectorised build above.
const binScalar = '/tmp/l2-checksum-bench-scalar';
execFileSync('cc', ['-O2', '-fno-tree-vectorize', '-o', binScalar, join(here, 'checksum.c')], { stdio: 'inherit' });

const buf = new Uint8Array(LEN);
let seed = 12345;
for (let i = 0; i < LEN; i++) {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  buf[i] = seed >>> 24;
}

function runC(path = bin) {
  const out = execFileSync(path, [String(ITERS)], { encoding: 'utf8' });
  const sum = Number(/sum (\d+)/.exec(out)?.[1]);
  const gbs = Number(/GB\/s ([\d.]+)/.exec(out)?.[1]);
  return { sum, gbs };
}

function runJs(sum = checksumPartial) {
  let sink = 0;
  for (let k = 0; k < ITERS / 4; k++) sink += sum(buf); // warm up / tier up
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < ITERS; k++) {
    buf[k & 1023] ^= 1;
    sink += sum(buf);
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  return { gbs: (LEN * ITERS) / dt / 1e9, sink };
}

// The machine may be shared, so run both sides several times, interleaved, and keep each side's best.
const ROUNDS = Number(process.env.ROUNDS ?? 5);
let bestJs = 0;
let bestC = 0;
let bestScalar = 0;
let bestPortable = 0;
for (let r = 0; r < ROUNDS; r++) {
  buf.fill(0);
  for (let i = 0, s = 12345; i < LEN; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    buf[i] = s >>> 24;
  }
  const js = runJs();
  const jsSum = checksumPartial(buf);
  // The portable loop flips the same bytes an even number of times more, so it leaves the buffer as it found it.
  bestPortable = Math.max(bestPortable, runJs(checksumPartialPortable).gbs);
  runJs(checksumPartialPortable);
  const c = runC();
  // Both sides flip the same bytes the same number of times, so the final sums must agree.
  if (c.sum !== jsSum) {
    console.error(`checksum mismatch: C ${c.sum} vs JS ${jsSum}`);
    process.exit(1);
  }
  bestJs = Math.max(bestJs, js.gbs);
  bestC = Math.max(bestC, c.gbs);
  bestScalar = Math.max(bestScalar, runC(binScalar).gbs);
}
console.log(`Internet checksum over ${LEN / 1024} KiB buffers, ${ITERS} iterations, best of ${ROUNDS} rounds`);
console.log(`  TypeScript (checksumPartial, ${checksumAccelerated() ? 'WebAssembly SIMD' : 'portable loop'}): ${bestJs.toFixed(2)} GB/s`);
console.log(`  C (cc -O2, auto-vectorised):  ${bestC.toFixed(2)} GB/s`);
console.log(`  ratio TS/C: ${(bestJs / bestC).toFixed(2)} (target >= 0.5)`);
console.log(`  for context: the portable scalar loop (checksumPartialPortable) ${bestPortable.toFixed(2)} GB/s, ${(bestPortable / bestC).toFixed(2)} of C;`);
console.log(`               C without auto-vectorisation (-fno-tree-vectorize) ${bestScalar.toFixed(2)} GB/s`);
