#!/usr/bin/env node
// Writes an app's code cache, dist/app.cjs.cache (see @x/engine/boot), from
// a training start through the app's own command, with the Node that runs
// the build:
// - passt: foreground, until its socket listens, then SIGTERM;
// - pasta: its own namespace with --config-net and a command that sleeps
//   half a second, long enough for the namespace's kernel to send its first
//   frames (router solicitation, duplicate address detection) through the tap.
// Neither sends a datagram off the machine or to its network: no ports are
// forwarded and the command sends nothing.
// Where the start cannot run (no user namespaces for a rootless pasta), the
// build goes on without a cache, and the app compiles from source.
// Run by each app's build, from the app's folder: node ../../tooling/launcher/code-cache.mjs pasta
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const mode = process.argv[2];
if (mode !== "passt" && mode !== "pasta") {
  process.stderr.write("usage: code-cache.mjs passt|pasta (from the app's folder)\n");
  process.exit(2);
}
const cache = resolve("dist/app.cjs.cache");
rmSync(cache, { force: true });
const dir = mkdtempSync(join(tmpdir(), `code-cache-${mode}-`));
const sock = join(dir, "passt.socket");
const none = ["-t", "none", "-u", "none"];
const args =
  mode === "passt"
    ? ["-f", ...none, "-s", sock]
    : ["--config-net", ...none, "-T", "none", "-U", "none", "--", "sleep", "0.5"];
const env = { ...process.env, PASST_TS_CODE_CACHE_OUT: cache, PASST_TS_NODE: process.execPath };
const child = spawn(resolve("bin", mode), args, { env, stdio: ["ignore", "ignore", "pipe"] });
let err = "";
child.stderr.on("data", (d) => (err += d));
const exited = new Promise((r) => child.on("exit", (code, signal) => r(code ?? signal)));
const deadline = setTimeout(() => child.kill("SIGKILL"), 10_000);
if (mode === "passt") {
  while (!existsSync(sock) && child.exitCode === null && child.signalCode === null) await new Promise((r) => setTimeout(r, 10));
  child.kill("SIGTERM");
}
const status = await exited;
clearTimeout(deadline);
rmSync(dir, { recursive: true, force: true });
if (existsSync(cache)) {
  process.stdout.write(`${mode}: code cache written, ${Math.round(statSync(cache).size / 1024)} KiB\n`);
} else {
  process.stderr.write(`${mode}: no code cache (the training start ended with ${status}): it will compile from source\n${err.trim().slice(-400)}\n`);
}
