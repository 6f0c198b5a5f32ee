/**
 * What the options of the 2024_12_11 release mean, seen from the traffic,
 * for ours and the C pasta side by side:
 *
 * - where a -t connection from the host's loopback lands in the namespace:
 *   on the namespace's own address by default, on its loopback with
 *   --host-lo-to-ns-lo, and through the tap from the gateway address with
 *   --no-splice (the server in the namespace prints its peer);
 * - -o: the source address the remote sees for the namespace's TCP
 *   connections and UDP flows, and --outbound-if4 binding them to the
 *   host's interface;
 * - --freebind: a -t address the host does not have is bound with it, and
 *   refused without it;
 * - --ns-mac-addr: the tap's MAC address.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GW4, HOST4, REMOTE4, World, asUnprivileged, ensureTunOpen, isRoot, start, until, type Running } from "@x/harness";
import { OURS, inNetns, inNs, nsShSync, run, startPasta, type PastaRun } from "./topology.js";
import { pastaSides, type Side } from "./icmp-tools.js";
import { Scenarios } from "./scenarios.js";

/** A second address of the host, for -o. */
const OUT4 = "203.0.113.9";
/** An address the host does not have, for --freebind. */
const ABSENT4 = "203.0.113.99";
const PORT = 18200;
const NS_MAC = "02:00:5e:10:20:30";

/** Accepts TCP connections (every address) and UDP datagrams (one address); answers each with the peer's address. */
const PEER_SERVER = String.raw`
import socket, sys, threading
port, addr = int(sys.argv[1]), sys.argv[2]
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("0.0.0.0", port)); t.listen(8)
# UDP bound to one address, so that replies come from where the requests went.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, port))
def udp():
    while True:
        d, p = u.recvfrom(64); u.sendto(p[0].encode(), p)
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
while True:
    c, p = t.accept(); c.sendall(p[0].encode()); c.close()
`;

/** Connects (TCP) and sends (UDP) to host:port; prints "tcp=PEER udp=PEER" as the server saw it. */
const PEER_CLIENT = String.raw`
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
def tcp():
    t = socket.create_connection((host, port), timeout=5); a = t.recv(64).decode(); t.close(); return a
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5); u.sendto(b"?", (host, port)); return u.recvfrom(64)[0].decode()
def attempt(f):
    try: return f()
    except Exception as e: return type(e).__name__
print("tcp=%s udp=%s" % (attempt(tcp), attempt(udp)))
`;

const results = new Scenarios();
const sides = pastaSides(OURS);

/** Runs and records one scenario; ours and the oracle are judged, Debian's older pasta only recorded. */
function scenario(side: Side, name: string, fn: () => Promise<string>): Promise<void> {
  return results.run(side.label, name, fn, side.ours || side.oracle);
}

