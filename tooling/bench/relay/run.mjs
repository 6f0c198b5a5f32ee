#!/usr/bin/env node
// Relay benchmark runner: datagrams per second through a recvmmsg -> sendmmsg
// relay on loopback, driven from JavaScript (relay.mjs, @x/syscalls) and
// written in C (relay.c), with the same C generator and sink around both.
//
//   node tooling/bench/relay/run.mjs [--duration 5] [--runs 3] [--smoke]
//
// See README.md for what is measured and how the processes are placed.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---- options ---------------------------------------------------------------

function parseArgs(argv) {
  const o = {
    duration: 5,
    warmup: 1,
    runs: 3,
    sizes: [64, 1400],
    batch: 64,
    drain: 16,
    buf: 16 << 20,
    relayCpu: "1",
    loadCpu: "0",
    genNice: 5,
    window: 4096,
    smoke: false,
    cpuProf: null,
    json: path.join(HERE, "results", "latest.json"),
    sysctl: true,
  };
  const num = (i) => {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${argv[i]} wants a number, got ${argv[i + 1]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--duration": o.duration = num(i); i++; break;
      case "--warmup": o.warmup = num(i); i++; break;
      case "--runs": o.runs = Math.max(1, Math.round(num(i))); i++; break;
      case "--batch": o.batch = Math.round(num(i)); i++; break;
      case "--drain": o.drain = Math.max(1, Math.round(num(i))); i++; break;
      case "--buf": o.buf = Math.round(num(i)); i++; break;
      case "--gen-nice": o.genNice = Math.round(num(i)); i++; break;
      case "--window": o.window = Math.round(num(i)); i++; break;
      case "--sizes": o.sizes = argv[++i].split(",").map(Number); break;
      case "--relay-cpu": o.relayCpu = argv[++i]; break;
      case "--load-cpu": o.loadCpu = argv[++i]; break;
      case "--cpu-prof": o.cpuProf = path.resolve(argv[++i]); break;
      case "--json": o.json = argv[++i] === "-" ? null : path.resolve(argv[i]); break;
      case "--no-sysctl": o.sysctl = false; break;
      case "--smoke": o.smoke = true; break;
      case "-h":
      case "--help":
        console.log(
          "usage: run.mjs [--duration S=5] [--warmup S=1] [--runs N=3] [--sizes 64,1400] [--batch 64]\n" +
            "               [--drain 16] [--window 4096|0] [--buf BYTES] [--relay-cpu 1] [--load-cpu 0]\n" +
            "               [--gen-nice 5]" +
            "               [--cpu-prof DIR] [--json FILE|-] [--no-sysctl] [--smoke]",
        );
        process.exit(0);
      default:
        throw new Error(`unknown argument ${a} (try --help)`);
    }
  }
  if (o.smoke) {
    o.duration = 1;
    o.warmup = 0.25;
    o.runs = 1;
    o.json = null;
  }
  if (!(o.batch >= 1 && o.batch <= 1024)) throw new Error(`--batch ${o.batch} is not from 1 to 1024`);
  for (const s of o.sizes) if (!(s >= 1 && s <= 2048)) throw new Error(`size ${s} is not from 1 to 2048 (the relays' slot)`);
  return o;
}

// ---- processes we start, and their cleanup ----------------------------------

const children = new Set();
const cleanups = [];

function killAll() {
  for (const c of children) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  children.clear();
}

function cleanupAll() {
  killAll();
  while (cleanups.length) {
    try {
      cleanups.pop()();
    } catch (e) {
      console.error(`cleanup: ${e.message}`);
    }
  }
}

