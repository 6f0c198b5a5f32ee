#!/usr/bin/env node
// The cost of opening a UDP binding for a new flow, per flow, side by side:
// ours through @x/engine's socket layer (socket, bind and a libuv watcher,
// which is what udp-core asks of it for every new source port), and the
// same system calls in C as the C passt makes them (socket, bind,
// epoll_ctl). Each runs N bindings on 127.0.0.1 in a network namespace of
// its own, five rounds, and the best round is kept (the cost is CPU-bound).
//
//   node tooling/bench/bindings.mjs [N]          (as root: it makes the namespace)
//   BINDINGS_NO_RESERVE=1 ...                   ours without the descriptor table grown ahead
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const N = Number(process.argv[2] ?? 10000);
const ROUNDS = 5;

if (process.argv[2] === "--child") {
  // In the namespace: ours, N bindings, then every one closed.
  // The engine by path: the bench package does not depend on the workspace's libraries.
  const { SyscallSockets } = await import(new URL("../../packages/engine/dist/index.js", import.meta.url).href);
  const { reserveDescriptors } = await import(new URL("../../packages/syscalls/dist/index.js", import.meta.url).href);
  const n = Number(process.argv[3]);
  // What the apps do at start-up (sessionFor), here before the clock starts:
  // the descriptor table grown once, not at each doubling (see fdtable.rs).
  if (!process.env.BINDINGS_NO_RESERVE) reserveDescriptors(n + 64, false);
  const s = new SyscallSockets(undefined, {});
  const lo = Uint8Array.of(127, 0, 0, 1);
  const handles = new Array(n);
  const noop = () => {};
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const h = s.open({ family: 4, side: "host", address: lo, port: 0, outbound: true });
    s.watch(h, noop);
    handles[i] = h;
  }
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) s.close(handles[i]);
  const t2 = process.hrtime.bigint();
  console.log(`open_ns ${Number(t1 - t0) / n} close_ns ${Number(t2 - t1) / n}`);
  process.exit(0);
}

const ns = `bindcost${process.pid}`;
const bin = path.join(os.tmpdir(), `bindcost-${process.pid}`);
execFileSync("cc", ["-O2", "-Wall", "-o", bin, path.join(HERE, "lib/bindcost.c")]);
execFileSync("ip", ["netns", "add", ns]);
try {
  execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
  const inNs = (argv) => execFileSync("ip", ["netns", "exec", ns, "prlimit", `--nofile=${N + 1024}`, ...argv], { encoding: "utf8" });
  const parse = (out) => {
    const m = out.match(/open_ns ([\d.]+) close_ns ([\d.]+)/);
    if (!m) throw new Error(`unexpected output: ${out}`);
    return { open: Number(m[1]), close: Number(m[2]) };
  };
  const best = { ours: { open: Infinity, close: Infinity }, c: { open: Infinity, close: Infinity } };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [id, argv] of [
      ["ours", [process.execPath, fileURLToPath(import.meta.url), "--child", String(N)]],
      ["c", [bin, String(N), "127.0.0.1"]],
    ]) {
      const x = parse(inNs(argv));
      best[id].open = Math.min(best[id].open, x.open);
      best[id].close = Math.min(best[id].close, x.close);
    }
  }
  const f = (v) => (v / 1000).toFixed(2);
  console.log(`UDP binding cost, ${N} bindings, best of ${ROUNDS} rounds (µs per binding)`);
  console.log(`| step | ours | C | ours/C |\n| --- | --- | --- | --- |`);
  for (const k of ["open", "close"]) console.log(`| ${k === "open" ? "socket + bind + watch" : "unwatch + close"} | ${f(best.ours[k])} | ${f(best.c[k])} | ${(best.ours[k] / best.c[k]).toFixed(2)} |`);
} finally {
  execFileSync("ip", ["netns", "del", ns]);
  fs.rmSync(bin, { force: true });
}
