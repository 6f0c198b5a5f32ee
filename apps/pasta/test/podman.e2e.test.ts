/**
 * Real rootless podman (5.8.6, built by scripts/install-podman.sh) running
 * containers with `--network pasta`, where podman's `pasta` is ours, and
 * side by side the C pasta (the 2024_12_11 oracle when it is beside the
 * project, judged; else Debian's package, recorded, not judged). The results
 * go to podman-report-latest.md beside this file.
 *
 * Theory of operation. Each side builds its own World (@x/harness: a "host"
 * namespace, and a "remote" one behind the host's gateway playing the
 * internet). podman runs as an unprivileged test user (passtts-podman,
 * created here if missing, with /etc/subuid and /etc/subgid ranges) inside
 * the host namespace through `ip netns exec`, which also makes the host's
 * resolver the test's DNS server (/etc/netns/HOST/resolv.conf); /sys/fs/cgroup
 * is mounted again inside, since `ip netns exec` mounts a fresh /sys without
 * it. Everything podman keeps lives in one temporary directory per side: its
 * configuration (containers.conf naming the side's helper directory, whose
 * `pasta` is a two-line wrapper that logs its argv and execs the side's
 * pasta; runc as the runtime; cgroupfs), its vfs storage, XDG_RUNTIME_DIR,
 * HOME. The image is imported from a busybox-static rootfs with the test's
 * static probe tool (tooling/podman/build-image.sh); no registry is used.
 *
 * Per side: one `podman run --rm` (the common case), then one long-lived
 * container with a TCP and a UDP port published (`-p`), which `podman exec`
 * runs the clients in; at the end it is removed, and every pasta process
 * that podman started must be gone. Servers: in the remote namespace a UDP
 * echo, a file server (10 MiB of random bytes) and a DNS server at the
 * address the host's resolv.conf names; in the host namespace a TCP and a
 * UDP echo for host.containers.internal (169.254.1.2, pasta's
 * --map-guest-addr).
 *
 * Cleanup (afterAll, also after a failure): the containers are removed,
 * every process of podman's rootless user namespace (found from its pause
 * process), every process whose command line or environment names the
 * side's directory, and every process left in the World's namespaces are
 * killed by PID; then the namespaces, /etc/netns/HOST and the directory are
 * removed. The test user stays (it is reused by later runs).
 *
 * Runs as root (skipped otherwise, as every end-to-end test), and needs
 * podman 5 at /usr/local/bin/podman (or $PODMAN), runc, conmon, netavark
 * and newuidmap, which scripts/install-podman.sh installs: as root, their
 * absence fails the test rather than skipping it.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HOST4, HOST6, REMOTE4, REMOTE6, World, ensureTunOpen, isRoot, start, until, type Running } from "@x/harness";
import { OURS } from "./topology.js";
import { parsePing, pastaSides, type Side } from "./icmp-tools.js";
import { Scenarios, oneLine } from "./scenarios.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const PODMAN = process.env.PODMAN ?? "/usr/local/bin/podman";
const BUILD_IMAGE = join(REPO, "tooling/podman/build-image.sh");
const USER = "passtts-podman";
const IMAGE = "localhost/passtts-probe:latest";
const MiB = 1 << 20;
const FILE_MIB = 10;
/** Where the container's servers listen, and the host ports podman publishes for them. */
const CTR_TCP = 8080;
const CTR_UDP = 8081;
const PUB_TCP = 18080;
const PUB_UDP = 18081;
/** Servers in the remote namespace. */
const R_UDP = 9000;
const R_FILE = 9002;
/** Servers in the host namespace, for host.containers.internal. */
const H_TCP = 9100;
const H_UDP = 9101;
/** The name the test's DNS server answers, and its records. */
const DNS_NAME = "podman-e2e.example";
const DNS_A = "198.51.100.77";
const DNS_AAAA = "2001:db8:2::77";
/** podman's addresses for pasta's DNS forward and for host.containers.internal. */
const DNS_FORWARD = "169.254.1.1";
const GUEST_ADDR = "169.254.1.2";

// ---------------------------------------------------------------- readiness

