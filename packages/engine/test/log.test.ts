// Where log lines go: a file kept within --log-size (oldest lines dropped
// first), and the system logger's datagram socket when detached, as the C
// implementation logs. The logger here is a real UNIX datagram socket
// (python3 holds it), not a fake.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Log, logFor, parseOptions } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "log-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("log", () => {
  it("keeps the log file within --log-size, dropping the oldest lines, whole", () => {
    const file = join(dir, "capped.log");
    const cap = 40960;
    const log = logFor("pasta", parseOptions("pasta", ["-l", file, "--log-size", String(cap), "true"]));
    for (let i = 0; i < 10_000; i++) log.info(`line ${i} ${"x".repeat(40)}`);
    const text = readFileSync(file, "utf8");
    expect(statSync(file).size).toBeLessThanOrEqual(cap);
    expect(text).toContain("line 9999 ");
    expect(text).not.toContain("line 0 ");
    // Cut at line boundaries: every line is whole.
    for (const l of text.trimEnd().split("\n")) expect(l).toMatch(/^pasta [\d.]+: line \d+ x{40}$/);
  });

  it("writes to the system logger's socket once detached without -l, with a daemon priority per level", async () => {
    const socket = join(dir, "log.socket");
    const out = join(dir, "received.txt");
    // A stand-in for /dev/log: a UNIX datagram socket that writes what it receives, one per line.
    const py = spawn("python3", [
      "-c",
      "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nf=open(sys.argv[2],'w')\nwhile True:\n  f.write(s.recv(4096).decode()+'\\n'); f.flush()",
      socket,
      out,
    ]);
    try {
      for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 20));
      process.env.PASST_TS_SYSLOG = socket;
      const log = logFor("passt", parseOptions("passt", []), true);
      log.info("hello logger");
      log.warn("careful");
      for (let i = 0; i < 100 && !(existsSync(out) && readFileSync(out, "utf8").includes("careful")); i++) await new Promise((r) => setTimeout(r, 20));
      const got = readFileSync(out, "utf8");
      expect(got).toContain(`<30>passt[${process.pid}]: hello logger`);
      expect(got).toContain(`<28>passt[${process.pid}]: warn: careful`);
    } finally {
      delete process.env.PASST_TS_SYSLOG;
      py.kill("SIGKILL");
    }
  });

  it("falls back to standard error when no logger listens, and never throws", () => {
    const log = new Log("pasta", "info");
    expect(() => log.info("to stderr")).not.toThrow();
  });
});
