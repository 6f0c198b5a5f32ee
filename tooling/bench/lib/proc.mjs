// Processes and namespaces of a benchmark run: everything started here is
// registered, and cleanup() kills it by PID and removes every namespace,
// on normal exit, on errors and on SIGINT/SIGTERM.
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";

const children = new Set(); // { pid, child }
const extraPids = new Set(); // processes we did not spawn directly (networking process, namespace command)
const cleanups = []; // functions, run last-in first-out
let cleaned = false;

/** Starts argv in the background; collects stdout/stderr. */
export function startProc(argv, { env } = {}) {
  const [cmd, ...args] = argv;
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
  const rec = { pid: child.pid, child, out: "", err: "", argv };
  child.stdout.on("data", (d) => (rec.out += d.toString()));
  child.stderr.on("data", (d) => (rec.err += d.toString()));
  rec.exited = new Promise((resolve) => child.on("exit", (code, sig) => resolve(code ?? sig ?? -1)));
  child.on("error", (e) => (rec.err += String(e)));
  children.add(rec);
  rec.exited.then(() => children.delete(rec));
  rec.alive = () => child.exitCode === null && child.signalCode === null;
  rec.kill = (sig = "SIGTERM") => {
    if (rec.alive()) {
      try {
        process.kill(rec.pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  /** SIGTERM, then SIGKILL after `ms`; resolves when it exited. */
  rec.stop = async (ms = 2000) => {
    rec.kill("SIGTERM");
    const t = setTimeout(() => rec.kill("SIGKILL"), ms);
    await rec.exited;
    clearTimeout(t);
  };
  return rec;
}

/** Runs argv to completion with a deadline; never rejects. */
export function run(argv, timeoutMs = 60_000, { env } = {}) {
  const [cmd, ...args] = argv;
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 1 << 24, env: env ?? process.env }, (err, stdout, stderr) => {
      children.delete(rec);
      resolve({ ok: !err, code: err ? err.code ?? err.signal : 0, out: stdout ?? "", err: `${stderr ?? ""}${err ? `\n${err.message}` : ""}` });
    });
    const rec = { pid: child.pid, child, alive: () => child.exitCode === null && child.signalCode === null };
    children.add(rec);
  });
}

export function trackPid(pid) {
  if (pid > 0) extraPids.add(pid);
}
export function untrackPid(pid) {
  extraPids.delete(pid);
}
export function onCleanup(fn) {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export function killPid(pid, sig = "SIGKILL") {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Kills everything started, runs registered cleanups (namespaces, temp folders). Synchronous. */
export function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const rec of children) if (rec.alive()) killPid(rec.pid);
  for (const pid of extraPids) killPid(pid);
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      fn();
    } catch (e) {
      process.stderr.write(`bench: cleanup: ${e?.message ?? e}\n`);
    }
  }
}

export function installSignalHandlers() {
  const die = (sig) => () => {
    process.stderr.write(`\nbench: ${sig}: cleaning up\n`);
    cleanup();
    process.exit(130);
  };
  process.on("SIGINT", die("SIGINT"));
  process.on("SIGTERM", die("SIGTERM"));
  process.on("SIGHUP", die("SIGHUP"));
  process.on("exit", () => cleanup());
  process.on("uncaughtException", (e) => {
    process.stderr.write(`bench: ${e?.stack ?? e}\n`);
    cleanup();
    process.exit(2);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(check, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    let ok = false;
    try {
      ok = await check();
    } catch {
      ok = false;
    }
    if (ok) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

// ---- /proc ------------------------------------------------------------------

/** utime+stime of a process (all its threads), in seconds. */
export function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** VmRSS and VmHWM in MiB, and the descriptor count. */
export function memFds(pid) {
  const r = { rssMiB: NaN, hwmMiB: NaN, fds: NaN };
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m")) ?? [])[1]);
    r.rssMiB = kb("VmRSS") / 1024;
    r.hwmMiB = kb("VmHWM") / 1024;
  } catch {
    /* gone */
  }
  try {
    r.fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    /* gone */
  }
  return r;
}

/**
 * Resets VmHWM of `pid` to its current VmRSS (`echo 5 > /proc/PID/clear_refs`,
 * Linux 4.0+, root), so that VmHWM afterwards is the peak of what follows.
 * Whatever peak the process had before is kept in `inst.hwmSeen` first, so
 * memOf(inst) still reports the peak of the process's whole life.
 */
export function resetPeak(inst) {
  if (!inst.netPid) return false;
  const before = memFds(inst.netPid).hwmMiB;
  if (Number.isFinite(before)) inst.hwmSeen = Math.max(inst.hwmSeen ?? 0, before);
  try {
    fs.writeFileSync(`/proc/${inst.netPid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** memFds of an instance's networking process, VmHWM over its whole life (resets by resetPeak included). */
export function memOf(inst) {
  const m = memFds(inst.netPid);
  if (Number.isFinite(m.hwmMiB) && inst.hwmSeen > m.hwmMiB) m.hwmMiB = inst.hwmSeen;
  return m;
}

export function ppidOf(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}

export function childrenOf(pid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) if (/^\d+$/.test(d) && ppidOf(Number(d)) === pid) out.push(Number(d));
  return out;
}

export function commOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** A process whose network namespace link is `link` and whose comm is `comm`. */
export function findPidInNetns(link, comm) {
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readlinkSync(`/proc/${d}/ns/net`) === link && commOf(Number(d)) === comm) return Number(d);
    } catch {
      /* gone */
    }
  }
  return 0;
}