process.on("exit", cleanupAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping`);
    cleanupAll();
    process.exit(130);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A child whose stdout lines are parsed: "ready PORT" and "snap ...". */
class Child {
  constructor(name, argv) {
    this.name = name;
    this.lines = [];
    this.waiters = [];
    this.stderr = "";
    this.exited = false;
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    this.pid = this.proc.pid;
    children.add(this);
    let rest = "";
    this.proc.stdout.setEncoding("utf8");
    this.proc.stdout.on("data", (d) => {
      rest += d;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        this.lines.push(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
      this.wake();
    });
    this.proc.stderr.setEncoding("utf8");
    this.proc.stderr.on("data", (d) => {
      this.stderr += d;
    });
    this.exitPromise = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        this.exited = true;
        this.exitStatus = { code, signal };
        children.delete(this);
        this.wake();
        resolve(this.exitStatus);
      });
      this.proc.on("error", (e) => {
        this.exited = true;
        this.spawnError = e;
        children.delete(this);
        this.wake();
        resolve({ code: -1, signal: null });
      });
    });
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  describe() {
    const why = this.spawnError ? this.spawnError.message : `exit ${JSON.stringify(this.exitStatus)}`;
    return `${this.name} (pid ${this.pid}) ${why}${this.stderr ? `: ${this.stderr.trim()}` : ""}`;
  }

  /** The first line at or after index `from` that starts with `prefix`. */
  async line(prefix, from, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) if (this.lines[i].startsWith(prefix)) return { text: this.lines[i], index: i };
      if (this.exited) throw new Error(`${this.describe()} before printing "${prefix}"`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name} (pid ${this.pid}) printed no "${prefix}" in ${timeoutMs} ms${this.stderr ? `: ${this.stderr.trim()}` : ""}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async ready(timeoutMs = 5000) {
    const { text } = await this.line("ready ", 0, timeoutMs);
    return Number(text.split(" ")[1]);
  }

  /** Asks for a snap line and returns its numbers (the first is the time in ns). */
  async snap(timeoutMs = 3000) {
    const from = this.lines.length;
    process.kill(this.pid, "SIGUSR2");
    const { text } = await this.line("snap ", from, timeoutMs);
    return text.split(" ").slice(1).map(Number);
  }

  /** SIGTERM, then SIGKILL if it lingers. */
  async stop(timeoutMs = 3000) {
    if (this.exited) return this.exitStatus;
    try {
      process.kill(this.pid, "SIGTERM");
    } catch {
      // gone meanwhile
    }
    const t = setTimeout(() => {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        // gone
      }
    }, timeoutMs);
    const s = await this.exitPromise;
    clearTimeout(t);
    return s;
  }
}

// ---- the machine ------------------------------------------------------------

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return null;
  }
}

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1].trim();
  } catch {
    // fall through
  }
  return os.cpus()[0]?.model ?? "unknown";
}

/** Raises net.core.{r,w}mem_max to `want` for the run (root only) and restores them on exit. */
function raiseBufferLimits(want, enabled) {
  const keys = ["rmem_max", "wmem_max"];
  const file = (k) => `/proc/sys/net/core/${k}`;
  const before = {};
  for (const k of keys) before[k] = Number(fs.readFileSync(file(k), "utf8"));
  const note = { before, during: { ...before }, changed: false };
  if (!enabled || keys.every((k) => before[k] >= want)) return note;
  try {
    for (const k of keys) {
      if (before[k] < want) {
        fs.writeFileSync(file(k), String(want));
        note.during[k] = want;
        note.changed = true;
      }
    }
  } catch (e) {
    note.error = e.message;
  }
  if (note.changed) {
    cleanups.push(() => {
      for (const k of keys) if (note.during[k] !== before[k]) fs.writeFileSync(file(k), String(before[k]));
    });
  }
  return note;
}

function compile(dir) {
  const cc = process.env.CC || "cc";
  const bins = {};
  for (const name of ["gen", "sink", "relay"]) {
    const out = path.join(dir, name);
    try {
      execFileSync(cc, ["-O2", "-Wall", "-o", out, path.join(HERE, `${name}.c`)], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      throw new Error(`${cc} -O2 ${name}.c failed:\n${e.stderr?.toString() ?? e.message}`);
    }
    bins[name] = out;
  }
  return { bins, cc: sh(cc, ["--version"])?.split("\n")[0] ?? cc };
}

/** Per-CPU jiffies from /proc/stat: { cpuN: { busy, total } }. */
function cpuTimes() {
  const out = {};
  for (const line of fs.readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    const idle = v[3] + v[4];
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out[m[1]] = { busy: total - idle, total, steal: v[7] };
  }
  return out;
}

/** Busy share of CPU `cpu` (a taskset list; its first number) between two cpuTimes(). */
function busyShare(a, b, cpu) {
  const k = `cpu${String(cpu).split(/[,-]/)[0]}`;
  if (!a[k] || !b[k]) return NaN;
  const total = b[k].total - a[k].total;
  return total > 0 ? (b[k].busy - a[k].busy) / total : NaN;
}

// ---- one measurement ----------------------------------------------------------

async function measure(o, env, kind, size) {
  const pin = (cpu, argv) => (env.taskset ? ["taskset", "-c", cpu, ...argv] : argv);
  const maxlife = `maxlife=${Math.ceil(o.warmup + o.duration + 30)}`;
  const common = [`batch=${o.batch}`, `buf=${o.buf}`, maxlife];
  const started = [];
  const shm = path.join(env.tmp, "sunk");
  try {
    const sink = new Child("sink", pin(o.loadCpu, [env.bins.sink, ...common, `shm=${shm}`]));
    started.push(sink);
    const sinkPort = await sink.ready();

    const relayArgs = [`sink=${sinkPort}`, `drain=${o.drain}`, ...common];
    const relayArgv =
      kind === "js"
        ? [process.execPath, ...(o.cpuProf ? ["--cpu-prof", "--cpu-prof-dir", o.cpuProf] : []), path.join(HERE, "relay.mjs"), ...relayArgs]
        : [env.bins.relay, ...relayArgs];
    const relay = new Child(`${kind} relay`, pin(o.relayCpu, relayArgv));
    started.push(relay);
    const relayPort = await relay.ready(10000);

    const genArgv = pin(o.loadCpu, [env.bins.gen, `port=${relayPort}`, `size=${size}`, `window=${o.window}`, `shm=${shm}`, ...common]);
    const gen = new Child("generator", o.genNice ? ["nice", "-n", String(o.genNice), ...genArgv] : genArgv);
    started.push(gen);
    await gen.ready();

    await sleep(o.warmup * 1000);
    const c0 = cpuTimes();
    const [g0, r0, s0] = await Promise.all([gen.snap(), relay.snap(), sink.snap()]);
    await sleep(o.duration * 1000);
    const [g1, r1, s1] = await Promise.all([gen.snap(), relay.snap(), sink.snap()]);
    const c1 = cpuTimes();

    // Stop the traffic first, so that neither relay nor sink sees a dead peer.
    await gen.stop();
    await relay.stop();
    await sink.stop();

    const rate = (a, b, i) => (b[i] - a[i]) / ((b[0] - a[0]) / 1e9);
    const relayRx = rate(r0, r1, 1);
    const res = {
      sinkRate: rate(s0, s1, 1),
      relayRxRate: relayRx,
      relayTxRate: rate(r0, r1, 2),
      offeredRate: rate(g0, g1, 1),
      reclaimedRate: rate(g0, g1, 3),
      relayDroppedRate: rate(r0, r1, 3),
      datagramsPerBatch: (r1[1] - r0[1]) / Math.max(1, r1[4] - r0[4]),
      batchesPerWakeup: (r1[4] - r0[4]) / Math.max(1, r1[5] - r0[5]),
      sinkCount: s1[1] - s0[1],
      relayTxCount: r1[2] - r0[2],
      windowSeconds: (s1[0] - s0[0]) / 1e9,
    };
    // The relay is alone on its CPU, so that CPU's busy time (user, system,
    // softirq) is what relaying cost, however the kernel accounts it.
    res.relayCpuBusy = busyShare(c0, c1, o.relayCpu);
    res.loadCpuBusy = busyShare(c0, c1, o.loadCpu);
    res.perRelayCpuSecond = res.relayCpuBusy > 0 ? relayRx / res.relayCpuBusy : NaN;
    res.sinkGbps = (rate(s0, s1, 2) * 8) / 1e9;
    // Offered but never read by the relay: its input queue overflowed.
    res.inputLoss = res.offeredRate > 0 ? Math.max(0, 1 - relayRx / res.offeredRate) : 0;
    return res;
  } finally {
    for (const c of started.reverse()) if (!c.exited) await c.stop(1000);
  }
}

// ---- statistics and output ------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const FIELDS = ["sinkRate", "relayRxRate", "relayTxRate", "offeredRate", "reclaimedRate", "relayDroppedRate", "inputLoss", "sinkGbps", "datagramsPerBatch", "batchesPerWakeup", "relayCpuBusy", "loadCpuBusy", "perRelayCpuSecond"];

function summarize(runs) {
  const med = {};
  for (const f of FIELDS) med[f] = median(runs.map((r) => r[f]));
  return { median: med, min: Math.min(...runs.map((r) => r.sinkRate)), max: Math.max(...runs.map((r) => r.sinkRate)) };
}

const M = (x) => (x / 1e6).toFixed(3);
const pad = (s, n) => String(s).padStart(n);

function printTable(o, results) {
  const head = ["size", "relay", "sink Mdgram/s", "(min-max)", "relay rx/s", "relay tx/s", "offered/s", "Gbit/s", "dg/batch", "batch/wake", "relay CPU", "load CPU", "per CPU-s"];
  const w = [5, 6, 14, 17, 11, 11, 10, 7, 9, 10, 10, 9, 10];
  const row = (cells) => cells.map((c, i) => pad(c, w[i])).join(" ");
  console.log("");
  console.log(row(head));
  for (const size of o.sizes) {
    for (const kind of ["js", "c"]) {
      const s = results[size][kind];
      const m = s.median;
      console.log(
        row([
          size,
          kind === "js" ? "JS" : "C",
          M(m.sinkRate),
          `${M(s.min)}-${M(s.max)}`,
          M(m.relayRxRate),
          M(m.relayTxRate),
          M(m.offeredRate),
          m.sinkGbps.toFixed(2),
          m.datagramsPerBatch.toFixed(1),
          m.batchesPerWakeup.toFixed(2),
          `${(m.relayCpuBusy * 100).toFixed(0)}%`,
          `${(m.loadCpuBusy * 100).toFixed(0)}%`,
          M(m.perRelayCpuSecond),
        ]),
      );
    }
    const { ratio, pairedRatio, efficiencyRatio } = results[size];
    console.log(
      `${pad(size, 5)}  JS/C = ${ratio.toFixed(3)} ${ratio >= 0.8 ? "(meets the 0.8 target)" : "(below the 0.8 target)"}; ` +
        `run by run (median) ${pairedRatio.toFixed(3)}; per relay-CPU-second ${efficiencyRatio.toFixed(3)}`,
    );
  }
  console.log(
    "(rates in millions per second, medians of runs; sink = datagrams the sink received per second, the headline figure;\n" +
      " relay/load CPU = busy share of the relay's CPU and of the generator+sink CPU; per CPU-s = relayed datagrams per busy second of the relay's CPU)",
  );
}

// ---- main ---------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  if (o.smoke) {
    // CI guard: whatever happens, do not outlive this.
    setTimeout(() => {
      console.error("smoke: took longer than 40 s, giving up");
      process.exit(1);
    }, 40000).unref();
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "relay-bench-"));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const { bins, cc } = compile(tmp);
  const taskset = sh("taskset", ["-c", o.relayCpu, "true"]) !== null && sh("taskset", ["-c", o.loadCpu, "true"]) !== null;
  const env = { bins, taskset, tmp };

  const isRoot = process.getuid?.() === 0;
  const sysctl = raiseBufferLimits(o.buf, o.sysctl && isRoot);
  const machine = {
    kernel: os.release(),
    cpu: cpuModel(),
    cpus: os.cpus().length,
    node: process.version,
    cc,
  };
  console.log(`relay benchmark: ${machine.cpu}, ${machine.cpus} CPUs, Linux ${machine.kernel}, Node ${machine.node}, ${cc}`);
  console.log(
    o.window
      ? `load: closed loop, the generator keeps at most ${o.window} datagrams in flight (sent - received by the sink)`
      : "load: open loop, the generator sends as fast as it can (relays run in overload)",
  );
  console.log(
    `batch ${o.batch}, drain <= ${o.drain} batches per wake-up, socket buffers ${o.buf >> 20} MiB, ` +
      `${o.runs} run(s) of ${o.warmup} s warm-up + ${o.duration} s per relay and size, alternating JS and C`,
  );
  if (taskset) {
    console.log(`placement: relay alone on CPU ${o.relayCpu}; generator (nice ${o.genNice}) and sink share CPU ${o.loadCpu}`);
  } else {
    console.log("placement: taskset unavailable, processes are not pinned (figures will be noisy)");
  }
  if (sysctl.changed) {
    console.log(
      `sysctl: raised net.core.rmem_max/wmem_max from ${sysctl.before.rmem_max}/${sysctl.before.wmem_max} to ` +
        `${sysctl.during.rmem_max}/${sysctl.during.wmem_max} for the run; restored on exit`,
    );
  } else if (sysctl.error) {
    console.log(`sysctl: could not raise net.core.rmem_max/wmem_max (${sysctl.error}); buffers capped at ${sysctl.before.rmem_max}`);
  } else {
    console.log(`sysctl: net.core.rmem_max/wmem_max left at ${sysctl.before.rmem_max}/${sysctl.before.wmem_max}`);
  }

  const runs = {};
  for (const size of o.sizes) runs[size] = { js: [], c: [] };
  for (let r = 0; r < o.runs; r++) {
    for (const size of o.sizes) {
      // Alternate which relay goes first, so that drift hits both alike.
      const order = r % 2 === 0 ? ["js", "c"] : ["c", "js"];
      for (const kind of order) {
        const m = await measure(o, env, kind, size);
        runs[size][kind].push(m);
        console.log(
          `  run ${r + 1}/${o.runs} ${pad(size, 4)} B ${kind === "js" ? "JS" : "C "}: sink ${M(m.sinkRate)} M/s, ` +
            `relay rx ${M(m.relayRxRate)} tx ${M(m.relayTxRate)} M/s, offered ${M(m.offeredRate)} M/s, ` +
            `CPU relay ${(m.relayCpuBusy * 100).toFixed(0)}% load ${(m.loadCpuBusy * 100).toFixed(0)}%`,
        );
      }
    }
  }

  const results = {};
  for (const size of o.sizes) {
    const js = summarize(runs[size].js);
    const c = summarize(runs[size].c);
    results[size] = {
      js: { ...js, runs: runs[size].js },
      c: { ...c, runs: runs[size].c },
      ratio: c.median.sinkRate > 0 ? js.median.sinkRate / c.median.sinkRate : 0,
      // JS/C within each run (the two ran back to back), then the median:
      // robust to the machine drifting between runs.
      pairedRatio: median(runs[size].js.map((j, i) => j.sinkRate / runs[size].c[i].sinkRate)),
      efficiencyRatio: c.median.perRelayCpuSecond > 0 ? js.median.perRelayCpuSecond / c.median.perRelayCpuSecond : 0,
    };
  }
  printTable(o, results);

  if (o.json) {
    const doc = {
      date: new Date().toISOString(),
      machine,
      config: {
        durationSeconds: o.duration,
        warmupSeconds: o.warmup,
        runs: o.runs,
        batch: o.batch,
        drain: o.drain,
        window: o.window,
        socketBuffer: o.buf,
        placement: taskset ? { relayCpu: o.relayCpu, generatorAndSinkCpu: o.loadCpu, generatorNice: o.genNice } : null,
        sysctl,
      },
      metric:
        "datagrams per second received by the sink (median of runs); ratio = JS / C of that; " +
        "pairedRatio = median over runs of JS / C within a run; " +
        "efficiencyRatio = JS / C of relayed datagrams per busy second of the relay's CPU",
      results,
    };
    fs.mkdirSync(path.dirname(o.json), { recursive: true });
    fs.writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    console.log(`wrote ${path.relative(process.cwd(), o.json) || o.json}`);
  }

  if (o.smoke) {
    const dead = [];
    for (const size of o.sizes) {
      for (const kind of ["js", "c"]) {
        const m = results[size][kind].runs[0];
        if (!(m.sinkCount > 0 && m.relayTxCount > 0)) dead.push(`${kind} relay at ${size} B`);
      }
    }
    console.log(`smoke: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (dead.length) {
      console.error(`smoke: FAIL, no traffic through ${dead.join(", ")}`);
      return 1;
    }
    console.log("smoke: OK, both relays moved traffic at every size");
  }
  return 0;
}

main().then(
  (code) => {
    cleanupAll();
    process.exit(code);
  },
  (e) => {
    console.error(`relay benchmark failed: ${e.stack ?? e}`);
    cleanupAll();
    process.exit(1);
  },
);
