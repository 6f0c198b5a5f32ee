/**
 * Start-up: staying in the foreground or going to the background.
 *
 * Theory of operation
 *
 * The C passt forks into the background once it is listening, unless -f is
 * given. Node cannot fork, so without -f the command a user runs is only a
 * launcher: it starts a second Node process running this same script
 * through the native spawn helper, in a new session (setsid, so no terminal
 * signals reach it) with /dev/null as standard input and output, and waits
 * on a pipe for it to finish starting:
 *
 *   passt (launcher)  ──spawn──>  passt (daemon, new session)
 *         <── "say LINE" ...   (start-up lines the user must see)
 *         <── "ready"          (listening: the launcher exits 0)
 *          or "error MESSAGE"  (the launcher prints it and exits 1)
 *
 * The daemon's later log lines go to -l FILE, or nowhere, since the
 * terminal it was started from is no longer its own (the C passt logs to
 * the system log there; we have none). No user namespace is involved:
 * passt needs no privileges at all.
 *
 * With -f everything runs in this process and the exit code is passt's.
 */
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { pipe, spawn } from "@x/syscalls";
import { helpText, parseOptions, restoreHiddenEnv, envForNode, UsageError, type Options } from "@x/engine/options";
import { VERSION } from "./version.js";

const STAGE = "PASST_TS_STAGE";
const READY_FD = "PASST_TS_READY_FD";

export async function main(argv: string[]): Promise<number> {
  restoreHiddenEnv();
  // Started in the background by the native launcher, stderr is /dev/null:
  // a mistake found before the daemon is ready goes back through the
  // readiness pipe, which the launcher prints.
  const daemon = process.env[STAGE] === "daemon";
  const readyFd = daemon ? Number(process.env[READY_FD] ?? "-1") : -1;
  const refuse = (message: string, hint?: string): number => {
    if (readyFd >= 0) {
      toLauncher(readyFd, `error ${message}`);
      if (hint) toLauncher(readyFd, `say ${hint}`);
      closeQuietly(readyFd);
    } else process.stderr.write(`passt: ${message}\n${hint ? `${hint}\n` : ""}`);
    return 1;
  };
  let o: Options;
  try {
    o = parseOptions("passt", argv);
  } catch (e) {
    if (e instanceof UsageError) return refuse(e.message, "Try 'passt --help' for more information.");
    throw e;
  }
  if (o.help) {
    process.stdout.write(`${helpText("passt")}\n`);
    return 0;
  }
  if (o.version) {
    process.stdout.write(`passt (passt-ts) ${VERSION}\n`);
    return 0;
  }
  if (o.printCapabilities) {
    // What a vhost-user front end asks a back end (the C release prints the same).
    process.stdout.write('{\n  "type": "net"\n}\n');
    return 0;
  }
  if (o.vhostUser) {
    return refuse("--vhost-user is not supported by passt-ts: connect qemu with -netdev stream instead");
  }
  if (daemon) {
    delete process.env[STAGE];
    delete process.env[READY_FD];
    const { runPasst } = await import("./network.js");
    return runPasst(o, {
      ready: (err) => {
        toLauncher(readyFd, err === undefined ? "ready" : `error ${err}`);
        closeQuietly(readyFd);
      },
      tell: (line) => toLauncher(readyFd, `say ${line}`),
      detached: true,
    });
  }
  if (o.foreground) {
    const { runPasst } = await import("./network.js");
    return runPasst(o, { ready: () => {} });
  }
  return detach(argv, o);
}

async function detach(argv: string[], o: Options): Promise<number> {
  const [r, w] = pipe();
  const devNull = openSync("/dev/null", "r+");
  const script = fileURLToPath(new URL("./cli.js", import.meta.url));
  const env = envForNode([STAGE, READY_FD]);
  env.push(`${STAGE}=daemon`, `${READY_FD}=${w}`);
  try {
    spawn({
      argv: [process.execPath, ...process.execArgv, script, ...argv],
      env,
      keepFds: o.fd !== undefined ? [w, o.fd] : [w],
      newSession: true,
      stdin: devNull,
      stdout: devNull,
      stderr: devNull,
    });
  } catch (e) {
    process.stderr.write(`passt: cannot start in the background: ${e instanceof Error ? e.message : String(e)}\n`);
    closeSync(r);
    return 1;
  } finally {
    closeSync(w);
    closeSync(devNull);
  }
  const outcome = await readStartup(r, o.quiet);
  if (outcome === "ready") return 0;
  if (outcome === "gone") process.stderr.write("passt: the background process ended while starting\n");
  return 1;
}

/** Follows the daemon's start-up messages until "ready", an error, or the pipe's end. */
function readStartup(fd: number, quiet: boolean): Promise<"ready" | "error" | "gone"> {
  return new Promise((resolve) => {
    const stream = createReadStream("", { fd, autoClose: true, encoding: "utf8" });
    let pending = "";
    let outcome: "ready" | "error" | "gone" = "gone";
    stream.on("data", (chunk) => {
      pending += String(chunk);
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line === "ready") outcome = "ready";
        else if (line.startsWith("error ")) {
          outcome = "error";
          process.stderr.write(`passt: ${line.slice(6)}\n`);
        } else if (line.startsWith("say ") && !quiet) process.stderr.write(`${line.slice(4)}\n`);
      }
    });
    stream.on("error", () => resolve(outcome));
    stream.on("close", () => resolve(outcome));
  });
}

function toLauncher(fd: number, line: string): void {
  if (fd < 0) return;
  try {
    writeSync(fd, `${line.replace(/\n/g, " ")}\n`);
  } catch {
    /* the launcher is gone: nobody to tell */
  }
}

function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