/** What of podman's setup is missing (scripts/install-podman.sh installs it all), or undefined. */
function missing(): string | undefined {
  if (!existsSync(PODMAN)) return `no ${PODMAN} (scripts/install-podman.sh builds it)`;
  try {
    const v = execFileSync(PODMAN, ["--version"], { encoding: "utf8", timeout: 10_000 });
    if (!/podman version 5\./.test(v)) return `${PODMAN} is ${v.trim()}, not podman 5`;
  } catch (e) {
    return `${PODMAN} --version failed: ${String(e)}`;
  }
  for (const [what, paths] of [
    ["runc", ["/usr/sbin/runc", "/usr/bin/runc"]],
    ["conmon", ["/usr/bin/conmon", "/usr/libexec/podman/conmon"]],
    ["netavark", ["/usr/lib/podman/netavark", "/usr/libexec/podman/netavark"]],
    ["newuidmap", ["/usr/bin/newuidmap"]],
  ] as const) {
    if (!paths.some((p) => existsSync(p))) return `no ${what} (scripts/install-podman.sh installs it)`;
  }
  return undefined;
}
// Not root: nothing here can run (as for every end-to-end test). Root without
// podman's setup is a failure, not a skip: the install script provides it.
const why = isRoot() ? missing() : undefined;
const sides = pastaSides(OURS);
const PODMAN_VERSION = !isRoot() || why ? "" : execFileSync(PODMAN, ["--version"], { encoding: "utf8" }).trim();

// ---------------------------------------------------------------- recording

const results = new Scenarios();
/** What each side's pasta was started with, as podman's debug log shows it. */
const argvSeen = new Map<string, string>();

/** Runs and records one scenario; Debian's older pasta (what CI has without the oracle) is recorded, not judged. */
function scenario(side: Side, name: string, fn: () => Promise<string>): Promise<void> {
  return results.run(side.label, name, fn, side.ours || side.oracle, 900);
}

// ---------------------------------------------------------------- processes

interface Done {
  code: number | string;
  out: string;
  err: string;
}

