/**
 * pasta's life cycle and command line: exit statuses, errors before
 * anything starts, a port already in use, joining an existing namespace by
 * PID (detached, with a pid file, stopped by SIGTERM) or by --netns name,
 * --dns-forward, --map-guest-addr and --no-map-gw.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, chmodSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GW4, HOST4, HOST6, Netns, REMOTE4, REMOTE6, World, asUnprivileged, ensureTunOpen, isRoot, start, uniqueName, until, type Running } from "@x/harness";
import { OURS, OURS_SCRIPT, echoServer, exchange, inNetns, inNs, settle, startPasta, type Impl } from "./topology.js";

function pasta(args: string[], ns?: string, impl: Impl = OURS): { code: number | null; out: string; err: string } {
  const argv = [...impl.argv, ...args];
  const full = ns ? ["ip", "netns", "exec", ns, ...asUnprivileged(argv)] : argv;
  const r = spawnSync(full[0] as string, full.slice(1), { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("pasta's command line", () => {
  it.each([
    [["--bogus"], /^pasta: unrecognized option '--bogus'\n/],
    [["-Z"], /^pasta: invalid option -- 'Z'\n/],
    [["-t", "80000"], /port 80000 out of range/],
    [["-t", "%/80"], /invalid interface name/],
    [["-u", "70000"], /port 70000 out of range/],
    [["-u", "10-5"], /ends before it starts/],
    [["-u", "1-3:5-6"], /different lengths/],
    [["-m", "12"], /Invalid MTU: 12/],
    [["-a", "1.2.3.4.5"], /invalid address/],
    [["-s", "/tmp/x"], /^pasta: invalid option -- 's'\n/],
    [["--mtu"], /Invalid MTU: --/],
  ])("refuses %j with one line and status 1, starting nothing", (args, message) => {
    const r = pasta([...args, "--", "true"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  it("prints its version and usage", () => {
    expect(pasta(["--version"]).out).toMatch(/^pasta \(passt-ts\) \d+\.\d+\.\d+/);
    const h = pasta(["--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/--udp-ports/);
    expect(h.out).toMatch(/--ns-ifname/);
  });
});

describe.runIf(isRoot())("pasta's life cycle", () => {
  let world: World;
  beforeAll(() => {
    ensureTunOpen();
    world = new World("pl");
  });
  afterAll(() => world?.remove());

  // Both ways of starting: the native launcher (one Node), and the script
  // alone, which starts its networking process as a second Node.
  const starts = [
    ["the native launcher", OURS],
    ["the script alone", OURS_SCRIPT],
  ] as const;

  it.each(starts)("exits with the command's status (%s)", (_, impl) => {
    expect(pasta(["-f", "--config-net", "-t", "none", "-T", "none", "--", "sh", "-c", "exit 3"], world.host.name, impl).code).toBe(3);
    expect(pasta(["-f", "-t", "none", "-T", "none", "--", "true"], world.host.name, impl).code).toBe(0);
    const r = pasta(["-f", "-t", "none", "-T", "none", "--", "/nonexistent/cmd"], world.host.name, impl);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/nonexistent/);
  });

  it.each(starts)("starts its Node without NODE_EXTRA_CA_CERTS and with malloc's tunable, and gives the command the user's environment (%s)", (_, impl) => {
    // The command prints the variables, then the environment its parent, the
    // networking process, was started with (/proc/PID/environ is the one
    // exec gave it).
    const script = 'echo "cmd: $NODE_EXTRA_CA_CERTS ${GLIBC_TUNABLES-unset}"; tr "\\0" "\\n" < /proc/$PPID/environ';
    const argv = ["ip", "netns", "exec", world.host.name, ...asUnprivileged([...impl.argv, "-f", "-t", "none", "-T", "none", "--", "sh", "-c", script])];
    const r = spawnSync(argv[0] as string, argv.slice(1), {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "GLIBC_TUNABLES")), NODE_EXTRA_CA_CERTS: "/nonexistent/extra-ca.pem" },
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toContain("cmd: /nonexistent/extra-ca.pem unset");
    expect(lines).toContain("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536");
    expect(lines).toContain("PASST_TS_HIDDEN_NODE_EXTRA_CA_CERTS=/nonexistent/extra-ca.pem");
    expect(lines.filter((l) => l.startsWith("NODE_EXTRA_CA_CERTS="))).toEqual([]);
  });

  it("fails with a clear message and status 1 when a forwarded port is in use", async () => {
    const holder = start(inNetns(world.host.name, ["socat", "UDP4-LISTEN:7102,reuseaddr", "STDOUT"]), { deadlineMs: 30_000 });
    await settle(300);
    const r = pasta(["-f", "--config-net", "-t", "none", "-T", "none", "-u", "7102", "--", "sleep", "5"], world.host.name);
    holder.kill("SIGKILL");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot bind UDP port 7102 \(IPv4\) on the host: EADDRINUSE/);
  });

  it.each(starts)("joins a process's namespaces by PID, detaches, writes its pid file and cleans up on SIGTERM (%s)", async (_, impl) => {
    const dir = mkdtempSync(join(tmpdir(), "pasta-pid-"));
    chmodSync(dir, 0o777);
    const pidFile = join(dir, "pasta.pid");
    // An unprivileged user's own user and network namespace, as podman makes.
    const target: Running = start(["ip", "netns", "exec", world.host.name, ...asUnprivileged(["unshare", "-Urn", "sleep", "60"])], { deadlineMs: 60_000 });
    try {
      // ip netns exec, setpriv and unshare each exec the next: the PID is sleep's.
      const tpid = target.child.pid as number;
      await until(() => readFileSync(`/proc/${tpid}/comm`, "utf8").trim() === "sleep", 5000, "the target namespace");
      const t0 = Date.now();
      const r = pasta(["--config-net", "-t", "none", "-T", "none", "-q", "-P", pidFile, String(tpid)], world.host.name, impl);
      expect(r.code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(20_000);
      const pid = Number(readFileSync(pidFile, "utf8").trim());
      expect(existsSync(`/proc/${pid}`)).toBe(true);
      expect(execFileSync("nsenter", ["-t", String(tpid), "-n", "ip", "-o", "addr"], { encoding: "utf8" })).toMatch(/203\.0\.113\.2\/24/);
      const lo = echoServer(inNetns(world.host.name, []), 4, "127.0.0.1", 7104);
      await settle(300);
      const ex = await exchange(inNs(tpid, []), dir, 4, GW4, 7104, 77);
      lo.kill("SIGKILL");
      expect(ex.detail).toBe("SAME");
      process.kill(pid, "SIGTERM");
      await until(() => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"), 5000, "pasta to exit");
      expect(existsSync(pidFile)).toBe(false);
    } finally {
      target.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("joins a named namespace with --netns as root, detaches, and exits once the namespace is deleted", async () => {
    const ns = new Netns(uniqueName("pln"));
    const dir = mkdtempSync(join(tmpdir(), "pasta-netns-"));
    const pidFile = join(dir, "pasta.pid");
    let pid = 0;
    try {
      const r = spawnSync("ip", ["netns", "exec", world.host.name, ...OURS.argv, "--config-net", "-t", "none", "-T", "none", "-q", "--netns", ns.name, "-I", "tapx", "-P", pidFile], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status).toBe(0);
      pid = Number(readFileSync(pidFile, "utf8"));
      await until(() => ns.sh(["ip", "-o", "addr", "show", "tapx"]).includes("203.0.113.2/24"), 5000, "tapx configured");
      expect(ns.sh(["ip", "route"])).toMatch(/default via 203\.0\.113\.1 dev tapx/);
      // What podman does when the container goes: the namespace's file is unmounted and removed.
      ns.remove();
      await until(() => !existsSync(`/proc/${pid}`), 5000, "pasta to exit after its namespace was deleted");
      expect(existsSync(pidFile)).toBe(false);
    } finally {
      ns.remove();
      if (pid > 0 && existsSync(`/proc/${pid}`)) process.kill(pid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("-F uses a tap descriptor it inherits instead of making one, and configures it with --config-net", async () => {
    const ns = new Netns(uniqueName("plf"));
    const dir = mkdtempSync(join(tmpdir(), "pasta-fd-"));
    chmodSync(dir, 0o755);
    const pidFile = join(dir, "pasta.pid");
    let pid = 0;
    try {
      // Opens a tap called tapf inside the namespace (python3's fcntl: TUNSETIFF, IFF_TAP | IFF_NO_PI) and execs pasta on it as fd 3.
      const opener = [
        "import fcntl, os, struct, sys",
        "fd = os.open('/dev/net/tun', os.O_RDWR)",
        "fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', b'tapf', 0x0002 | 0x1000))",
        "os.dup2(fd, 3); os.set_inheritable(3, True)",
        "os.execvp(sys.argv[1], sys.argv[1:])",
      ].join("\n");
      const args = ["-F", "3", "--netns", ns.name, "--config-net", "-t", "none", "-T", "none", "-u", "none", "-U", "none", "-q", "-P", pidFile];
      const r = spawnSync("ip", ["netns", "exec", ns.name, "python3", "-c", opener, "ip", "netns", "exec", world.host.name, ...OURS.argv, ...args], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status, r.stderr).toBe(0);
      pid = Number(readFileSync(pidFile, "utf8"));
      await until(() => ns.sh(["ip", "-o", "addr", "show", "tapf"]).includes("203.0.113.2/24"), 5000, "tapf configured");
      const echo = echoServer(inNetns(world.remote.name, []), 4, REMOTE4, 7108);
      try {
        await settle(200);
        const ex = await exchange(inNetns(ns.name, []), dir, 4, REMOTE4, 7108, 300);
        expect(ex.ok, ex.detail).toBe(true);
      } finally {
        echo.kill("SIGKILL");
      }
    } finally {
      if (pid > 0 && existsSync(`/proc/${pid}`)) process.kill(pid, "SIGKILL");
      ns.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("with --dns-forward sends DNS for the forward address to the --dns-host resolver, and the answer comes from the forward address", async () => {
    const resolver = echoServer(inNetns(world.remote.name, []), 4, REMOTE4, 53);
    const p = await startPasta(world, OURS, ["-f", "--config-net", "-t", "none", "-T", "none", "--dns-forward", "169.254.1.1", "--dns-host", REMOTE4]);
    try {
      await settle(300);
      // socat's connected socket takes the answer only from 169.254.1.1:53.
      const ex = await exchange(inNs(p.nsPid, []), p.dir, 4, "169.254.1.1", 53, 100);
      expect(ex.detail).toBe("SAME");
    } finally {
      resolver.kill("SIGKILL");
      await p.stop();
    }
  });

  it("with --map-guest-addr reaches the host's own address, which the namespace's own address shadows", async () => {
    const onHost = echoServer(inNetns(world.host.name, []), 4, HOST4, 7106);
    const p = await startPasta(world, OURS, ["-f", "--config-net", "-t", "none", "-T", "none", "--map-guest-addr", "169.254.1.2"]);
    try {
      await settle(300);
      const ex = await exchange(inNs(p.nsPid, []), p.dir, 4, "169.254.1.2", 7106, 100);
      expect(ex.detail).toBe("SAME");
    } finally {
      onHost.kill("SIGKILL");
      await p.stop();
    }
  });

  it("with --no-map-gw sends datagrams for the gateway to the real gateway", async () => {
    const real = echoServer(inNetns(world.remote.name, []), 4, GW4, 7105);
    const p = await startPasta(world, OURS, ["-f", "--config-net", "-t", "none", "-T", "none", "--no-map-gw"]);
    try {
      await settle(300);
      const ex = await exchange(inNs(p.nsPid, []), p.dir, 4, GW4, 7105, 64);
      expect(ex.detail).toBe("SAME");
    } finally {
      real.kill("SIGKILL");
      await p.stop();
    }
  });
});

function readlinkNs(pid: number): string {
  try {
    return execFileSync("readlink", [`/proc/${pid}/ns/net`], { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

/** Retries an exchange until it comes back intact or `ms` pass (auto forwards appear on the next rescan, every second). */
async function eventually(attempt: () => Promise<{ ok: boolean; detail: string }>, ms = 6000): Promise<{ ok: boolean; detail: string }> {
  const deadline = Date.now() + ms;
  let last = await attempt();
  while (!last.ok && Date.now() < deadline) {
    await settle(250);
    last = await attempt();
  }
  return last;
}

