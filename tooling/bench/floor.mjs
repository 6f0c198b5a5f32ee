#!/usr/bin/env node
// The latency floor of a Node relay, side by side with a C one.
//
// pasta's round trip is two wake-ups of its process (the request, then the
// reply). How much of our gap to the C implementation is the runtime's own,
// whatever the translator does? This measures the smallest relay that has
// pasta's shape (lib/floor-relay.c and lib/floor-relay.mjs: a loopback
// listener, a connected socket to a sockperf server, recvmmsg and sendmmsg
// per wake-up, nothing else) in C and in Node on our binding, with sockperf
// ping-pong through each and straight to the server. Back to back, and at
// 100 requests a second, where each wake-up finds the caches cold (the
// ICMP echo rows ping every 10 ms).
//
//   node tooling/bench/floor.mjs [--runs N] [--seconds S] [--out DIR]   (as root: it makes the namespace)
//
// The order of the relays rotates from run to run; cells are the median
// over runs of sockperf's median and p99 round trip (twice its one-way
// figure). Writes DIR/floor-latest.{json,md} when --out is given.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cleanup, installSignalHandlers, onCleanup, run, sleep, startProc, until } from "./lib/proc.mjs";
import { stats } from "./lib/report.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const RUNS = Number(arg("--runs", 5));
const SECONDS = Number(arg("--seconds", 4));
const OUT = arg("--out", null);
const SERVER = 11111;
const LISTEN = 7000;

// Everything started is killed by PID, and the namespace and the binary
// removed, on exit, on errors and on SIGINT/SIGTERM (lib/proc.mjs).
installSignalHandlers();
const ns = `floor${process.pid}`;
const cbin = path.join(os.tmpdir(), `floor-relay-${process.pid}`);
execFileSync("cc", ["-O2", "-Wall", "-o", cbin, path.join(HERE, "lib/floor-relay.c")]);
onCleanup(() => fs.rmSync(cbin, { force: true }));
execFileSync("ip", ["netns", "add", ns]);
onCleanup(() => execFileSync("ip", ["netns", "del", ns]));
execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
const inNs = (argv) => ["ip", "netns", "exec", ns, ...argv];

const relays = [
  { id: "direct", title: "no relay (sockperf to its server)", argv: null },
  { id: "c", title: "C relay (epoll)", argv: [cbin, `${LISTEN}`, `${SERVER}`] },
  { id: "node-poll", title: "Node relay, a libuv poll per socket", argv: [process.execPath, path.join(HERE, "lib/floor-relay.mjs"), `${LISTEN}`, `${SERVER}`, "poll"] },
  { id: "node-epoll", title: "Node relay, one EpollSet", argv: [process.execPath, path.join(HERE, "lib/floor-relay.mjs"), `${LISTEN}`, `${SERVER}`, "epoll"] },
];
const paces = [
  { id: "b2b", title: "back to back", extra: [] },
  { id: "100ps", title: "100 requests/s", extra: ["--mps", "100"] },
];

/** A relay started in the namespace, once it says it is ready. */
async function startRelay(argv) {
  const rec = startProc(inNs(argv));
  await until(() => {
    if (!rec.alive()) throw new Error(`${argv.join(" ")} exited: ${rec.err}`);
    return rec.out.includes("ready");
  }, 10_000, `${argv[0]} to start`);
  return rec;
}

/** sockperf's median and p99, as round trips in µs. */
async function pingPong(port, extra) {
  const r = await run(inNs(["sockperf", "pp", "-i", "127.0.0.1", "-p", `${port}`, "-t", `${SECONDS}`, "-m", "64", ...extra]), (SECONDS + 20) * 1000);
  const pct = (p) => {
    const m = r.out.match(new RegExp(`percentile ${p} =\\s+([\\d.]+)`));
    if (!m) throw new Error(`no percentile ${p} in sockperf's output:\n${r.out}${r.err}`);
    return 2 * Number(m[1]);
  };
  return { median: pct("50.000"), p99: pct("99.000") };
}

const samples = {};
startProc(inNs(["sockperf", "sr", "-i", "127.0.0.1", "-p", `${SERVER}`]));
await sleep(500);
for (let k = 0; k < RUNS; k++) {
  const order = relays.map((_, i) => relays[(i + k) % relays.length]);
  for (const r of order) {
    const p = r.argv ? await startRelay(r.argv) : null;
    try {
      for (const pace of paces) (samples[`${r.id}:${pace.id}`] ??= []).push(await pingPong(p ? LISTEN : SERVER, pace.extra));
    } finally {
      await p?.stop();
    }
  }
}

const cell = (key, f) => stats(samples[key].map((s) => s[f])).median;
const lines = [
  "# The latency floor of a Node relay",
  "",
  `\`node tooling/bench/floor.mjs --runs ${RUNS} --seconds ${SECONDS}\`, ${new Date().toISOString()}, kernel ${os.release()}, Node ${process.version}.`,
  "sockperf ping-pong, 64 B, through the smallest relay of pasta's shape (tooling/bench/lib/floor-relay.{c,mjs}); round trip in µs, median over runs.",
  "",
  "| relay | pace | median | p99 | median / C relay | p99 / C relay |",
  "| --- | --- | --- | --- | --- | --- |",
];
const result = {};
for (const pace of paces) {
  const cMed = cell(`c:${pace.id}`, "median");
  const cP99 = cell(`c:${pace.id}`, "p99");
  for (const r of relays) {
    const key = `${r.id}:${pace.id}`;
    const med = cell(key, "median");
    const p99 = cell(key, "p99");
    result[key] = { median: med, p99, medianToC: med / cMed, p99ToC: p99 / cP99, samples: samples[key] };
    lines.push(`| ${r.title} | ${pace.title} | ${med.toFixed(1)} | ${p99.toFixed(1)} | ${(med / cMed).toFixed(2)} | ${(p99 / cP99).toFixed(2)} |`);
  }
}
const md = `${lines.join("\n")}\n`;
process.stdout.write(md);
if (OUT) {
  fs.writeFileSync(path.join(OUT, "floor-latest.md"), md);
  fs.writeFileSync(path.join(OUT, "floor-latest.json"), `${JSON.stringify({ date: new Date().toISOString(), runs: RUNS, seconds: SECONDS, result }, null, 1)}\n`);
}
cleanup();