describe.runIf(isRoot()).each(sides)("pasta ($label): what the options mean", (side) => {
  let world: World;
  let dir: string;
  const procs: Running[] = [];
  const runs: PastaRun[] = [];

  beforeAll(() => {
    ensureTunOpen();
    world = new World("po");
    // On the loopback, so that it is no address of the template interface (which C copies into the namespace).
    world.host.sh(["ip", "addr", "add", `${OUT4}/32`, "dev", "lo"]);
    dir = mkdtempSync(join(tmpdir(), "pasta-options-"));
    chmodSync(dir, 0o755);
    for (const [n, text] of [
      ["server.py", PEER_SERVER],
      ["client.py", PEER_CLIENT],
    ] as const) {
      writeFileSync(join(dir, n), text);
      chmodSync(join(dir, n), 0o644);
    }
    const remote = start(inNetns(world.remote.name, ["python3", "-u", join(dir, "server.py"), String(PORT), REMOTE4]), { deadlineMs: 300_000 });
    procs.push(remote);
  });

  afterAll(async () => {
    for (const r of runs) await r.stop();
    for (const p of procs) p.kill("SIGKILL");
    world?.remove();
    rmSync(dir, { recursive: true, force: true });
    writeReport();
  });

  /**
   * Starts pasta with `forwards` and `args` and a peer server in its
   * namespace; returns what a client sees from each of `from` (a
   * namespace's name and the address it sends to).
   */
  async function seenFrom(forwards: string[], args: string[], from: [string, string][]): Promise<string[]> {
    const p = await startPasta(world, side.impl, ["-f", "--config-net", ...forwards, "-T", "none", "-U", "none", ...args]);
    runs.push(p);
    const server = start(inNs(p.nsPid, ["python3", "-u", join(dir, "server.py"), String(PORT), "0.0.0.0"]), { deadlineMs: 300_000 });
    procs.push(server);
    try {
      await until(() => server.out().includes("ready"), 5_000, "the namespace's server");
      const out: string[] = [];
      for (const [ns, addr] of from) {
        const r = await run(inNetns(ns, ["python3", join(dir, "client.py"), addr, String(PORT)]), 15_000);
        if (!r.ok) throw new Error(r.out.trim().split("\n").slice(-1)[0] ?? "client failed");
        out.push(r.out.trim());
      }
      return out;
    } finally {
      await p.stop();
      server.kill("SIGKILL");
    }
  }

  /** What a host-loopback client sees of the namespace's server through -t and -u. */
  async function landing(args: string[]): Promise<string> {
    const [seen] = await seenFrom(["-t", String(PORT), "-u", String(PORT)], args, [[world.host.name, "127.0.0.1"]]);
    return seen as string;
  }

  it("limits -u %lo/PORT to the host's loopback and -u %eth0/PORT to that interface", async () => {
    await scenario(side, `-u %lo/${PORT} and -u %eth0/${PORT}: UDP from the host's loopback and from the remote`, async () => {
      const from: [string, string][] = [
        [world.host.name, "127.0.0.1"],
        [world.remote.name, HOST4],
      ];
      const udp = (line: string): string => /udp=(\S+)/.exec(line)?.[1] ?? line;
      const lo = (await seenFrom(["-t", "none", "-u", `%lo/${PORT}`], [], from)).map(udp);
      const eth = (await seenFrom(["-t", "none", "-u", `%eth0/${PORT}`], [], from)).map(udp);
      // The remote sends from its own address on the link, the host's gateway.
      const want = [HOST4, "TimeoutError", "TimeoutError", GW4];
      const got = [...lo, ...eth];
      if (got.join() !== want.join()) throw new Error(`%lo: loopback ${lo[0]}, remote ${lo[1]}; %eth0: loopback ${eth[0]}, remote ${eth[1]}`);
      return `%lo: loopback answered, remote not; %eth0: remote answered (seen as ${GW4}), loopback not`;
    });
  }, 60_000);

  it("lands host-loopback -t/-u traffic on the namespace's own address by default", async () => {
    await scenario(side, "host loopback -> namespace (default): peer seen in the namespace", async () => {
      const seen = await landing([]);
      if (seen !== `tcp=${HOST4} udp=${HOST4}`) throw new Error(`saw ${seen}`);
      return seen;
    });
  }, 30_000);

  it("lands it on the namespace's loopback with --host-lo-to-ns-lo", async () => {
    await scenario(side, "host loopback -> namespace (--host-lo-to-ns-lo): peer seen", async () => {
      const seen = await landing(["--host-lo-to-ns-lo"]);
      if (seen !== "tcp=127.0.0.1 udp=127.0.0.1") throw new Error(`saw ${seen}`);
      return seen;
    });
  }, 30_000);

  it("carries it through the tap, from the gateway address, with --no-splice", async () => {
    await scenario(side, "host loopback -> namespace (--no-splice): peer seen", async () => {
      const seen = await landing(["--no-splice"]);
      if (seen !== `tcp=${GW4} udp=${GW4}`) throw new Error(`saw ${seen}`);
      return seen;
    });
  }, 30_000);

  async function outbound(args: string[]): Promise<string> {
    const p = await startPasta(world, side.impl, ["-f", "--config-net", "-t", "none", "-T", "none", "-u", "none", "-U", "none", ...args]);
    runs.push(p);
    const r = await run(inNs(p.nsPid, ["python3", join(dir, "client.py"), REMOTE4, String(PORT)]), 15_000);
    await p.stop();
    if (!r.ok) throw new Error(r.out.trim().split("\n").slice(-1)[0] ?? "client failed");
    return r.out.trim();
  }

  for (const [label, args, want] of [
    ["without -o", [], HOST4],
    [`with -o ${OUT4}`, ["-o", OUT4], OUT4],
    ["with --outbound-if4 eth0", ["--outbound-if4", "eth0"], HOST4],
  ] as const) {
    it(`namespace -> remote, ${label}: the source the remote sees`, async () => {
      await scenario(side, `namespace -> remote (TCP and UDP), ${label}: source the remote sees`, async () => {
        const seen = await outbound([...args]);
        if (seen !== `tcp=${want} udp=${want}`) throw new Error(`saw ${seen}`);
        return seen;
      });
    }, 30_000);
  }

  it("binds a -t address the host lacks with --freebind, and refuses it without", async () => {
    await scenario(side, `-t ${ABSENT4}/${PORT}: refused without --freebind, bound with it`, async () => {
      const argv = (extra: string[]): string[] =>
        inNetns(world.host.name, asUnprivileged([...side.impl.argv, "-f", "--config-net", "-t", `${ABSENT4}/${PORT}`, "-T", "none", "-u", "none", "-U", "none", ...extra, "--", "true"]));
      const refused = await run(argv([]), 15_000);
      const bound = await run(argv(["--freebind"]), 15_000);
      if (refused.ok) throw new Error("started without --freebind");
      if (!bound.ok) throw new Error(`--freebind: ${bound.out.trim().split("\n").slice(-1)[0] ?? ""}`);
      const why = refused.out.split("\n").find((l) => /bind/i.test(l) && !/^Command failed/.test(l)) ?? "";
      return `without: exit 1${why ? ` (${why.trim()})` : ""}; with: exit 0`;
    });
  }, 30_000);

  it("sets the tap's MAC address with --ns-mac-addr", async () => {
    await scenario(side, `--ns-mac-addr ${NS_MAC}: the tap's address`, async () => {
      const p = await startPasta(world, side.impl, ["-f", "--config-net", "-t", "none", "-T", "none", "-u", "none", "-U", "none", "--ns-mac-addr", NS_MAC]);
      runs.push(p);
      const link = nsShSync(p.nsPid, ["ip", "-o", "link", "show", "eth0"]);
      await p.stop();
      if (!link.includes(`link/ether ${NS_MAC}`)) throw new Error(link.trim());
      return `link/ether ${NS_MAC}`;
    });
  }, 30_000);
});

function writeReport(): void {
  const about = "Generated by apps/pasta/test/options.e2e.test.ts.";
  results.write(new URL("./options-report-latest.md", import.meta.url), "pasta: what the options mean, ours and the C implementation", about, sides.map((s) => s.label));
}
