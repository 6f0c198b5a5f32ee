/**
 * pasta end to end, TCP, v4 and v6, side by side with the C pasta (the
 * 2024_12_11 oracle when it is beside the project, else Debian's package).
 * Ours must pass every scenario; the C results are recorded in
 * tcp-report-latest.md beside this file and asserted too, except where the
 * C release is known to differ (a refused connect, which it turns into a
 * time-out; its descriptor count under a flood, which is only recorded).
 *
 * Theory of operation. Every describe block builds its own World (a "host"
 * namespace where pasta runs as nobody, and a "remote" one behind the
 * host's gateway playing the internet, see @x/harness), starts a pasta in
 * it (startPasta: its namespace is reached with nsenter through the PID of
 * the command's sleep), runs real clients and servers in the three
 * namespaces, and takes it all down afterwards: every process it started
 * is killed by PID with its descendants (Procs), pasta is stopped, the
 * namespaces are removed, the data directory is deleted.
 *
 *   main world    -t 10000-10063 -t %lo/10070 -T 10100-10163:
 *                 bulk transfers with socat on every path, each way;
 *                 half-close; refused; 200 connections; an idle one; a
 *                 reset; a receiver that pauses; throughput
 *   auto world    -t auto -T none: a listener opened later is forwarded
 *   storm world   -t none -T none (ours --max-flows 512): malformed frames
 *                 and a SYN flood written into the tap with scapy, then a
 *                 transfer and a live connection that must have survived
 *
 * Ports: 10000-10063 are forwarded by -t (servers in pasta's namespace),
 * 10100-10163 by -T (servers on the host's loopback), 10200+ are servers
 * on the host's loopback reached through the gateway address (map-gw; not
 * forwarded, or they would loop), 10300+ servers in the remote namespace,
 * 10400+ the -t auto listeners. Each scenario takes fresh ports, so no
 * leftover of one can answer for the next.
 *
 * Paths, as passt(1) names them: "tap" when pasta carries the connection
 * between a socket on the host and its own TCP towards the namespace's
 * tap; "splice" when both ends are sockets on loopback (pasta joins them
 * with pipes); "map-gw" when the namespace connects to the gateway's
 * address and pasta connects to the host's loopback instead. Servers in
 * pasta's namespace bind the wildcard address: the C pasta's splice path
 * connects to the namespace's own address (203.0.113.2, 2001:db8:1::2),
 * not to its loopback.
 *
 * Nothing is timed as an assertion: durations are reported, timeouts only
 * bound a step so that a hang fails instead of waiting forever.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GW4, GW6, HOST4, HOST6, REMOTE4, REMOTE6, World, ensureTunOpen, fdCount, isRoot, until } from "@x/harness";
import { OURS, inNetns, inNs, networkPid, nsShSync, run, settle, startPasta, type PastaRun } from "./topology.js";
import { pastaSides, type Side } from "./icmp-tools.js";
import {
  PY,
  Procs,
  STORM,
  lastJson,
  randomFile,
  runTool,
  serverJson,
  socatTransfer,
  startTool,
  throughput,
  throughputTool,
  toolArgv,
  type Endpoint,
} from "./tcp-tools.js";

const MiB = 1 << 20;
const BASE = ["-f", "--config-net"];
/** Bound to the host's loopback interface only (`%IFNAME`). */
const LO_ONLY = 10070;
const MAIN_ARGS = [...BASE, "-t", "10000-10063", "-t", `%lo/${LO_ONLY}`, "-T", "10100-10163"];
const AUTO_ARGS = [...BASE, "-t", "auto", "-T", "none"];
const MAX_FLOWS = 512;
const STORM_ARGS = (side: Side): string[] => [...BASE, "-t", "none", "-T", "none", ...(side.ours ? ["--max-flows", String(MAX_FLOWS)] : [])];
/** pasta's MAC address on the tap (both implementations' default). */
const PASTA_MAC = "9a:55:9a:55:9a:55";
const TRANSFER_BOUND_MS = 90_000;
const sides = pastaSides(OURS);
const tput = throughputTool();

// ---------------------------------------------------------------- recording

interface Outcome {
  ok: boolean;
  note: string;
}
const results = new Map<string, Map<string, Outcome>>();

