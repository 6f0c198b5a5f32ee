/**
 * A pasta under test: started rootless in the World's host namespace with a
 * command that only records its PID and sleeps, so that the test can run
 * tools inside the namespace with nsenter, one at a time, whatever the
 * implementation (ours or Debian's pasta).
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { asUnprivileged, childrenOf, start, until, type Running, type World } from "@x/harness";

export interface Impl {
  name: "ours" | "debian";
  argv: string[];
}

/** Ours as users run it: the native launcher (bin/pasta), which starts Node once. */
export const OURS: Impl = {
  name: "ours",
  argv: [fileURLToPath(new URL("../bin/pasta", import.meta.url))],
};
/** Ours without the native launcher: the script alone, which starts a second Node where it must. */
export const OURS_SCRIPT: Impl = {
  name: "ours",
  argv: [process.execPath, fileURLToPath(new URL("../dist/cli.js", import.meta.url))],
};
export const DEBIAN: Impl = { name: "debian", argv: ["/usr/bin/pasta"] };

export function hasDebianPasta(): boolean {
  return existsSync("/usr/bin/pasta");
}

export interface PastaRun {
  pasta: Running;
  /** A process inside the namespace, for nsenter. */
  nsPid: number;
  dir: string;
  stop: () => Promise<void>;
}

/** Starts pasta with `args` and the PID-recording command, waits until the namespace is configured. */
export async function startPasta(world: World, impl: Impl, args: string[], options: { wantAddress?: string } = {}): Promise<PastaRun> {
  const dir = mkdtempSync(join(tmpdir(), "pasta-e2e-"));
  chmodSync(dir, 0o777);
  const pidFile = join(dir, "pid");
  // Debian's pasta runs the command in a PID namespace of its own, so the
  // command reports its network namespace and the test finds a process in
  // it from the outside.
  const cmd = `readlink /proc/self/ns/net > ${pidFile}; exec sleep 600`;
  const pasta = start(["ip", "netns", "exec", world.host.name, ...asUnprivileged([...impl.argv, ...args, "--", "sh", "-c", cmd])], {
    deadlineMs: 300_000,
  });
  try {
    let nsPid = 0;
    await until(
      () => existsSync(pidFile) && (nsPid = findPidInNetns(readFileSync(pidFile, "utf8").trim())) > 0,
      10_000,
      `${impl.name} pasta to start its command`,
    );
    const want = options.wantAddress ?? "203.0.113.2";
    await until(() => nsShSync(nsPid, ["ip", "-o", "addr"]).includes(want), 10_000, `${impl.name} pasta to configure ${want}`);
    return {
      pasta,
      nsPid,
      dir,
      stop: async () => {
        pasta.kill("SIGTERM");
        await Promise.race([pasta.exited, new Promise((r) => setTimeout(r, 3000))]);
        pasta.kill("SIGKILL");
        try {
          process.kill(nsPid, "SIGKILL");
        } catch {
          /* gone */
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    pasta.kill("SIGKILL");
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nstdout: ${pasta.out()}\nstderr: ${pasta.err()}`);
  }
}

/** The networking process: the launcher's child (rootless) or the launcher itself (root). */
export function networkPid(p: PastaRun): number {
  const launcher = p.pasta.child.pid as number;
  return childrenOf(launcher).find((c) => readFileSync(`/proc/${c}/cmdline`, "utf8").includes("cli.js")) ?? launcher;
}

/** A process (the command's sleep) whose network namespace is `link` (net:[inode]). */
function findPidInNetns(link: string): number {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/net`) === link && readFileSync(`/proc/${d}/comm`, "utf8").trim() === "sleep") return Number(d);
    } catch {
      /* gone or not ours to read */
    }
  }
  throw new Error(`no process found in network namespace ${link}`);
}

export function nsShSync(pid: number, argv: string[]): string {
  return execFileSync("nsenter", ["-t", String(pid), "-n", "--", ...argv], { encoding: "utf8", timeout: 10_000 });
}

/** Runs a shell snippet, resolving with its stdout (never rejecting: failures give the error text). */
export function run(argv: string[], timeoutMs = 15_000): Promise<{ ok: boolean; out: string }> {
  const [cmd, ...args] = argv;
  return new Promise((resolve) => {
    execFile(cmd as string, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ ok: !err, out: `${stdout}${err ? `\n${stderr}${err.message}` : ""}` });
    });
  });
}

export const inNs = (pid: number, argv: string[]): string[] => ["nsenter", "-t", String(pid), "-n", "--", ...argv];
export const inNetns = (name: string, argv: string[]): string[] => ["ip", "netns", "exec", name, ...argv];

/** A UDP echo server (socat, one child per peer) bound to addr:port. */
export function echoServer(prefix: string[], family: 4 | 6, addr: string, port: number): Running {
  const bind = family === 6 ? `[${addr}]` : addr;
  return start([...prefix, "socat", "-b", "70000", `UDP${family}-LISTEN:${port},bind=${bind},fork,reuseaddr${family === 6 ? ",ipv6only=1" : ""}`, "PIPE"], { deadlineMs: 300_000 });
}

/**
 * Sends one datagram of `size` random bytes to addr:port from `prefix` (a
 * namespace) and checks that the same bytes come back.
 */
export async function exchange(
  prefix: string[],
  dir: string,
  family: 4 | 6,
  addr: string,
  port: number,
  size: number,
  source?: string,
): Promise<{ ok: boolean; detail: string }> {
  const f = join(dir, `d${family}-${port}-${size}-${Math.random().toString(36).slice(2)}`);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + size) & 0xff;
  writeFileSync(f, data);
  chmodSync(f, 0o644);
  const target = family === 6 ? `[${addr}]` : addr;
  const bind = source ? `,bind=${family === 6 ? `[${source}]` : source}` : "";
  const script = `socat -b 70000 -t 1.5 -T 3 - UDP${family}:${target}:${port}${bind} < ${f} > ${f}.out; cmp -s ${f} ${f}.out && echo SAME || echo "DIFF $(wc -c < ${f}.out)"`;
  const r = await run([...prefix, "sh", "-c", script], 10_000);
  return { ok: r.out.includes("SAME"), detail: r.out.trim().slice(0, 200) };
}

/** Waits until an echo server answers (servers take a moment to bind). */
export async function settle(ms = 300): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}
