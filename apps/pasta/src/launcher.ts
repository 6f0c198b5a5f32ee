/**
 * Start-up: which process does what.
 *
 * Theory of operation
 *
 * Node cannot enter a user namespace (it is multithreaded from its first
 * instruction), and a rootless pasta needs one: the guest's network
 * namespace must be owned by a user namespace in which we hold
 * CAP_SYS_ADMIN, or we could not open its tap or bind its sockets. So the
 * command a user runs is only a launcher. When it must (rootless, or to
 * detach), it starts a second Node process, the networking process, through
 * the native spawn helper: that child is forked single-threaded, enters a new
 * user namespace (or the one of the process given by PID / --userns), writes
 * its uid and gid maps, and only then execs Node. The networking process
 * keeps the host's network namespace on its main thread, makes or joins the
 * guest's network namespace from helper threads, and starts the command.
 *
 *   pasta (launcher, host user ns)
 *     └─ pasta networking process (own user ns, host net ns)
 *          └─ the command (same user ns, the guest's net ns, tap inside)
 *
 * The networking process tells the launcher it is ready through a pipe. In
 * the foreground the launcher then waits and exits with the networking
 * process's status, which is the command's; detached (a PID or --netns
 * without -f), it exits 0 at once, as the C pasta returns to the shell.
 * As root, with nothing to detach, all of this happens in one process.
 */
import { closeSync, openSync, read, readlinkSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { pipe, spawn, waitPid, openNamespace, close, namespacePath } from "@x/syscalls";
import { helpText, parseOptions, restoreHiddenEnv, envForNode, pastaDetaches, UsageError, type Options } from "@x/engine/options";
import { VERSION } from "./version.js";

const STAGE = "PASTA_TS_STAGE";
const READY_FD = "PASTA_TS_READY_FD";

export async function main(argv: string[]): Promise<number> {
  restoreHiddenEnv();
  // The networking stage, started by either launcher; -1: no one waits on a readiness pipe.
  const networking = process.env[STAGE] === "net";
  const readyFd = networking ? Number(process.env[READY_FD] ?? "-1") : -1;
  let o: Options;
  try {
    o = parseOptions("pasta", argv);
  } catch (e) {
    if (e instanceof UsageError) {
      // Detached by the native launcher, stderr is /dev/null: the mistake
      // goes back through the readiness pipe, which it prints.
      if (readyFd >= 0) signalReady(readyFd, e.message);
      else process.stderr.write(`pasta: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(`${helpText("pasta")}\n`);
    return 0;
  }
  if (o.version) {
    process.stdout.write(`pasta (passt-ts) ${VERSION}\n`);
    return 0;
  }
  if (networking) {
    delete process.env[STAGE];
    delete process.env[READY_FD];
    const { runNetwork } = await import("./network.js");
    return runNetwork(o, (err) => signalReady(readyFd, err), pastaDetaches(o));
  }
  const rootless = process.getuid?.() !== 0;
  const detach = pastaDetaches(o);
  if (!rootless && !detach) {
    // The networking code loads only in the process that needs it.
    const { runNetwork } = await import("./network.js");
    return runNetwork(o, () => {});
  }
  return launch(argv, o, rootless, detach);
}

/** The user namespace to join instead of making one, if any. */
function usernsToJoin(o: Options): string | undefined {
  const path = o.userns ?? (o.targetPid !== undefined ? namespacePath(o.targetPid, "user") : undefined);
  if (!path) return undefined;
  try {
    if (readlinkSync(path) === readlinkSync("/proc/self/ns/user")) return undefined;
  } catch {
    /* openNamespace below reports it */
  }
  return path;
}

async function launch(argv: string[], o: Options, rootless: boolean, detach: boolean): Promise<number> {
  const [r, w] = pipe();
  // With a PID, its user namespace is joined even under --netns-only: that
  // is the only way an unprivileged caller may enter its network namespace.
  const join = rootless ? usernsToJoin(o) : undefined;
  let usernsFd: number | undefined;
  try {
    if (join) usernsFd = openNamespace(join, "user");
  } catch (e) {
    process.stderr.write(`pasta: cannot open user namespace ${join}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  const script = fileURLToPath(new URL("./cli.js", import.meta.url));
  const env = envForNode([STAGE, READY_FD]);
  env.push(`${STAGE}=net`, `${READY_FD}=${w}`);
  // Detached, the networking process lets go of our terminal and pipes, as
  // a daemon does; what goes wrong before it is ready comes back through the
  // readiness pipe, and -l keeps its log.
  const devNull = detach ? openSync("/dev/null", "r+") : -1;
  let pid: number;
  try {
    pid = spawn({
      argv: [process.execPath, ...process.execArgv, script, ...argv],
      env,
      // --netns-only: no user namespace of our own, even to run a command in.
      newUser: rootless && usernsFd === undefined && !o.netnsOnly,
      ...(usernsFd !== undefined ? { usernsFd } : {}),
      // -F: the tap descriptor the networking process is to use.
      keepFds: o.fd !== undefined ? [w, o.fd] : [w],
      newSession: detach,
      ...(detach ? { stdin: devNull, stdout: devNull, stderr: devNull } : {}),
    });
  } catch (e) {
    process.stderr.write(`pasta: cannot start the networking process: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    if (usernsFd !== undefined) close(usernsFd);
    if (devNull >= 0) closeSync(devNull);
  }
  closeSync(w);
  const forward = (sig: NodeJS.Signals) => () => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  if (detach) {
    // Not waitPid yet: a thread blocked in waitpid() would hold up our own
    // exit until the detached process ends. The pipe closing unready says
    // it died, and only then do we wait for its status.
    const ready = await readReady(r);
    closeSync(r);
    if (ready) {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      return 0;
    }
  } else {
    closeSync(r);
  }
  const st = await waitPid(pid);
  process.off("SIGINT", onInt);
  process.off("SIGTERM", onTerm);
  return st.code ?? 128 + (st.signal ?? 0);
}

/** Reads the readiness pipe on the thread pool: true for "ready", false when it closed first. */
function readReady(fd: number): Promise<boolean> {
  return new Promise((resolve) => {
    const buf = Buffer.alloc(256);
    read(fd, buf, 0, buf.length, null, (err, n) => {
      if (err || n === 0) return resolve(false);
      const text = buf.subarray(0, n).toString();
      if (!text.startsWith("ready")) process.stderr.write(`pasta: ${text.replace(/^error /, "")}`);
      resolve(text.startsWith("ready"));
    });
  });
}

function signalReady(fd: number, err?: string): void {
  if (fd < 0) return;
  try {
    writeSync(fd, err ? `error ${err}\n` : "ready\n");
    closeSync(fd);
  } catch {
    /* the launcher is gone: nothing to tell */
  }
}