/** Runs one scenario for one side and records it; throws (fails the test) for ours, and for the C side where `judgeC`. */
async function scenario(side: Side, name: string, fn: () => Promise<string>, judgeC = true): Promise<void> {
  const row = results.get(name) ?? new Map<string, Outcome>();
  results.set(name, row);
  const t0 = Date.now();
  try {
    const note = await fn();
    row.set(side.label, { ok: true, note: `${note} (${Date.now() - t0} ms)` });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    row.set(side.label, { ok: false, note: msg.replace(/\s+/g, " ").slice(0, 300) });
    // Debian's older pasta (what CI has without the oracle) is recorded, not judged.
    if (side.ours || (judgeC && side.oracle)) throw e;
  }
}

/** Records a scenario as skipped (for a missing tool), with the reason. */
function skipped(side: Side, name: string, why: string): void {
  const row = results.get(name) ?? new Map<string, Outcome>();
  results.set(name, row);
  row.set(side.label, { ok: true, note: `SKIPPED: ${why}` });
}

// ---------------------------------------------------------------- worlds

interface TcpWorld {
  world: World;
  p: PastaRun;
  procs: Procs;
  dir: string;
  /** Random files by size in MiB, with their SHA-256. */
  files: Map<number, { path: string; sha: string }>;
  /** The next free port of each pool. */
  next: Record<Pool, number>;
}
type Pool = "t" | "T" | "gw" | "remote" | "auto";
const POOL_BASE: Record<Pool, number> = { t: 10000, T: 10100, gw: 10200, remote: 10300, auto: 10400 };

function port(s: TcpWorld, pool: Pool): number {
  const p = s.next[pool]++;
  if ((pool === "t" || pool === "T") && p > POOL_BASE[pool] + 63) throw new Error(`no forwarded ${pool} port left`);
  return p;
}

/**
 * A world with a pasta of `side` started with `args`, for the describe
 * block that calls it: built before its tests, with random files of
 * `sizes` MiB, and taken down after them, even on failure.
 */