describe.runIf(isRoot())("pasta and -u auto / -U auto", () => {
  let w: World;
  beforeAll(() => {
    ensureTunOpen();
    w = new World("pa");
  });
  afterAll(() => w?.remove());

  it("accepts auto without a warning, and runs", () => {
    const r = pasta(["-f", "-t", "none", "-T", "none", "-u", "auto", "-U", "auto", "--", "true"], w.host.name);
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/not supported/);
  });

  it("-u auto forwards a port bound in the namespace later, from the host's loopback and from the remote", async () => {
    const p = await startPasta(w, OURS, ["-f", "--config-net", "-t", "none", "-T", "none", "-u", "auto"]);
    const servers: Running[] = [];
    try {
      await settle(1200);
      servers.push(echoServer(inNs(p.nsPid, []), 4, "0.0.0.0", 7202));
      servers.push(echoServer(inNs(p.nsPid, []), 6, "::", 7202));
      const lo4 = await eventually(() => exchange(inNetns(w.host.name, []), p.dir, 4, "127.0.0.1", 7202, 64));
      expect(lo4.detail).toBe("SAME");
      const lo6 = await eventually(() => exchange(inNetns(w.host.name, []), p.dir, 6, "::1", 7202, 64));
      expect(lo6.detail).toBe("SAME");
      const remote4 = await eventually(() => exchange(inNetns(w.remote.name, []), p.dir, 4, HOST4, 7202, 64, REMOTE4));
      expect(remote4.detail).toBe("SAME");
      const remote6 = await eventually(() => exchange(inNetns(w.remote.name, []), p.dir, 6, HOST6, 7202, 64, REMOTE6));
      expect(remote6.detail).toBe("SAME");
      expect(p.pasta.err()).not.toMatch(/not supported/);
    } finally {
      for (const s of servers) s.kill("SIGKILL");
      await p.stop();
    }
  });

  it("-U auto forwards a port bound on the host's loopback later, from the namespace's loopback", async () => {
    const p = await startPasta(w, OURS, ["-f", "--config-net", "-t", "none", "-T", "none", "-U", "auto"]);
    const servers: Running[] = [];
    try {
      await settle(1200);
      servers.push(echoServer(inNetns(w.host.name, []), 4, "127.0.0.1", 7203));
      const lo4 = await eventually(() => exchange(inNs(p.nsPid, []), p.dir, 4, "127.0.0.1", 7203, 64));
      expect(lo4.detail).toBe("SAME");
    } finally {
      for (const s of servers) s.kill("SIGKILL");
      await p.stop();
    }
  });
});

describe.runIf(isRoot())("pasta detached by the native launcher", () => {
  let world: World;
  beforeAll(() => {
    ensureTunOpen();
    world = new World("pd");
  });
  afterAll(() => world?.remove());

  it("reports a mistake found after detaching (the networking process has no terminal) with status 1", async () => {
    // The launcher's scan takes `-t 80000` as a value; only the parser, in the detached process, refuses it.
    const target: Running = start(["ip", "netns", "exec", world.host.name, ...asUnprivileged(["unshare", "-Urn", "sleep", "30"])], { deadlineMs: 30_000 });
    try {
      const tpid = target.child.pid as number;
      await until(() => readFileSync(`/proc/${tpid}/comm`, "utf8").trim() === "sleep", 5000, "the target namespace");
      const r = pasta(["--config-net", "-t", "80000", String(tpid)], world.host.name);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^pasta: .*port 80000 out of range/);
      const bad = pasta(["--config-net", "-t", "none", "--userns", "/nonexistent", "--netns", "/nonexistent"], world.host.name);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/^pasta: .*\/nonexistent/);
    } finally {
      target.kill("SIGKILL");
    }
  });
});
