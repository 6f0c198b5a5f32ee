/**
 * Theory of operation.
 *
 * A scalar JavaScript loop sums about one 32-bit word per cycle at best;
 * a C compiler turns the same loop into 128-bit vector adds and runs three
 * times faster. WebAssembly's fixed-width SIMD is part of the platform in
 * Node (since 16.4) and in every current browser, so this module gets the
 * vector loop without a native addon or a build toolchain: it holds a
 * WebAssembly program of under 200 bytes, assembled here from named
 * opcodes on first use, and instantiates it synchronously (small modules
 * are allowed to compile synchronously even on a browser's main thread).
 *
 * The program owns one 64 KiB page of memory. The caller's bytes are
 * copied into it a page at a time (a copy runs at memcpy speed, about as
 * fast as the sum itself) and padded with zeros to a multiple of 64 bytes;
 * zero words add nothing to a ones' complement sum. The region is copied
 * to offset 0, so its first byte is always the high byte of a word and no
 * lane swapping is needed for odd starts.
 *
 * The loop loads four 16-byte vectors per step into four independent
 * accumulators. `i32x4.extadd_pairwise_i16x8_u` adds each vector's eight
 * little-endian 16-bit words pairwise into four 32-bit lanes (each below
 * 2^17); one page is 1024 vectors per accumulator, so no lane reaches 2^27
 * and no carry is lost. The lanes are summed into a 64-bit total and
 * returned as a double. WebAssembly memory is little-endian on every host,
 * so the folded result is byte-swapped once into the network-order sum
 * that `checksumPartial` promises.
 *
 * Where WebAssembly or its SIMD proposal is missing, or a content security
 * policy forbids compiling, `simdChecksum` reports itself unavailable and
 * the caller keeps its scalar loop.
 */

/** Only the slice of the WebAssembly JS API used here; the package compiles without DOM or Node typings. */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

interface WasmMemory {
  buffer: ArrayBuffer;
}

/** Bytes copied into WebAssembly memory per call: its single page. */
const PAGE = 65536;

/** Vectors loaded per loop step, times 16 bytes: the padding granule. */
const STEP = 64;

// Value and block types.
const T_I32 = 0x7f;
const T_F64 = 0x7c;
const T_V128 = 0x7b;
const T_FUNC = 0x60;
const BLOCK_EMPTY = 0x40;

// Plain opcodes.
const BLOCK = 0x02;
const LOOP = 0x03;
const END = 0x0b;
const BR_IF = 0x0d;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_EQZ = 0x45;
const I32_LT_U = 0x49;
const I32_ADD = 0x6a;
const I64_ADD = 0x7c;
const I64_EXTEND_I32_U = 0xad;
const F64_CONVERT_I64_U = 0xba;

// SIMD opcodes follow the 0xfd prefix as unsigned LEB128.
const SIMD_PREFIX = 0xfd;
const V128_LOAD = 0x00;
const I32X4_EXTRACT_LANE = 0x1b;
const I32X4_EXTADD_PAIRWISE_I16X8_U = 0x7f;
const I32X4_ADD = 0xae;

// Section ids.
const SEC_TYPE = 1;
const SEC_FUNCTION = 3;
const SEC_MEMORY = 5;
const SEC_EXPORT = 7;
const SEC_CODE = 10;
const EXPORT_FUNC = 0;
const EXPORT_MEMORY = 2;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128, as i32.const wants: 64 needs two bytes because bit 6 is the sign. */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function simd(op: number): number[] {
  return [SIMD_PREFIX, ...uleb(op)];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  return [...uleb(text.length), ...Array.from(text, (c) => c.charCodeAt(0))];
}

/**
 * The module: `memory` (one page) and `sum(end: i32) -> f64`, the sum of
 * the little-endian 16-bit words in memory[0, end), end a multiple of 64.
 */
function assemble(): Uint8Array {
  const END_PARAM = 0;
  const P = 1;
  const ACC = [2, 3, 4, 5];
  const locals = [2, ...uleb(1), T_I32, ...uleb(ACC.length), T_V128];

  const step: number[] = [];
  ACC.forEach((acc, k) => {
    step.push(LOCAL_GET, acc, LOCAL_GET, P);
    step.push(...simd(V128_LOAD), 4, ...uleb(k * 16)); // align 2^4, offset 16k
    step.push(...simd(I32X4_EXTADD_PAIRWISE_I16X8_U), ...simd(I32X4_ADD), LOCAL_SET, acc);
  });
  step.push(LOCAL_GET, P, I32_CONST, ...sleb(STEP), I32_ADD, LOCAL_TEE, P);
  step.push(LOCAL_GET, END_PARAM, I32_LT_U, BR_IF, 0);

  const body: number[] = [
    BLOCK, BLOCK_EMPTY,
    LOCAL_GET, END_PARAM, I32_EQZ, BR_IF, 0,
    LOOP, BLOCK_EMPTY, ...step, END,
    END,
  ];
  // Fold the accumulators into the first, then its four lanes into an i64.
  body.push(LOCAL_GET, ACC[0] as number);
  for (const acc of ACC.slice(1)) body.push(LOCAL_GET, acc, ...simd(I32X4_ADD));
  body.push(LOCAL_SET, ACC[0] as number);
  for (let lane = 0; lane < 4; lane++) {
    body.push(LOCAL_GET, ACC[0] as number, ...simd(I32X4_EXTRACT_LANE), lane, I64_EXTEND_I32_U);
    if (lane > 0) body.push(I64_ADD);
  }
  body.push(F64_CONVERT_I64_U, END);

  const func = [...locals, ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(SEC_TYPE, [1, T_FUNC, 1, T_I32, 1, T_F64]),
    ...section(SEC_FUNCTION, [1, 0]),
    ...section(SEC_MEMORY, [1, 0x00, 1]),
    ...section(SEC_EXPORT, [2, ...name('memory'), EXPORT_MEMORY, 0, ...name('sum'), EXPORT_FUNC, 0]),
    ...section(SEC_CODE, [1, ...uleb(func.length), ...func]),
  ]);
}

interface Kernel {
  memory: Uint8Array;
  sum: (end: number) => number;
}

/** undefined: not tried yet; null: unavailable here. */
let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return null;
  try {
    const bytes = assemble();
    if (!wasm.validate(bytes)) return null;
    const { exports } = new wasm.Instance(new wasm.Module(bytes));
    const memory = exports['memory'] as WasmMemory;
    const sum = exports['sum'] as (end: number) => number;
    return { memory: new Uint8Array(memory.buffer), sum };
  } catch {
    // Compilation refused (e.g. a content security policy without 'wasm-unsafe-eval').
    return null;
  }
}

function getKernel(): Kernel | null {
  if (kernel === undefined) kernel = load();
  return kernel;
}

/** Whether the vector path runs in this environment. */
export function simdChecksumAvailable(): boolean {
  return getKernel() !== null;
}

/**
 * Unfolded sum of `bytes[start, end)` as little-endian 16-bit words (an odd
 * final byte taken as the low byte of a zero-padded word), or -1 where the
 * vector path is unavailable. The caller folds and byte-swaps.
 */
export function simdSumLittleEndian(bytes: Uint8Array, start: number, end: number): number {
  const k = getKernel();
  if (k === null) return -1;
  const { memory, sum } = k;
  let total = 0;
  for (let at = start; at < end; at += PAGE) {
    const n = Math.min(PAGE, end - at);
    memory.set(bytes.subarray(at, at + n), 0);
    const padded = (n + STEP - 1) & ~(STEP - 1);
    if (padded > n) memory.fill(0, n, padded);
    total += sum(padded);
  }
  return total;
}