function tcpWorld(side: Side, name: string, what: string, args: string[], sizes: number[]): TcpWorld {
  const s = { procs: new Procs(), files: new Map(), next: { ...POOL_BASE } } as unknown as TcpWorld;
  beforeAll(async () => {
    ensureTunOpen();
    s.dir = mkdtempSync(join(tmpdir(), "pasta-tcp-"));
    chmodSync(s.dir, 0o777);
    for (const n of sizes) s.files.set(n, randomFile(s.dir, `random-${n}MiB`, n * MiB));
    s.world = new World(name);
    try {
      s.p = await startPasta(s.world, side.impl, args);
      await until(() => nsShSync(s.p.nsPid, ["ip", "-6", "-o", "addr", "show", "scope", "global", "-tentative"]).includes(HOST6), 10_000, "the namespace's IPv6 address past DAD");
    } catch (e) {
      const row = results.get(`setup: ${what}`) ?? new Map<string, Outcome>();
      results.set(`setup: ${what}`, row);
      row.set(side.label, { ok: false, note: (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").slice(0, 300) });
      // Debian's older pasta may not take every option: its scenarios then fail, recorded and not judged.
      if (side.ours || side.oracle) throw e;
      return;
    }
    await settle(300);
  }, 60_000);
  afterAll(async () => {
    await s.procs.killAll();
    await s.p?.stop();
    s.world?.remove();
    if (s.dir) rmSync(s.dir, { recursive: true, force: true });
  });
  return s;
}

/** Where a command runs: pasta's namespace, the remote, or the host namespace. */
const NS = (s: TcpWorld): string[] => inNs(s.p.nsPid, []);
const REMOTE = (s: TcpWorld): string[] => inNetns(s.world.remote.name, []);
const HOSTNS = (s: TcpWorld): string[] => inNetns(s.world.host.name, []);

const fam = (f: 4 | 6) => ({
  remote: f === 4 ? REMOTE4 : REMOTE6,
  host: f === 4 ? HOST4 : HOST6,
  gw: f === 4 ? GW4 : GW6,
  lo: f === 4 ? "127.0.0.1" : "::1",
  any: f === 4 ? "0.0.0.0" : "::",
});

/** A connection path: where its server listens, where its client connects from and to. */
interface Path {
  name: string;
  pool: Pool;
  server: (s: TcpWorld, f: 4 | 6, port: number) => Endpoint;
  client: (s: TcpWorld, f: 4 | 6, port: number) => Endpoint;
}

const PATHS: Path[] = [
  {
    name: "namespace -> remote (tap)",
    pool: "remote",
    server: (s, f, port) => ({ prefix: REMOTE(s), family: f, addr: fam(f).remote, port }),
    client: (s, f, port) => ({ prefix: NS(s), family: f, addr: fam(f).remote, port }),
  },
  {
    name: "remote -> host address -> namespace (-t, tap)",
    pool: "t",
    server: (s, f, port) => ({ prefix: NS(s), family: f, addr: fam(f).any, port }),
    client: (s, f, port) => ({ prefix: REMOTE(s), family: f, addr: fam(f).host, port, bind: fam(f).remote }),
  },
  {
    name: "host loopback -> namespace (-t, splice)",
    pool: "t",
    server: (s, f, port) => ({ prefix: NS(s), family: f, addr: fam(f).any, port }),
    client: (s, f, port) => ({ prefix: HOSTNS(s), family: f, addr: fam(f).lo, port }),
  },
  {
    name: "namespace loopback -> host loopback (-T, splice)",
    pool: "T",
    server: (s, f, port) => ({ prefix: HOSTNS(s), family: f, addr: fam(f).lo, port }),
    client: (s, f, port) => ({ prefix: NS(s), family: f, addr: fam(f).lo, port }),
  },
  {
    name: "namespace -> gateway -> host loopback (map-gw)",
    pool: "gw",
    server: (s, f, port) => ({ prefix: HOSTNS(s), family: f, addr: fam(f).lo, port }),
    client: (s, f, port) => ({ prefix: NS(s), family: f, addr: fam(f).gw, port }),
  },
];

/** The endpoints of `path` for family f on a fresh port. */
function ends(s: TcpWorld, path: Path, f: 4 | 6): { server: Endpoint; client: Endpoint } {
  const p = port(s, path.pool);
  return { server: path.server(s, f, p), client: path.client(s, f, p) };
}

/** The namespace's client towards a fresh server port on the remote. */
function toRemote(s: TcpWorld, f: 4 | 6): { server: Endpoint; client: Endpoint } {
  return ends(s, PATHS[0] as Path, f);
}

const FAMILIES = [4, 6] as const;

// ---------------------------------------------------------------- scenarios

describe.runIf(isRoot()).each(sides)("pasta ($label): TCP on every path", (side) => {
  const s = tcpWorld(side, side.ours ? "tmo" : "tmc", "pasta -t 10000-10063 -T 10100-10163", MAIN_ARGS, [1, 10, 20]);

  for (const f of FAMILIES) {
    for (const path of PATHS) {
      for (const direction of ["client-sends", "server-sends"] as const) {
        const name = `v${f} 10 MiB, ${direction}: ${path.name}`;
        it(name, async () => {
          await scenario(side, name, async () => {
            const file = s.files.get(10) as { path: string; sha: string };
            const { server, client } = ends(s, path, f);
            const r = await socatTransfer(s.procs, server, client, file.path, direction, TRANSFER_BOUND_MS);
            const note = `port ${server.port}: ${r.bytes} bytes arrived, sha256 ${r.sha === file.sha ? "equal" : `${r.sha.slice(0, 12)} != ${file.sha.slice(0, 12)}`}`;
            if (r.sha !== file.sha) throw new Error(`${note}${r.detail ? `; ${r.detail}` : ""}`);
            return note;
          });
        }, TRANSFER_BOUND_MS + 30_000);
      }
    }
  }

  for (const f of FAMILIES) {
    for (const path of PATHS.slice(0, 3)) {
      const name = `v${f} half-close: request, shutdown(SHUT_WR), answer after EOF: ${path.name}`;
      it(name, async () => {
        await scenario(side, name, async () => {
          const { server, client } = ends(s, path, f);
          const srv = await startTool(s.procs, server, "halfclose-server");
          const r = await runTool<{ sent: number; sha: string; reply: { got?: number; sha?: string; raw?: string } }>(client, "halfclose-client", [100_000], 30_000);
          await serverJson(srv, 5000, "halfclose-server").catch(() => undefined);
          const note = `sent ${r.sent} bytes then shut the write side; the answer says the server got ${r.reply.got ?? JSON.stringify(r.reply)}`;
          if (r.reply.got !== r.sent || r.reply.sha !== r.sha) throw new Error(`wrong or missing answer: ${note}`);
          return note;
        });
      }, 60_000);
    }
  }

  for (const f of FAMILIES) {
    const name = `v${f} -t %lo/${LO_ONLY}: reached from the host's loopback (splice), refused from the remote`;
    it(name, async () => {
      await scenario(side, name, async () => {
        const server = { prefix: NS(s), family: f, addr: fam(f).any, port: LO_ONLY };
        await startTool(s.procs, server, "echo-server");
        const local = await runTool<{ result: string }>({ prefix: HOSTNS(s), family: f, addr: fam(f).lo, port: LO_ONLY }, "connect", [3], 15_000);
        const remote = await runTool<{ result: string }>({ prefix: REMOTE(s), family: f, addr: fam(f).host, port: LO_ONLY, bind: fam(f).remote }, "connect", [3], 15_000);
        const note = `from the host's loopback: ${local.result}; from the remote to the host's address: ${remote.result}`;
        if (local.result !== "connected" || remote.result !== "refused") throw new Error(note);
        return note;
      });
    }, 40_000);
  }

  for (const f of FAMILIES) {
    const name = `v${f} connect to a closed port on the remote: ECONNREFUSED (attempt bounded by 3 s)`;
    it(name, async () => {
      // The C release answers the SYN with a RST without ACK, which Linux
      // ignores while connecting: recorded, not judged, for the C side.
      await scenario(
        side,
        name,
        async () => {
          const { client } = toRemote(s, f);
          const r = await runTool<{ result: string; ms: number }>(client, "connect", [3], 15_000);
          const note = `connect() -> ${r.result} after ${r.ms} ms`;
          if (r.result !== "refused") throw new Error(note);
          return note;
        },
        false,
      );
    }, 30_000);
  }

  for (const f of FAMILIES) {
    // Recorded, not judged, for C: the oracle's passt lost one of 100 concurrent
    // connections on CI (apps/passt/test/tcp.e2e.test.ts).
    const name = `v${f} 200 concurrent connections namespace -> remote echo server, each echoes its own 1000 bytes`;
    it(name, async () => {
      await scenario(side, name, async () => {
        const { server, client } = toRemote(s, f);
        await startTool(s.procs, server, "echo-server");
        const r = await runTool<{ n: number; good: number; errors: string[]; unfinished: number }>(client, "concurrent", [200], 60_000);
        const note = `${r.good}/${r.n} echoed correctly, ${r.unfinished} unfinished, errors: ${r.errors.join(",") || "none"}`;
        if (r.good !== 200) throw new Error(note);
        return note;
      }, false);
    }, 90_000);
  }

  for (const f of FAMILIES) {
    const name = `v${f} idle connection: echo, 10 s of silence, echo again (namespace -> remote)`;
    it(name, async () => {
      await scenario(side, name, async () => {
        const { server, client } = toRemote(s, f);
        await startTool(s.procs, server, "echo-server");
        const r = await runTool<{ first: boolean; second: boolean }>(client, "idle", [10], 40_000);
        const note = `first echo ${r.first ? "right" : "wrong"}, after 10 s ${r.second ? "right" : "wrong"}`;
        if (!r.first || !r.second) throw new Error(note);
        return note;
      });
    }, 60_000);
  }

  for (const f of FAMILIES) {
    const name = `v${f} remote closes with SO_LINGER 0: the namespace's client sees ECONNRESET (read bounded by 3 s)`;
    it(name, async () => {
      await scenario(side, name, async () => {
        const { server, client } = toRemote(s, f);
        await startTool(s.procs, server, "reset-server");
        const r = await runTool<{ result: string; ms: number }>(client, "reset-client", [3], 20_000);
        const note = `recv() -> ${r.result} ${r.ms} ms after the request`;
        if (r.result !== "reset") throw new Error(note);
        return note;
      });
    }, 40_000);
  }

  for (const f of FAMILIES) {
    for (const receiver of ["namespace", "remote"] as const) {
      const name = `v${f} 20 MiB to a receiver in the ${receiver} that stops reading for 5 s after 1 MiB, then resumes`;
      it(name, async () => {
        await scenario(side, name, async () => {
          const file = s.files.get(20) as { path: string; sha: string };
          const { server, client } = toRemote(s, f);
          let got: { bytes: number; sha: string };
          if (receiver === "namespace") {
            await startTool(s.procs, server, "source-server", [file.path]);
            got = await runTool<{ bytes: number; sha: string }>(client, "sink-client", [MiB, 5], TRANSFER_BOUND_MS);
          } else {
            const srv = await startTool(s.procs, server, "sink-server", [MiB, 5]);
            const sent = await run(toolArgv(client, "source-client", [file.path]), TRANSFER_BOUND_MS);
            if (!sent.ok) throw new Error(`the sender failed: ${sent.out.trim().replace(/\s+/g, " ").slice(-200)}`);
            got = await serverJson<{ bytes: number; sha: string }>(srv, 10_000, "sink-server");
          }
          const note = `${got.bytes} bytes arrived, sha256 ${got.sha === file.sha ? "equal" : "DIFFERENT"}`;
          if (got.sha !== file.sha) throw new Error(note);
          return note;
        });
      }, TRANSFER_BOUND_MS + 30_000);
    }
  }

  for (const f of FAMILIES) {
    for (const path of [PATHS[0], PATHS[2]] as Path[]) {
      const name = `v${f} throughput, ${tput.name === "iperf" ? "iperf2 (iperf3 not installed)" : "iperf3"} 3 s: ${path.name}`;
      it(name, async () => {
        if (tput.name === "none") return skipped(side, name, "neither iperf3 nor iperf is installed");
        await scenario(side, name, async () => {
          // The server binds the wildcard on -t paths: the C pasta splices to the namespace's address, not its loopback.
          const { server, client } = ends(s, path, f);
          const t = await throughput(s.procs, tput.name as "iperf3" | "iperf", server, client, 3);
          return `${t.gbps.toFixed(2)} Gbit/s${t.retransmits !== undefined ? `, ${t.retransmits} retransmissions` : ""} (${tput.version})`;
        });
      }, 60_000);
    }
  }
});

describe.runIf(isRoot()).each(sides)("pasta ($label) -t auto", (side) => {
  const s = tcpWorld(side, side.ours ? "tao" : "tac", "pasta -t auto -T none", AUTO_ARGS, []);

  for (const f of FAMILIES) {
    const name = `v${f} -t auto: a listener opened in the namespace after start is reached from the host's loopback`;
    it(name, async () => {
      await scenario(side, name, async () => {
        const p = port(s, "auto");
        await startTool(s.procs, { prefix: NS(s), family: f, addr: fam(f).any, port: p }, "echo-server");
        // pasta rescans the namespace's /proc/net/tcp{,6} every second; 10 s bound the wait.
        const r = await runTool<{ ok: boolean; ms?: number; attempts: number; last?: string }>({ prefix: HOSTNS(s), family: f, addr: fam(f).lo, port: p }, "probe", [10], 20_000);
        const note = r.ok ? `port ${p} echoed ${r.ms} ms after the listener was up (${r.attempts} attempts)` : `port ${p} not reached in 10 s (${r.attempts} attempts, last: ${r.last})`;
        if (!r.ok) throw new Error(note);
        return note;
      });
    }, 40_000);
  }
});

describe.runIf(isRoot()).each(sides)("pasta ($label): malformed TCP frames and a SYN flood in the tap", (side) => {
  const s = tcpWorld(side, side.ours ? "tso" : "tsc", `pasta -t none -T none${side.ours ? ` --max-flows ${MAX_FLOWS}` : ""}`, STORM_ARGS(side), [1]);

  const name = `storm: ~3,300 malformed or stray TCP frames and 3,000 SYNs to a listener, then pasta alive, fds bounded (ours: by --max-flows ${MAX_FLOWS}; C: recorded), a live connection (ours) and a 1 MiB transfer still work`;
  it(name, async () => {
    await scenario(side, name, async () => {
      const netPid = side.ours ? networkPid(s.p) : (s.p.pasta.child.pid as number);
      const live = toRemote(s, 4);
      const flood = toRemote(s, 4);
      await startTool(s.procs, live.server, "echo-server");
      await startTool(s.procs, flood.server, "listen-only");
      const go = join(s.dir, "go");
      const hold = s.procs.start(toolArgv(live.client, "hold", [go]), 150_000);
      await until(() => /PORT \d+/.test(hold.out()), 10_000, "the live connection's first echo").catch((e: Error) => {
        throw new Error(`${e.message}; the client said: ${`${hold.out()} ${hold.err()}`.trim().replace(/\s+/g, " ").slice(-200)}`);
      });
      const livePort = Number(/PORT (\d+)/.exec(hold.out())?.[1]);
      const fds0 = fdCount(netPid);

      const r = await run(inNs(s.p.nsPid, [PY, "-c", STORM, "eth0", PASTA_MAC, HOST4, REMOTE4, HOST6, REMOTE6, String(flood.server.port), String(livePort), String(live.server.port)]), 180_000);
      const sent = lastJson<{ total: number; kinds: Record<string, number> }>(r, "storm");
      const fdsRight = fdCount(netPid);
      const lost = txDropped(s.p);
      await settle(3000);
      const alive = s.p.pasta.child.exitCode === null && s.p.pasta.child.signalCode === null;
      if (!alive) throw new Error(`pasta exited: ${s.p.pasta.child.exitCode ?? s.p.pasta.child.signalCode}; stderr: ${s.p.pasta.err().slice(-300)}`);
      const fds1 = fdCount(netPid);

      writeFileSync(go, "go");
      const held = await serverJson<{ first: boolean; second: string }>(hold, 10_000, "the live connection's second echo");

      const file = s.files.get(1) as { path: string; sha: string };
      const after = toRemote(s, 4);
      const t = await socatTransfer(s.procs, after.server, after.client, file.path, "client-sends", TRANSFER_BOUND_MS);
      const note = `sent ${sent.total} frames (${Object.entries(sent.kinds).map(([k, v]) => `${k} ${v}`).join(", ")}); the tap dropped ${lost}; fds ${fds0} -> ${fdsRight} right after -> ${fds1} 3 s later; the live connection after the storm: ${held.second}; 1 MiB after: sha256 ${t.sha === file.sha ? "equal" : "DIFFERENT"}`;
      if (t.sha !== file.sha) throw new Error(`${note}${t.detail ? `; ${t.detail}` : ""}`);
      if (side.ours) {
        // A socket per flow at most, plus the process's own and a little slack.
        if (fdsRight > fds0 + MAX_FLOWS + 32 || fds1 > fds0 + MAX_FLOWS + 32) throw new Error(`descriptors not bounded by --max-flows: ${note}`);
        if (held.second !== "echoed") throw new Error(`the live connection did not survive out-of-window segments: ${note}`);
      }
      return note;
    });
  }, 300_000);
});

/** Frames the namespace's tap dropped on the way to pasta (its TX queue overflowing), since it was made. */
function txDropped(p: PastaRun): number {
  const out = nsShSync(p.nsPid, ["ip", "-s", "-j", "link", "show", "dev", "eth0"]);
  const j = JSON.parse(out) as { stats64?: { tx?: { dropped?: number } } }[];
  return j[0]?.stats64?.tx?.dropped ?? 0;
}

// ---------------------------------------------------------------- report

afterAll(() => {
  const cols = sides.map((s) => s.label);
  const cell = (o: Outcome | undefined): string => (o === undefined ? "not run" : o.note.startsWith("SKIPPED") ? o.note : `${o.ok ? "PASS" : "FAIL"}: ${o.note}`.replace(/\|/g, "/"));
  const lines = [
    "# pasta TCP end-to-end report",
    "",
    `Generated by apps/pasta/test/tcp.e2e.test.ts on ${new Date().toISOString()}.`,
    `C side: ${sides[1]?.impl.argv[0] ?? "none found"}. pasta runs as uid 65534 in the host namespace. Throughput tool: ${tput.name === "none" ? "none installed" : tput.version}${tput.name === "iperf" ? " (iperf3 is not installed: iperf2 measured instead)" : ""}.`,
    "The C side is judged on every scenario but the refused connect (a known difference: its RST lacks ACK, so connect() times out), its descriptor count under the flood and whether the live connection survives the storm's out-of-window data segments (recorded: the C release resets it).",
    "Throughput figures are what this machine gave at that moment (other jobs may share it): no thresholds.",
    "",
    `| scenario | ${cols.join(" | ")} |`,
    `| --- | ${cols.map(() => "---").join(" | ")} |`,
    ...[...results].map(([name, row]) => `| ${name} | ${cols.map((c) => cell(row.get(c))).join(" | ")} |`),
  ];
  const text = `${lines.join("\n")}\n`;
  writeFileSync(fileURLToPath(new URL("./tcp-report-latest.md", import.meta.url)), text);
  process.stdout.write(`\n${text}`);
});