/** Runs argv with a deadline; resolves with its exit code and output, never rejects. */
function exec(argv: string[], timeoutMs: number): Promise<Done> {
  const [cmd, ...args] = argv;
  return new Promise((resolve) => {
    execFile(cmd as string, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      const code = !e ? 0 : e.killed ? `killed after ${timeoutMs} ms` : (e.code ?? -1);
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

/** The last JSON line a probe printed. */
function probeJson<T>(d: Done): T & { ok: boolean; error?: string } {
  const line = d.out.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`no result from the probe (exit ${d.code}): ${oneLine(`${d.out} ${d.err}`)}`);
  return JSON.parse(line) as T & { ok: boolean; error?: string };
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

function pids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Processes whose command line names the namespace path `netns`: the pasta podman started for it. */
function pastaPids(netns: string): number[] {
  return pids().filter((p) => p !== process.pid && cmdline(p).includes(`--netns ${netns}`));
}

function alive(pid: number): boolean {
  try {
    // A zombie has no command line and is as good as gone.
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits up to `ms` for the processes `list()` names to end; returns those still alive. */
async function gone(list: () => number[], ms: number): Promise<number[]> {
  await until(() => list().every((p) => !alive(p)), ms, "processes to end").catch(() => undefined);
  return list().filter(alive);
}

const describePids = (list: number[]): string => list.map((p) => `PID ${p}: ${cmdline(p).slice(0, 400)}`).join("; ");

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone */
  }
}

// ---------------------------------------------------------------- the test user

interface TestUser {
  uid: number;
  gid: number;
}

/** The test user, created with subordinate id ranges when missing. */
function ensureUser(): TestUser {
  const getent = (): string => {
    try {
      return execFileSync("getent", ["passwd", USER], { encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  };
  if (!getent()) {
    execFileSync("useradd", ["--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group", USER], { stdio: "pipe" });
  }
  const fields = getent().split(":");
  const user = { uid: Number(fields[2]), gid: Number(fields[3]) };
  for (const [file, flag] of [
    ["/etc/subuid", "--add-subuids"],
    ["/etc/subgid", "--add-subgids"],
  ] as const) {
    const text = existsSync(file) ? readFileSync(file, "utf8") : "";
    if (text.split("\n").some((l) => l.startsWith(`${USER}:`) || l.startsWith(`${user.uid}:`))) continue;
    // A fresh range past every one already given out.
    let next = 100_000;
    for (const l of text.split("\n")) {
      const [, s, n] = l.split(":");
      if (s && n) next = Math.max(next, Number(s) + Number(n));
    }
    execFileSync("usermod", [flag, `${next}-${next + 65535}`, USER], { stdio: "pipe" });
  }
  return user;
}

// ---------------------------------------------------------------- a podman world

interface PodmanWorld {
  side: Side;
  world: World;
  user: TestUser;
  dir: string;
  probe: string;
  file: { path: string; sha: string };
  servers: Running[];
  /** The name of the long-lived container. */
  name: string;
  /** Its network namespace, and the pasta processes podman started for it. */
  netns: string;
  pasta: number[];
  /** The namespace path of the `run --rm` container. */
  rmNetns: string;
  etcNetns: string;
  /** Whether the setup got far enough to run scenarios. */
  ready: boolean;
}

function writeConfig(s: PodmanWorld, impl: string[]): void {
  const d = s.dir;
  for (const sub of ["home/.config/containers", "xdg", "helpers", "storage", "run", "tmp"]) mkdirSync(join(d, sub), { recursive: true });
  chmodSync(join(d, "xdg"), 0o700);
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  // podman finds `pasta` in helper_binaries_dir: a wrapper that logs how it was called, then becomes the side's pasta.
  // PODMAN_E2E_PASTA_EXTRA (debugging only): options appended to what podman passes, %p standing for
  // the wrapper's PID, e.g. "--debug --log-file %p.log" (the logs are kept in the side's directory and
  // printed at the end); with --debug or --trace, podman's --quiet is left out (they exclude each other).
  const extraList = (process.env.PODMAN_E2E_PASTA_EXTRA ?? "").split(/\s+/).filter(Boolean);
  const extra = extraList.map((a) => quote(a.replace(/%p\.log/g, `${d}/pasta-%p.log`)).replace(/%p/g, () => "'$$'"));
  const dropQuiet = extraList.some((a) => a === "--debug" || a === "-d" || a === "--trace");
  writeFileSync(
    join(d, "helpers/pasta"),
    [
      "#!/bin/sh",
      `echo "$$ $*" >> ${quote(join(d, "pasta-argv.log"))}`,
      ...(dropQuiet ? ['for a do shift; [ "$a" = --quiet ] || set -- "$@" "$a"; done'] : []),
      `exec ${impl.map(quote).join(" ")} "$@"${extra.length ? ` ${extra.join(" ")}` : ""}`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  writeFileSync(
    join(d, "containers.conf"),
    [
      "[containers]",
      'log_driver = "k8s-file"',
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      'runtime = "runc"',
      `helper_binaries_dir = ["${join(d, "helpers")}", "/usr/lib/podman", "/usr/libexec/podman", "/usr/local/libexec/podman"]`,
      `tmp_dir = "${join(d, "tmp")}"`,
      "[engine.runtimes]",
      'runc = ["/usr/sbin/runc", "/usr/bin/runc"]',
      "[network]",
      'default_rootless_network_cmd = "pasta"',
      "",
    ].join("\n"),
  );
  writeFileSync(join(d, "storage.conf"), ["[storage]", 'driver = "vfs"', `graphroot = "${join(d, "storage")}"`, `runroot = "${join(d, "run")}"`, ""].join("\n"));
  writeFileSync(join(d, "home/.config/containers/policy.json"), '{"default":[{"type":"insecureAcceptAnything"}]}\n');
  writeFileSync(join(d, "registries.conf"), "unqualified-search-registries = []\n");
  execFileSync("chown", ["-R", `${s.user.uid}:${s.user.gid}`, d]);
}

/** The argv that runs podman as the test user in the World's host namespace. */
function podmanArgv(s: PodmanWorld, args: string[]): string[] {
  const d = s.dir;
  // `ip netns exec` gives a private mount namespace with a fresh /sys: cgroup2 is mounted again there,
  // and / made shared (rootless podman warns otherwise).
  const prep = "mount --make-rshared / 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; exec \"$@\"";
  return [
    "ip", "netns", "exec", s.world.host.name, "sh", "-c", prep, "sh",
    "setpriv", `--reuid=${s.user.uid}`, `--regid=${s.user.gid}`, "--init-groups",
    "env", "-i", `HOME=${d}/home`, `XDG_RUNTIME_DIR=${d}/xdg`, `XDG_CONFIG_HOME=${d}/home/.config`, `TMPDIR=${d}/tmp`,
    "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C",
    `CONTAINERS_CONF=${d}/containers.conf`, `CONTAINERS_STORAGE_CONF=${d}/storage.conf`, `CONTAINERS_REGISTRIES_CONF=${d}/registries.conf`,
    PODMAN, ...args,
  ];
}

function podman(s: PodmanWorld, args: string[], timeoutMs = 60_000): Promise<Done> {
  return exec(podmanArgv(s, args), timeoutMs);
}

/** Fails with podman's own words (which include pasta's output when pasta failed). */
function podmanOk(d: Done, what: string): Done {
  if (d.code === 0) return d;
  // Without its debug and info lines: what is left is podman's error, with pasta's output in it.
  const said = `${d.err}\n${d.out}`
    .split("\n")
    .filter((l) => !/level=(debug|info|trace)/.test(l))
    .join("\n");
  throw new Error(`${what}: podman exited ${d.code}: ${oneLine(said, 1200)}`);
}

/** Runs a probe in the long-lived container. */
async function inCtr(s: PodmanWorld, args: string[], timeoutMs = 30_000): Promise<Done> {
  return podman(s, ["exec", s.name, ...args], timeoutMs);
}

const inHost = (s: PodmanWorld, argv: string[]): string[] => ["ip", "netns", "exec", s.world.host.name, ...argv];
const inRemote = (s: PodmanWorld, argv: string[]): string[] => ["ip", "netns", "exec", s.world.remote.name, ...argv];

function podmanWorld(side: Side): PodmanWorld {
  const s = { side, servers: [], pasta: [], ready: false } as unknown as PodmanWorld;
  beforeAll(async () => {
    const setup = async (): Promise<string> => {
      ensureTunOpen();
      s.user = ensureUser();
      const tar = execFileSync("bash", [BUILD_IMAGE], { encoding: "utf8", timeout: 120_000 }).trim().split("\n").pop() as string;
      s.probe = join(tar, "../probe");
      s.dir = mkdtempSync("/tmp/passtts-podman-");
      chmodSync(s.dir, 0o755);
      s.world = new World(side.ours ? "pmo" : "pmc");
      const host = s.world.host.name;
      // As systemd sets it on ordinary hosts: lets pasta open ping sockets.
      s.world.host.sh(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
      // The host's resolver, under `ip netns exec HOST`: the test's DNS server in the remote.
      s.etcNetns = `/etc/netns/${host}`;
      mkdirSync(s.etcNetns, { recursive: true });
      writeFileSync(join(s.etcNetns, "resolv.conf"), `nameserver ${REMOTE4}\n`);

      const file = join(s.dir, "random");
      const data = randomBytes(FILE_MIB * MiB);
      writeFileSync(file, data);
      chmodSync(file, 0o644);
      s.file = { path: file, sha: createHash("sha256").update(data).digest("hex") };

      const server = (argv: string[]): void => {
        s.servers.push(start(argv, { deadlineMs: 600_000 }));
      };
      server(inRemote(s, [s.probe, "udp-echo", `${REMOTE4},${REMOTE6}`, String(R_UDP)]));
      server(inRemote(s, [s.probe, "serve", `${REMOTE4},${REMOTE6}`, String(R_FILE), file]));
      server(inRemote(s, [s.probe, "dns", REMOTE4, "53", DNS_NAME, DNS_A, DNS_AAAA]));
      server(inHost(s, [s.probe, "tcp-echo", HOST4, String(H_TCP)]));
      server(inHost(s, [s.probe, "udp-echo", HOST4, String(H_UDP)]));

      writeConfig(s, side.ours ? [OURS.argv[0] as string, ...OURS.argv.slice(1)] : side.impl.argv);
      podmanOk(await podman(s, ["import", tar, IMAGE], 120_000), "podman import");
      return `${PODMAN_VERSION}; image imported from ${tar}`;
    };
    // A setup that fails fails the hook on every side: there is nothing to judge without it.
    await results.run(side.label, "setup: user, world, servers, podman configuration, image import", setup, true, 900);
    s.ready = true;
  }, 180_000);

  afterAll(async () => {
    if (s.dir && s.world) {
      await podman(s, ["rm", "--all", "--force", "--time", "0"], 30_000);
    }
    cleanupProcesses(s);
    if (s.dir && process.env.PODMAN_E2E_PASTA_EXTRA) {
      for (const f of readdirSync(s.dir).filter((n) => /^pasta-\d+\.log$/.test(n)).sort()) {
        process.stderr.write(`\n===== ${side.label}: ${f}\n${readFileSync(join(s.dir, f), "utf8")}`);
      }
    }
    for (const r of s.servers) r.kill("SIGKILL");
    s.world?.remove();
    if (s.etcNetns) rmSync(s.etcNetns, { recursive: true, force: true });
    if (s.dir) {
      try {
        rmSync(s.dir, { recursive: true, force: true });
      } catch (e) {
        process.stderr.write(`podman test: could not remove ${s.dir}: ${String(e)}\n`);
      }
    }
  }, 60_000);
  return s;
}

/** Kills, by PID, every process this side's podman left: its user namespace's, and any naming its directory. */
function cleanupProcesses(s: PodmanWorld): void {
  if (!s.dir) return;
  const victims = new Set<number>();
  for (const f of [join(s.dir, "tmp/pause.pid"), join(s.dir, "xdg/libpod/tmp/pause.pid")]) {
    try {
      const pause = Number(readFileSync(f, "utf8").trim());
      if (!(pause > 1)) continue;
      const userns = readlinkSync(`/proc/${pause}/ns/user`);
      // The host's own user namespace is never podman's: guard against a stale PID.
      if (userns === readlinkSync("/proc/self/ns/user")) continue;
      victims.add(pause);
      for (const p of pids()) {
        try {
          if (readlinkSync(`/proc/${p}/ns/user`) === userns) victims.add(p);
        } catch {
          /* gone */
        }
      }
    } catch {
      /* no pause process */
    }
  }
  for (const p of pids()) {
    if (p === process.pid) continue;
    let env = "";
    try {
      env = readFileSync(`/proc/${p}/environ`, "utf8");
    } catch {
      /* gone */
    }
    if (cmdline(p).includes(s.dir) || env.includes(`XDG_RUNTIME_DIR=${s.dir}/`)) victims.add(p);
  }
  victims.delete(process.pid);
  for (const p of victims) kill(p);
}

// ---------------------------------------------------------------- scenarios

const FAM = [
  { f: 4, remote: REMOTE4, host: HOST4, lo: "127.0.0.1" },
  { f: 6, remote: REMOTE6, host: HOST6, lo: "::1" },
] as const;

describe.runIf(isRoot() && why === undefined).each(sides)("rootless podman, --network pasta ($label)", (side) => {
  const s = podmanWorld(side);
  /** A scenario of this side: recorded, and judged for ours and the oracle. */
  const sc = (name: string, fn: () => Promise<string>): Promise<void> =>
    scenario(side, name, async () => {
      if (!s.ready) throw new Error("setup failed");
      return fn();
    });
  /** A scenario that needs the long-lived container. */
  const ctr = (name: string, fn: () => Promise<string>): Promise<void> =>
    sc(name, async () => {
      if (!s.name || !s.netns) throw new Error("the -p container did not start");
      return fn();
    });

  it("podman run --rm: the container has the host's addresses and reaches the remote over UDP", async () => {
    await sc("podman run --rm: addresses copied from the host, resolv.conf and /etc/hosts as podman writes them, UDP v4 to the remote", async () => {
      const before = existsSync(join(s.dir, "pasta-argv.log")) ? readFileSync(join(s.dir, "pasta-argv.log"), "utf8") : "";
      const script = `ip -o addr show dev eth0; echo ---; cat /etc/resolv.conf; echo ---; grep host.containers.internal /etc/hosts; echo ---; probe udp ${REMOTE4} ${R_UDP} run-rm 10`;
      const d = await podman(s, ["--log-level=debug", "run", "--rm", "--network", "pasta", IMAGE, "sh", "-c", script], 90_000);
      const argv = /pasta arguments: (.*?)"?$/m.exec(d.err)?.[1];
      if (argv) argvSeen.set(side.label, argv);
      const after = existsSync(join(s.dir, "pasta-argv.log")) ? readFileSync(join(s.dir, "pasta-argv.log"), "utf8") : "";
      s.rmNetns = /--netns (\S+)/.exec(after.slice(before.length))?.[1] ?? "";
      podmanOk(d, "podman run --rm");
      const [addrs, resolv, hosts] = d.out.split("---\n");
      const r = probeJson<{ reply?: string; ms?: number }>(d);
      const problems: string[] = [];
      if (!addrs?.includes(`${HOST4}/24`)) problems.push(`eth0 lacks ${HOST4}/24: ${oneLine(addrs ?? "")}`);
      if (!addrs?.includes(`${HOST6}/64`)) problems.push(`eth0 lacks ${HOST6}/64: ${oneLine(addrs ?? "")}`);
      if (!resolv?.includes(`nameserver ${DNS_FORWARD}`)) problems.push(`resolv.conf: ${oneLine(resolv ?? "")}`);
      if (!hosts?.includes(GUEST_ADDR)) problems.push(`/etc/hosts: ${oneLine(hosts ?? "")}`);
      if (!r.ok || r.reply !== "echo run-rm") problems.push(`UDP: ${JSON.stringify(r)}`);
      if (problems.length) throw new Error(problems.join("; "));
      return `eth0 has ${HOST4}/24 and ${HOST6}/64, nameserver ${DNS_FORWARD}, host.containers.internal ${GUEST_ADDR}; UDP echo in ${r.ms} ms`;
    });
  }, 120_000);

  it("podman run -d with -p TCP and UDP: the container starts", async () => {
    await sc(`podman run -d -p ${PUB_TCP}:${CTR_TCP}/tcp -p ${PUB_UDP}:${CTR_UDP}/udp --cap-add NET_RAW: the container starts`, async () => {
      const name = `passtts-${side.ours ? "ours" : "c"}-${process.pid}`;
      const cmd = `probe tcp-echo :: ${CTR_TCP} & probe udp-echo :: ${CTR_UDP} & exec sleep 600`;
      const d = await podman(
        s,
        ["--log-level=debug", "run", "-d", "--name", name, "--network", "pasta", "--cap-add", "NET_RAW", "-p", `${PUB_TCP}:${CTR_TCP}/tcp`, "-p", `${PUB_UDP}:${CTR_UDP}/udp`, IMAGE, "sh", "-c", cmd],
        90_000,
      );
      const argv = /pasta arguments: (.*?)"?$/m.exec(d.err)?.[1];
      if (argv) argvSeen.set(`${side.label} (-p)`, argv);
      podmanOk(d, "podman run -d");
      const inspect = podmanOk(await podman(s, ["inspect", "--format", "{{.NetworkSettings.SandboxKey}} {{.State.Pid}}", name], 30_000), "podman inspect");
      const [netns, pid] = inspect.out.trim().split(" ");
      s.netns = netns ?? "";
      s.pasta = pastaPids(s.netns);
      // The servers inside take a moment to bind (the namespace is reached through the container's PID:
      // rootless, its file is a bind mount in podman's own mount namespace).
      await until(() => {
        const listening = execFileSync("nsenter", ["-t", String(pid), "-n", "--", "ss", "-Hlntu"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        return listening.includes(`:${CTR_UDP} `) && listening.includes(`:${CTR_TCP} `);
      }, 10_000, "the container's servers");
      s.name = name;
      if (s.pasta.length === 0) throw new Error(`no process has --netns ${s.netns} in its command line: where is pasta?`);
      await new Promise((r) => setTimeout(r, 500));
      if (!s.pasta.some(alive)) throw new Error(`pasta (PIDs ${s.pasta.join(", ")}) exited within 0.5 s of the container's start`);
      return `container ${s.name}; pasta PIDs ${s.pasta.join(", ") || "none found"}; netns ${s.netns}`;
    });
  }, 120_000);

  for (const { f, remote } of FAM) {
    it(`v${f}: UDP to the remote`, async () => {
        await ctr(`v${f}: UDP datagram to the remote and its reply (podman exec)`, async () => {
        const r = probeJson<{ reply?: string; ms?: number; local?: string }>(await inCtr(s, ["probe", "udp", remote, String(R_UDP), `udp${f}`, "10"]));
        if (!r.ok || r.reply !== `echo udp${f}`) throw new Error(`UDP to ${remote}:${R_UDP}: ${JSON.stringify(r)}`);
        return `${r.local} -> ${remote}:${R_UDP}, echoed in ${r.ms} ms`;
      });
    }, 60_000);
  }

  for (const { f, remote } of FAM) {
    it(`v${f}: ${FILE_MIB} MiB over TCP from the remote`, async () => {
        await ctr(`v${f}: ${FILE_MIB} MiB downloaded over TCP from the remote, sha256 checked`, async () => {
        const r = probeJson<{ bytes?: number; sha256?: string; ms?: number; mbps?: number }>(await inCtr(s, ["probe", "get", remote, String(R_FILE), "60"], 90_000));
        const note = `${r.bytes} bytes in ${r.ms} ms (${r.mbps?.toFixed(0)} Mbit/s), sha256 ${r.sha256 === s.file.sha ? "equal" : `${r.sha256?.slice(0, 12)} != ${s.file.sha.slice(0, 12)}`}`;
        if (!r.ok || r.sha256 !== s.file.sha) throw new Error(r.ok ? note : JSON.stringify(r));
        return note;
      });
    }, 120_000);
  }

  for (const { f, host, lo } of FAM) {
    for (const from of ["remote", "host loopback"] as const) {
      const target = from === "remote" ? host : lo;
      it(`v${f}: published TCP port from the ${from}`, async () => {
            await ctr(`v${f}: published TCP port (-p ${PUB_TCP}:${CTR_TCP}) reached from the ${from} (${target})`, async () => {
          const where = from === "remote" ? inRemote : inHost;
          const r = probeJson<{ reply?: string; ms?: number }>(await exec(where(s, [s.probe, "tcp", target, String(PUB_TCP), `tcp${f}-${from}`, "10"]), 20_000));
          if (!r.ok || r.reply !== `echo tcp${f}-${from}`) throw new Error(`TCP to ${target}:${PUB_TCP}: ${JSON.stringify(r)}`);
          return `echoed in ${r.ms} ms`;
        });
      }, 60_000);
      it(`v${f}: published UDP port from the ${from}`, async () => {
            await ctr(`v${f}: published UDP port (-p ${PUB_UDP}:${CTR_UDP}/udp) reached from the ${from} (${target})`, async () => {
          const where = from === "remote" ? inRemote : inHost;
          const r = probeJson<{ reply?: string; ms?: number; tries?: number }>(await exec(where(s, [s.probe, "udp", target, String(PUB_UDP), `udp${f}-${from}`, "10"]), 20_000));
          if (!r.ok || r.reply !== `echo udp${f}-${from}`) throw new Error(`UDP to ${target}:${PUB_UDP}: ${JSON.stringify(r)}`);
          return `echoed in ${r.ms} ms (${r.tries} tries)`;
        });
      }, 60_000);
    }
  }

  it("DNS through 169.254.1.1", async () => {
    await ctr(`DNS: ${DNS_NAME} resolved (A and AAAA) by asking ${DNS_FORWARD} only, answered by the host's resolver (the test's server in the remote)`, async () => {
      const r = probeJson<{ addrs?: string[]; ms?: number }>(await inCtr(s, ["probe", "resolve", DNS_NAME, "10", DNS_FORWARD]));
      const got = [...(r.addrs ?? [])].sort();
      if (!r.ok || !got.includes(DNS_A) || !got.includes(DNS_AAAA)) throw new Error(`resolve ${DNS_NAME} at ${DNS_FORWARD}: ${JSON.stringify(r)}`);
      return `${got.join(", ")} in ${r.ms} ms`;
    });
  }, 60_000);

  for (const proto of ["tcp", "udp"] as const) {
    it(`host.containers.internal over ${proto}`, async () => {
        const port = proto === "tcp" ? H_TCP : H_UDP;
      await ctr(`host.containers.internal (${GUEST_ADDR}, --map-guest-addr): ${proto.toUpperCase()} to a service on the host's address (${HOST4}:${port})`, async () => {
        const r = probeJson<{ reply?: string; ms?: number; remote?: string }>(await inCtr(s, ["probe", proto, "host.containers.internal", String(port), `hci-${proto}`, "10"]));
        if (!r.ok || r.reply !== `echo hci-${proto}`) throw new Error(`${proto} to host.containers.internal:${port}: ${JSON.stringify(r)}`);
        return `${r.remote} echoed in ${r.ms} ms`;
      });
    }, 60_000);
  }

  for (const { f, remote } of FAM) {
    it(`v${f}: ping the remote`, async () => {
        await ctr(`v${f}: busybox ping the remote (3 echoes; --cap-add NET_RAW)`, async () => {
        const d = await inCtr(s, ["ping", ...(f === 6 ? ["-6"] : []), "-c", "3", "-W", "3", remote], 30_000);
        const p = parsePing(d.out);
        if (p.received !== 3) throw new Error(`ping ${remote}: ${p.transmitted} sent, ${p.received} received: ${oneLine(`${d.out} ${d.err}`)}`);
        return `3/3 replies, ${p.times.map((t) => t.toFixed(2)).join(", ")} ms`;
      });
    }, 60_000);
  }

  it("pasta's failure reaches podman's error output", async () => {
    await sc("a pasta option podman passes through (--network pasta:--no-such-option): podman fails and shows pasta's message", async () => {
      const d = await podman(s, ["run", "--rm", "--network", "pasta:--no-such-option", IMAGE, "true"], 60_000);
      if (d.code === 0) throw new Error("podman run succeeded");
      if (!/no-such-option/.test(d.err)) throw new Error(`podman's error does not show pasta's message: ${oneLine(d.err)}`);
      return `exit ${d.code}: ${oneLine(d.err, 200)}`;
    });
  }, 90_000);

  it("pasta exits after podman run --rm", async () => {
    await sc("podman run --rm: pasta exits once the container is gone and podman has removed its namespace", async () => {
      if (!s.rmNetns) throw new Error("the run --rm container's namespace is unknown (no pasta was started for it?)");
      const left = await gone(() => pastaPids(s.rmNetns), 10_000);
      if (left.length) throw new Error(`pasta still runs 10 s after podman run --rm returned: ${describePids(left)}`);
      return "no process left with its --netns";
    });
  }, 30_000);

  it("pasta exits when its container is removed", async () => {
    await ctr("podman rm -f of the -p container: its pasta exits", async () => {
      if (s.pasta.length === 0) throw new Error(`no pasta process was found for the -p container (netns ${s.netns})`);
      if (!s.pasta.some(alive)) throw new Error(`pasta (PIDs ${s.pasta.join(", ")}) had already exited before podman rm -f`);
      podmanOk(await podman(s, ["rm", "--force", "--time", "0", s.name], 60_000), "podman rm -f");
      const t0 = Date.now();
      const left = await gone(() => s.pasta, 10_000);
      if (left.length) throw new Error(`pasta still runs 10 s after podman rm -f returned: ${describePids(left)}`);
      return `PIDs ${s.pasta.join(", ")} gone ${Date.now() - t0} ms after podman rm -f returned`;
    });
  }, 90_000);
});

// ---------------------------------------------------------------- report

afterAll(() => {
  if (results.rows.size === 0) return;
  const cols = sides.map((s) => s.label);
  const lines = [
    "# rootless podman with pasta: end-to-end report",
    "",
    `Generated by apps/pasta/test/podman.e2e.test.ts on ${new Date().toISOString()}.`,
    `${PODMAN_VERSION} (scripts/install-podman.sh), runc, rootless as user ${USER}, in the World's host namespace, vfs storage, an image imported from busybox-static and the test's probe (tooling/podman).`,
    `C side: ${sides[1]?.impl.argv[0] ?? "none found"}${sides[1] && !sides[1].oracle ? " (recorded, not judged)" : ""}.`,
    "",
    "How podman started pasta (its --log-level=debug):",
    "",
    ...[...argvSeen].map(([k, v]) => `- ${k}: \`pasta ${v}\``),
    "",
    ...results.table(cols),
  ];
  const text = `${lines.join("\n")}\n`;
  writeFileSync(fileURLToPath(new URL("./podman-report-latest.md", import.meta.url)), text);
  process.stdout.write(`\n${text}`);
});

if (why) {
  it("rootless podman with pasta: podman 5 and its runtime are installed (scripts/install-podman.sh)", () => {
    throw new Error(why);
  });
}
