/**
 * Starting an app's bundle from V8's code cache.
 *
 * Theory of operation
 *
 * Node 20 compiles ES modules from their source at every start, and it
 * builds a facade for every built-in module an ES module imports, which
 * runs every lazy getter of that built-in: importing `node:fs` loads its
 * promises, streams, watchers and directory code, importing `node:util`
 * its argument parser. For passt that was about 35 ms of an 80 ms start
 * before its socket listened. So each app ships its code as one CommonJS
 * bundle (`dist/app.cjs`), whose `require` of a built-in runs no getter,
 * and its command (`dist/cli.js`) is this loader, which compiles the bundle
 * through `vm.Script` with the code cache the build wrote beside it
 * (`dist/app.cjs.cache`). The build makes that cache from a training start
 * (tooling/launcher/code-cache.mjs): written as the process exits, it holds
 * the bytecode of every function the start compiled, so a start like it
 * compiles almost nothing.
 *
 * V8 checks a cache against its own version and flags, and against the
 * source only by its length. The cache file therefore begins with the
 * source it was made from, compared byte for byte (a memcmp, microseconds)
 * before the rest is offered to V8; a modification time would not do, since
 * a build cache restores files with new ones. A cache V8 refuses (another
 * Node, other V8 flags) costs only the compile that would have happened
 * anyway.
 *
 * The loader reaches built-ins through `require` too, for the same facade.
 *
 * Variables: `PASST_TS_CODE_CACHE=off` compiles from source (to compare);
 * `PASST_TS_CODE_CACHE_OUT=PATH` makes the start a training one, whose
 * cache goes to PATH at exit; `PASST_TS_CODE_CACHE_REPORT=1` prints to
 * stderr whether the cache was used.
 */
import { createRequire } from "node:module";
import type * as Fs from "node:fs";
import type * as Vm from "node:vm";

const load = createRequire(import.meta.url);
const fs = load("node:fs") as typeof Fs;
const vm = load("node:vm") as typeof Vm;

/** The cache file: u32 little-endian source length, the source, V8's data. */
const LENGTH_BYTES = 4;

/** What became of the cache, for PASST_TS_CODE_CACHE_REPORT. */
export type CacheUse = "accepted" | "rejected" | "stale" | "absent" | "off";

/** Runs the CommonJS bundle at `bundle`, as Node's own loader would, from its code cache when one fits. */
export function bootBundle(bundle: URL): void {
  const file = decodeURIComponent(bundle.pathname);
  const bytes = fs.readFileSync(file);
  const source = bytes.toString("utf8");
  const env = process.env;
  const off = env.PASST_TS_CODE_CACHE === "off";
  const found = off ? undefined : readCache(`${file}.cache`, bytes);
  const cachedData = found instanceof Uint8Array ? found : undefined;
  // The wrapper is Node's own for CommonJS; a `#!` line becomes a comment of
  // the same length, so that lines and columns in stack traces stay true.
  const body = source.startsWith("#!") ? `//${source.slice(2)}` : source;
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${body}\n})`, {
    filename: file,
    cachedData,
  });
  const use: CacheUse = off ? "off" : cachedData === undefined ? (found as CacheUse) : script.cachedDataRejected ? "rejected" : "accepted";
  if (env.PASST_TS_CODE_CACHE_REPORT === "1") process.stderr.write(`code cache: ${use}\n`);
  const out = env.PASST_TS_CODE_CACHE_OUT;
  if (out !== undefined && out !== "") process.on("exit", () => writeCache(out, script, bytes));
  // Not for what the app starts (pasta's command).
  delete env.PASST_TS_CODE_CACHE_OUT;
  delete env.PASST_TS_CODE_CACHE_REPORT;
  delete env.PASST_TS_CODE_CACHE;
  const module = { exports: {} };
  const wrapper = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    dirname: string,
  ) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, file.slice(0, file.lastIndexOf("/")));
}

function readCache(path: string, source: Buffer): Buffer | "absent" | "stale" {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch {
    return "absent";
  }
  const end = LENGTH_BYTES + source.length;
  if (bytes.length <= end || bytes.readUInt32LE(0) !== source.length) return "stale";
  if (!bytes.subarray(LENGTH_BYTES, end).equals(source)) return "stale";
  return bytes.subarray(end);
}

/** At exit: the cache of all compiled so far, put in place by rename so a reader never sees half of it. */
function writeCache(path: string, script: Vm.Script, source: Buffer): void {
  const data = script.createCachedData();
  const head = Buffer.alloc(LENGTH_BYTES);
  head.writeUInt32LE(source.length, 0);
  const tmp = `${path}.${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat([head, source, data]));
  fs.renameSync(tmp, path);
}
