/**
 * @x/udp-core inside @x/engine with real sockets: both splice directions,
 * the tap path out and in, and gateway mapping, IPv4 and IPv6.
 *
 * One level below apps/pasta's end-to-end tests: no pasta command, launcher
 * or netlink configuration. The engine runs in fixture.mjs (the built
 * packages, composed as apps/pasta/src/network.ts does), started inside the
 * World's host namespace; the tap it opens lives in a third, "guest",
 * namespace that this file configures with `ip -n`.
 *
 *   remote ns (World)          host ns (World)                 guest ns
 *   lo 198.51.100.1  ──veth──  eth0 203.0.113.2/24             tap0 203.0.113.2/24
 *      2001:db8:2::1           2001:db8:1::2/64                     2001:db8:1::2/64
 *   eth0 = the gateway         fixture.mjs ══ tap fd ═════════ default via .1 / ::1
 *   203.0.113.1, 2001:db8:1::1 lo: echo 7003 (-U), 7004 (gw)   lo: echo 7002 (-u splice)
 *   lo: echo 7001                                              tap0: echo 7005 (-u tap)
 *
 * Nothing here touches the network namespace vitest runs in: every socket,
 * client and server is in one of these namespaces, each made for this run
 * and removed in afterAll, along with every process started.
 *
 * The fixture prints its counters on SIGUSR2 (a snapshot) and on SIGTERM
 * (then exits); each scenario checks that exactly its datagrams moved, in
 * its directions, and that nothing was dropped.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GW4,
  GW6,
  HOST4,
  HOST6,
  Netns,
  REMOTE4,
  REMOTE6,
  World,
  ensureTunOpen,
  isRoot,
  start,
  uniqueName,
  until,
  type Running,
} from "@x/harness";
import type { SessionCounters } from "@x/engine";

type Family = import("@x/l2").Family;
type Dir = "fromGuest" | "toGuest" | "spliceToNs" | "spliceToHost";
const DIRS: Dir[] = ["fromGuest", "toGuest", "spliceToNs", "spliceToHost"];
const DROPS = ["malformed", "noBinding", "capReached", "sendError"] as const;

type Counters = SessionCounters;

const FIXTURE = fileURLToPath(new URL("./fixture.mjs", import.meta.url));

/** Ports: remote echo, -u (splice target on the guest's loopback), -U, gateway echo, -u (tap target). */
const P_REMOTE = 7001;
const P_SPLICE_IN = 7002;
const P_SPLICE_OUT = 7003;
const P_GW = 7004;
const P_TAP_IN = 7005;

const TAP = "tap0";
const TAP_MTU = 65520;
/** The largest UDP payload in one frame on the tap. */
const maxTap = (f: Family): number => TAP_MTU - (f === 4 ? 20 : 40) - 8;
/** The largest UDP payload over IPv4 (and what the issue asks for splice, both families). */
const MAX_UDP4 = 65507;

const lo = (f: Family): string => (f === 4 ? "127.0.0.1" : "::1");
const host = (f: Family): string => (f === 4 ? HOST4 : HOST6);
const gw = (f: Family): string => (f === 4 ? GW4 : GW6);
const remote = (f: Family): string => (f === 4 ? REMOTE4 : REMOTE6);
const bracket = (f: Family, a: string): string => (f === 6 ? `[${a}]` : a);

let world: World | undefined;
let guest: Netns | undefined;
let fixture: Running | undefined;
let dir = "";
const servers: Running[] = [];

/** A socat UDP echo server in namespace `ns` on addr:port (a child per peer, each reply from the server's port). */
function echoServer(ns: string, f: Family, addr: string, port: number): void {
  const listen = `UDP${f}-LISTEN:${port},bind=${bracket(f, addr)},fork,reuseaddr${f === 6 ? ",ipv6only=1" : ""}`;
  servers.push(start(["ip", "netns", "exec", ns, "socat", "-b", "70000", listen, "PIPE"], { deadlineMs: 120_000 }));
}

/** Whether something in `ns` has a UDP socket bound to addr:port. */
function bound(ns: string, f: Family, addr: string, port: number): boolean {
  const out = execFileSync("ip", ["netns", "exec", ns, "ss", "-Hlun", `( sport = :${port} )`], { encoding: "utf8", timeout: 5000 });
  return out.includes(`${bracket(f, addr)}:${port}`);
}

let seq = 0;
/** Datagrams the scenarios that ran saw move, per direction, for the final check. */
const tally: Record<Dir, number> = { fromGuest: 0, toGuest: 0, spliceToNs: 0, spliceToHost: 0 };

