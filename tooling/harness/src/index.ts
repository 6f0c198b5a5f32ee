/**
 * The test harness: worlds built of throwaway network namespaces.
 *
 * Every end-to-end test builds what it needs here and tears it down itself:
 * namespaces are named after the test process so that parallel runs never
 * meet, addresses come from the documentation ranges (198.51.100.0/24,
 * 203.0.113.0/24, 2001:db8::/32) and nothing is ever sent to the machine's own
 * network. Child processes are started with a deadline and killed by PID.
 */
import { fileURLToPath } from "node:url";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, readFileSync, readdirSync, statSync } from "node:fs";

let counter = 0;

/** A name unique to this process, short enough for an interface (15 bytes). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${(process.pid % 100000).toString(36)}${counter.toString(36)}`.slice(0, 15);
}

/** Runs a command, returns stdout; throws with stderr on failure. */
export function sh(argv: string[], options: { input?: string; timeoutMs?: number } = {}): string {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("sh: empty command");
  return execFileSync(cmd, args, {
    encoding: "utf8",
    input: options.input,
    timeout: options.timeoutMs ?? 10_000,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Runs argv inside the named network namespace (as root, through `ip netns exec`). */
export function nsSh(ns: string, argv: string[], options: { input?: string; timeoutMs?: number } = {}): string {
  return sh(["ip", "netns", "exec", ns, ...argv], options);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** A rootless tap needs /dev/net/tun to be 0666, the usual mode on distributions. */
export function ensureTunOpen(): void {
  try {
    const mode = statSync("/dev/net/tun").mode & 0o777;
    if (mode !== 0o666 && isRoot()) chmodSync("/dev/net/tun", 0o666);
  } catch {
    /* no tun device: the tests that need it will say so */
  }
}

/** A network namespace made with `ip netns add`, removed by `remove()`. */
export class Netns {
  readonly path: string;
  private removed = false;

  constructor(readonly name: string) {
    sh(["ip", "netns", "add", name]);
    this.path = `/run/netns/${name}`;
    nsSh(name, ["ip", "link", "set", "lo", "up"]);
  }

  sh(argv: string[], options?: { input?: string; timeoutMs?: number }): string {
    return nsSh(this.name, argv, options);
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    try {
      sh(["ip", "netns", "pids", this.name])
        .split("\n")
        .filter(Boolean)
        .forEach((p) => {
          try {
            process.kill(Number(p), "SIGKILL");
          } catch {
            /* already gone */
          }
        });
    } catch {
      /* namespace already gone */
    }
    try {
      sh(["ip", "netns", "del", this.name]);
    } catch {
      /* already gone */
    }
  }
}

/** Joins two namespaces with a veth pair and addresses both ends. */
export function veth(a: Netns, aIf: string, aAddrs: string[], b: Netns, bIf: string, bAddrs: string[]): void {
  sh(["ip", "link", "add", aIf, "netns", a.name, "type", "veth", "peer", "name", bIf, "netns", b.name]);
  for (const [ns, ifn, addrs] of [
    [a, aIf, aAddrs],
    [b, bIf, bAddrs],
  ] as const) {
    for (const addr of addrs) ns.sh(["ip", "addr", "add", addr, "dev", ifn, ...(addr.includes(":") ? ["nodad"] : [])]);
    ns.sh(["ip", "link", "set", ifn, "up"]);
  }
}

export interface Running {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  kill: (signal?: NodeJS.Signals) => void;
}

/** Starts a long-running command, bounded by a deadline after which it is killed. */
export function start(argv: string[], options: { deadlineMs?: number; env?: NodeJS.ProcessEnv } = {}): Running {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("start: empty command");
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.deadlineMs ?? 60_000);
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    kill: (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Waits until `check` returns true, polling; throws after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    let ok = false;
    try {
      ok = check();
    } catch {
      ok = false;
    }
    if (ok) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The uid an unprivileged test runs as (nobody), and the prefix that runs a command so. */
export const UNPRIVILEGED_UID = 65534;
export function asUnprivileged(argv: string[]): string[] {
  if (!isRoot()) return argv;
  return ["setpriv", `--reuid=${UNPRIVILEGED_UID}`, `--regid=${UNPRIVILEGED_UID}`, "--clear-groups", ...argv];
}

/** Number of open descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
export * from "./world.js";

/** Direct children of a process (from /proc/PID/task/PID/children). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
export * from "./gc.js";

/**
 * Where the C oracle (passt/pasta 2024_12_11, prebuilt) may be: beside the
 * project's checkout (../shared/oracle, as on CI) or at /work/shared/oracle.
 * Each entry ends with a slash.
 */
export const ORACLE_DIRS: readonly string[] = [
  fileURLToPath(new URL("../../../../shared/oracle/passt-2024_12_11/", import.meta.url)),
  "/work/shared/oracle/passt-2024_12_11/",
];

/** The oracle's binary of that name, if there is one. */
export function oracleBinary(name: "passt" | "pasta"): string | undefined {
  for (const d of ORACLE_DIRS) if (existsSync(`${d}${name}`)) return `${d}${name}`;
  return undefined;
}