/**
 * Sends one datagram of `size` bytes from namespace `ns` to addr:port with
 * socat (a connected socket: a reply from any other address or port is
 * discarded by the kernel) and resolves with what came back.
 */
function exchange(
  ns: string,
  f: Family,
  addr: string,
  port: number,
  size: number,
  source?: string,
  waitSeconds = 1,
): Promise<{ same: boolean; got: number; err: string }> {
  const seed = ++seq;
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  const file = join(dir, `x${seed}`);
  writeFileSync(file, data);
  const fd = openSync(file, "r");
  const bind = source ? `,bind=${bracket(f, source)}` : "";
  // -t: how long to wait for the reply once the datagram is sent (stdin at EOF).
  const argv = ["netns", "exec", ns, "socat", "-b", "70000", "-t", String(waitSeconds), "-T", "4", "-", `UDP${f}:${bracket(f, addr)}:${port}${bind}`];
  return new Promise((resolve) => {
    const child = spawn("ip", argv, { stdio: [fd, "pipe", "pipe"], timeout: 8000, killSignal: "SIGKILL" });
    closeSync(fd);
    const out: Buffer[] = [];
    let err = "";
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.on("close", (code, signal) => {
      const got = Buffer.concat(out);
      rmSync(file, { force: true });
      resolve({ same: got.equals(data), got: got.length, err: `${err}${code ? ` exit ${code}` : ""}${signal ? ` ${signal}` : ""}` });
    });
  });
}

/** Each exchange must come back whole; returns the payload bytes sent. */
async function roundTrips(ns: string, f: Family, addr: string, port: number, sizes: number[], source?: string): Promise<number> {
  let bytes = 0;
  for (const size of sizes) {
    const r = await exchange(ns, f, addr, port, size, source);
    expect(r, `${size} B to ${addr}:${port} from ${ns}: got ${r.got} B ${r.err}\nfixture stderr: ${fixture?.err().slice(-2000)}`).toMatchObject({ same: true });
    bytes += size;
  }
  return bytes;
}

/** Asks the fixture for its counters (SIGUSR2) and waits for the line. */
async function snapshot(): Promise<Counters> {
  const f = fixture as Running;
  const count = (): number => f.out().split("\n").filter((l) => l.startsWith("snapshot ")).length;
  const before = count();
  f.child.kill("SIGUSR2");
  await until(() => count() > before, 5000, "the fixture's counters snapshot");
  const lines = f.out().split("\n").filter((l) => l.startsWith("snapshot "));
  return JSON.parse((lines[lines.length - 1] as string).slice("snapshot ".length)) as Counters;
}

/**
 * Checks that between two snapshots exactly `want` moved (datagrams and
 * payload bytes per direction; every other direction still) and that no
 * datagram was dropped anywhere.
 */
function expectMoved(before: Counters, after: Counters, want: Partial<Record<Dir, { datagrams: number; bytes: number }>>): void {
  const moved: Record<string, unknown> = {};
  const expected: Record<string, unknown> = {};
  for (const d of DIRS) {
    const b = before.udp[d];
    const a = after.udp[d];
    moved[d] = {
      datagrams: a.datagrams - b.datagrams,
      bytes: a.bytes - b.bytes,
      drops: DROPS.reduce((s, k) => s + a[k] - b[k], 0),
    };
    expected[d] = { datagrams: want[d]?.datagrams ?? 0, bytes: want[d]?.bytes ?? 0, drops: 0 };
  }
  expect(moved).toEqual(expected);
  for (const d of DIRS) tally[d] += want[d]?.datagrams ?? 0;
  expect(after.malformed - before.malformed, "frames the session found malformed").toBe(0);
  expect(after.udp.events.openErrors - before.udp.events.openErrors, "socket open errors").toBe(0);
}

function ifindexOf(ns: Netns, ifname: string): number {
  const m = /^(\d+):/.exec(ns.sh(["ip", "-o", "link", "show", "dev", ifname]));
  if (!m) throw new Error(`no ifindex for ${ifname} in ${ns.name}`);
  return Number(m[1]);
}

describe.runIf(isRoot())("udp-core in @x/engine, real sockets and a real tap", () => {
  beforeAll(async () => {
    ensureTunOpen();
    dir = mkdtempSync(join(tmpdir(), "udp-int-"));
    world = new World("ui");
    guest = new Netns(uniqueName("uig"));
    const h = world.host;
    const g = guest;

    fixture = start(
      [
        "ip", "netns", "exec", h.name, process.execPath, FIXTURE,
        "--guest", g.name, "--tap", TAP,
        "--ifname", "eth0", "--ifindex", String(ifindexOf(h, "eth0")),
        "--addr4", `${HOST4}/24`, "--gw4", GW4, "--addr6", `${HOST6}/64`, "--gw6", GW6,
        "-u", String(P_SPLICE_IN), "-u", String(P_TAP_IN), "-U", String(P_SPLICE_OUT),
        "--max-seconds", "150", "--debug",
      ],
      { deadlineMs: 160_000 },
    );
    const f = fixture;
    await until(() => f.out().includes("ready ") || f.child.exitCode !== null, 10_000, "the fixture to be ready").catch((e: Error) => {
      throw new Error(`${e.message}\nstderr: ${f.err()}`);
    });
    if (!f.out().includes("ready ")) throw new Error(`fixture failed: ${f.err()}`);

    // What pasta's --config-net would do, by hand.
    g.sh(["ip", "link", "set", TAP, "mtu", String(TAP_MTU)]);
    g.sh(["ip", "addr", "add", `${HOST4}/24`, "dev", TAP]);
    g.sh(["ip", "addr", "add", `${HOST6}/64`, "dev", TAP, "nodad"]);
    g.sh(["ip", "link", "set", TAP, "up"]);
    g.sh(["ip", "route", "add", "default", "via", GW4, "dev", TAP, "onlink"]);
    g.sh(["ip", "-6", "route", "add", "default", "via", GW6, "dev", TAP]);

    for (const fam of [4, 6] as const) {
      echoServer(world.remote.name, fam, remote(fam), P_REMOTE);
      echoServer(h.name, fam, lo(fam), P_SPLICE_OUT);
      echoServer(h.name, fam, lo(fam), P_GW);
      echoServer(g.name, fam, lo(fam), P_SPLICE_IN);
      echoServer(g.name, fam, host(fam), P_TAP_IN);
    }
    const w = world;
    await until(
      () =>
        ([4, 6] as const).every(
          (fam) =>
            bound(w.remote.name, fam, remote(fam), P_REMOTE) &&
            bound(h.name, fam, lo(fam), P_SPLICE_OUT) &&
            bound(h.name, fam, lo(fam), P_GW) &&
            bound(g.name, fam, lo(fam), P_SPLICE_IN) &&
            bound(g.name, fam, host(fam), P_TAP_IN),
        ),
      10_000,
      "the echo servers to bind",
    );

    // A fresh veth drops the first IPv6 neighbour solicitation: the first
    // round trip between the World's host and remote takes about a second
    // (measured without the engine: ~1050 ms, then ~10 ms). Warm the path up
    // from the host namespace itself, which the engine does not see.
    const warm = await Promise.all(([4, 6] as const).map((fam) => exchange(h.name, fam, remote(fam), P_REMOTE, 8, undefined, 3)));
    warm.forEach((r, k) => {
      if (!r.same) throw new Error(`host -> remote IPv${k === 0 ? 4 : 6} without the engine: no echo (${r.err})`);
    });
  }, 40_000);

  afterAll(async () => {
    // Kill by PID what we started, then remove the namespaces (which also
    // kills anything left in them, such as socat's forked children).
    if (fixture) {
      fixture.kill("SIGKILL");
      await Promise.race([fixture.exited, new Promise((r) => setTimeout(r, 2000))]);
    }
    for (const s of servers) s.kill("SIGKILL");
    await Promise.race([Promise.all(servers.map((s) => s.exited)), new Promise((r) => setTimeout(r, 2000))]);
    guest?.remove();
    world?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 15_000);

  describe.each([4, 6] as const)("IPv%i", (f) => {
    const sizes = { splice: [200, MAX_UDP4], tap: [1400, maxTap(f)] };

    it("splice init -> guest (-u): host loopback to the guest's loopback echo server, up to 65507 B", async () => {
      const h = (world as World).host.name;
      const before = await snapshot();
      const bytes = await roundTrips(h, f, lo(f), P_SPLICE_IN, sizes.splice);
      const after = await snapshot();
      // Requests relayed into the namespace, replies back to the host.
      expectMoved(before, after, { spliceToNs: { datagrams: 2, bytes }, spliceToHost: { datagrams: 2, bytes } });
      expect(after.udp.events.spliceFlowsOpened - before.udp.events.spliceFlowsOpened).toBeGreaterThanOrEqual(1);
    }, 20_000);

    it("splice guest -> init (-U): the guest's loopback to the host loopback echo server, up to 65507 B", async () => {
      const g = (guest as Netns).name;
      const before = await snapshot();
      const bytes = await roundTrips(g, f, lo(f), P_SPLICE_OUT, sizes.splice);
      const after = await snapshot();
      // -U listens in the namespace: requests go to the host, replies back into the namespace.
      expectMoved(before, after, { spliceToHost: { datagrams: 2, bytes }, spliceToNs: { datagrams: 2, bytes } });
    }, 20_000);

    it("tap out: guest -> remote echo server through the tap, reply framed back", async () => {
      const g = (guest as Netns).name;
      const before = await snapshot();
      const bytes = await roundTrips(g, f, remote(f), P_REMOTE, sizes.tap);
      const after = await snapshot();
      expectMoved(before, after, { fromGuest: { datagrams: 2, bytes }, toGuest: { datagrams: 2, bytes } });
      expect(after.udp.events.bindingsOpened - before.udp.events.bindingsOpened).toBeGreaterThanOrEqual(1);
    }, 20_000);

    it("tap in (-u): remote -> host address -> guest echo server through the tap", async () => {
      const r = (world as World).remote.name;
      const before = await snapshot();
      // From the remote's own address: its veth holds the gateway address, which the guest would map back to the host.
      const bytes = await roundTrips(r, f, host(f), P_TAP_IN, sizes.tap, remote(f));
      const after = await snapshot();
      // Requests become frames for the guest, its replies frames from the guest.
      expectMoved(before, after, { toGuest: { datagrams: 2, bytes }, fromGuest: { datagrams: 2, bytes } });
    }, 20_000);

    it("gateway mapping: guest -> gateway address -> host loopback echo server, reply from the gateway", async () => {
      const g = (guest as Netns).name;
      const before = await snapshot();
      // socat's socket is connected to gw:port, so the reply only arrives if its source was rewritten to the gateway.
      const bytes = await roundTrips(g, f, gw(f), P_GW, sizes.tap);
      const after = await snapshot();
      expectMoved(before, after, { fromGuest: { datagrams: 2, bytes }, toGuest: { datagrams: 2, bytes } });
    }, 20_000);
  });

  it("counts a frame the tap refuses (link down) as a send error, not as delivered", async () => {
    const g = guest as Netns;
    const tapName = g.sh(["ip", "-o", "link"]).match(/^\d+: (\S+?)[:@]/gm)?.map((l) => l.replace(/^\d+: /, "").replace(/[:@]$/, "")).find((n) => n !== "lo") as string;
    g.sh(["ip", "link", "set", tapName, "down"]);
    try {
      const before = await snapshot();
      const r = await exchange((world as World).remote.name, 4, host(4), P_TAP_IN, 100, remote(4), 0.3);
      expect(r.same).toBe(false);
      const after = await snapshot();
      expect(after.udp.toGuest.datagrams - before.udp.toGuest.datagrams).toBe(0);
      expect(after.udp.toGuest.sendError - before.udp.toGuest.sendError).toBe(1);
    } finally {
      g.sh(["ip", "link", "set", tapName, "up"]);
      // The kernel speaks on the link as it comes up (router solicitation,
      // neighbour discovery); let that pass so the last snapshot is final.
      await new Promise((r) => setTimeout(r, 1500));
      await snapshot();
    }
  }, 20_000);

  it("on SIGTERM the fixture prints its counters as JSON and exits 0", async () => {
    const last = await snapshot();
    const f = fixture as Running;
    f.kill("SIGTERM");
    const code = await Promise.race([f.exited, new Promise((r) => setTimeout(() => r("still running"), 5000))]);
    expect(code, f.err().slice(-2000)).toBe(0);
    const lines = f.out().trim().split("\n");
    const final = JSON.parse(lines[lines.length - 1] as string) as Counters;
    // The guest's kernel may send a frame of its own (an MLD report, an
    // ICMP error) between the snapshot and SIGTERM: the datagram counters
    // must match exactly, the frame count may only have grown.
    expect(final.udp).toEqual(last.udp);
    expect(final.framesIn).toBeGreaterThanOrEqual(last.framesIn);
    // Everything that moved was a scenario's: with the whole file, 8 each way
    // for splice (2 scenarios x 2 datagrams x 2 families), 12 for the tap (3 x 2 x 2).
    for (const d of DIRS) {
      expect(final.udp[d].datagrams, d).toBe(tally[d]);
      // The one drop is the frame refused while the tap was down, above.
      for (const k of DROPS) expect(final.udp[d][k], `${d}.${k}`).toBe(d === "toGuest" && k === "sendError" ? 1 : 0);
    }
    expect(final.udp.events.openErrors).toBe(0);
    // The guest resolved the gateway through our ARP or NDP responder.
    if (tally.fromGuest > 0) expect(final.answered).toBeGreaterThanOrEqual(1);
  }, 15_000);
});
