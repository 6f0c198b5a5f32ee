/**
 * pasta as rootlesskit drives it. Debian's rootlesskit (1.1) predates its
 * pasta network driver, so the test plays rootlesskit's part: a child made
 * by `unshare -Urn` holds a new user and network namespace, and pasta is
 * started beside it, unprivileged, with the argument list rootlesskit's
 * pasta driver builds (the `--opt=value` forms, --stderr, --userns and
 * --netns as /proc paths), after the probe it runs first
 * (`pasta --host-lo-to-ns-lo --version`). rootlesskit's own subnet is
 * 10.0.2.0/24; here it is 198.51.100.128/25, from the documentation ranges.
 *
 * Checked, for ours and for the C oracle side by side: the namespace's
 * configured address, route and MTU; DNS through the --dns-forward address,
 * over UDP and over TCP, answered by a server of the test's own that the
 * host's resolv.conf names; `--tcp-ports=auto` and `--udp-ports=auto`
 * following servers started in the namespace (reached from the host's
 * loopback, spliced to the namespace's loopback as --host-lo-to-ns-lo
 * asks); pasta ending when the child does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REMOTE4, World, asUnprivileged, ensureTunOpen, isRoot, start, until, type Running } from "@x/harness";
import { OURS, inNetns, inNs, run } from "./topology.js";
import { pastaSides, type Side } from "./icmp-tools.js";
import { Scenarios } from "./scenarios.js";

const ADDR = "198.51.100.200";
const GATEWAY = "198.51.100.130";
const DNS_FWD = "198.51.100.131";
const ANSWER = "198.51.100.77";
const TCP_AUTO = 18080;
const UDP_AUTO = 15353;

/** A DNS server for one name kind: every A query is answered with ANSWER, over UDP and TCP on port 53. */
const DNS_SERVER = String.raw`
import socket, struct, sys, threading
addr, answer = sys.argv[1], socket.inet_aton(sys.argv[2])
def reply(q):
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    end = 12
    while q[end] != 0: end += q[end] + 1
    question = q[12:end + 5]
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + answer
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, 53))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((addr, 53)); t.listen(8)
def tcp():
    while True:
        c, _ = t.accept()
        n = struct.unpack("!H", c.recv(2))[0]; q = b""
        while len(q) < n: q += c.recv(n - len(q))
        r = reply(q); c.sendall(struct.pack("!H", len(r)) + r); c.close()
threading.Thread(target=tcp, daemon=True).start()
print("ready", flush=True)
while True:
    q, peer = u.recvfrom(512); u.sendto(reply(q), peer)
`;

/** Asks DNS_FWD for a name over UDP and over TCP; prints what came back and from where. */
const DNS_CLIENT = String.raw`
import json, socket, struct, sys
server = sys.argv[1]
q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x04host\x07example\x04test\x00" + struct.pack("!HH", 1, 1)
out = {}
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5); u.sendto(q, (server, 53))
r, peer = u.recvfrom(512); out["udp"] = {"from": peer[0], "answer": socket.inet_ntoa(r[-4:]), "id": struct.unpack("!H", r[:2])[0]}
t = socket.create_connection((server, 53), timeout=5); t.sendall(struct.pack("!H", len(q)) + q)
n = struct.unpack("!H", t.recv(2))[0]; r = b""
while len(r) < n: r += t.recv(n - len(r))
out["tcp"] = {"answer": socket.inet_ntoa(r[-4:]), "id": struct.unpack("!H", r[:2])[0]}
print(json.dumps(out))
`;

/** A TCP server answering "tcp-auto" and a UDP one echoing, both on the namespace's loopback. */
const AUTO_SERVERS = String.raw`
import socket, sys, threading
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", int(sys.argv[1]))); t.listen(4)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", int(sys.argv[2])))
def udp():
    while True:
        d, p = u.recvfrom(2048); u.sendto(d, p)
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
while True:
    c, _ = t.accept(); c.sendall(b"tcp-auto"); c.close()
`;

const CLIENT_HOST = String.raw`
import socket, sys
port_t, port_u = int(sys.argv[1]), int(sys.argv[2])
out = []
t = socket.create_connection(("127.0.0.1", port_t), timeout=5); out.append(t.recv(64).decode()); t.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3); u.sendto(b"udp-auto", ("127.0.0.1", port_u)); out.append(u.recvfrom(64)[0].decode())
print(" ".join(out))
`;

const results = new Scenarios();

/** Runs and records one scenario; ours and the oracle are judged, Debian's older pasta only recorded. */
function scenario(side: Side, name: string, fn: () => Promise<string>): Promise<void> {
  return results.run(side.label, name, fn, side.ours || side.oracle);
}

const sides = pastaSides(OURS);

describe.runIf(isRoot()).each(sides)("pasta ($label) as rootlesskit runs it", (side) => {
  let world: World;
  let dir: string;
  let child: Running;
  let pasta: Running | undefined;
  const procs: Running[] = [];
  const resolvDir = (): string => join("/etc/netns", world.host.name);

  beforeAll(async () => {
    ensureTunOpen();
    world = new World("rk");
    dir = mkdtempSync(join(tmpdir(), "rootlesskit-e2e-"));
    chmodSync(dir, 0o755);
    for (const [n, text] of [
      ["dns.py", DNS_SERVER],
      ["dns-client.py", DNS_CLIENT],
      ["auto.py", AUTO_SERVERS],
      ["host-client.py", CLIENT_HOST],
    ] as const) {
      writeFileSync(join(dir, n), text);
      chmodSync(join(dir, n), 0o644);
    }
    // The host's resolver, as `ip netns exec` shows it to pasta: the remote's DNS server.
    mkdirSync(resolvDir(), { recursive: true });
    writeFileSync(join(resolvDir(), "resolv.conf"), `nameserver ${REMOTE4}\n`);
    const dns = start(inNetns(world.remote.name, ["python3", "-u", join(dir, "dns.py"), REMOTE4, ANSWER]), { deadlineMs: 300_000 });
    procs.push(dns);
    await until(() => dns.out().includes("ready"), 10_000, "the DNS server");
    // rootlesskit's child: a new user and network namespace, owned by the unprivileged user.
    child = start(inNetns(world.host.name, asUnprivileged(["unshare", "-Urn", "sleep", "300"])), { deadlineMs: 300_000 });
    procs.push(child);
    await until(() => readFileSync(`/proc/${String(child.child.pid)}/comm`, "utf8").trim() === "sleep", 5_000, "the child's namespaces");
  }, 30_000);

  afterAll(async () => {
    pasta?.kill("SIGKILL");
    for (const p of procs) p.kill("SIGKILL");
    world?.remove();
    rmSync(dir, { recursive: true, force: true });
    rmSync(resolvDir(), { recursive: true, force: true });
    writeReport();
  });

  const pid = (): number => child.child.pid as number;
  const pastaArgv = (extra: string[]): string[] =>
    inNetns(world.host.name, asUnprivileged([...side.impl.argv, ...extra]));

  it("answers rootlesskit's probe: pasta --host-lo-to-ns-lo --version", async () => {
    await scenario(side, "probe: --host-lo-to-ns-lo --version exits 0", async () => {
      const r = await run(pastaArgv(["--host-lo-to-ns-lo", "--version"]));
      if (!r.ok) throw new Error(`refused: ${r.out.trim()}`);
      return r.out.trim().split("\n")[0] ?? "";
    });
  });

  it("starts with rootlesskit's argument list, detaches, and configures the namespace", async () => {
    await scenario(side, "rootlesskit's argv: detaches; tap0 198.51.100.200/25, default via .130, mtu 65520", async () => {
      const argv = [
        "--stderr", "--ns-ifname=tap0", "--mtu=65520", "--config-net", `--address=${ADDR}`, "--netmask=25",
        `--gateway=${GATEWAY}`, `--dns-forward=${DNS_FWD}`, "--no-map-gw", "--ipv4-only", "--tcp-ports=auto",
        "--udp-ports=auto", "--host-lo-to-ns-lo", `--userns=/proc/${pid()}/ns/user`, `--netns=/proc/${pid()}/ns/net`,
      ];
      pasta = start(pastaArgv(argv), { deadlineMs: 300_000 });
      const code = await Promise.race([pasta.exited, new Promise((r) => setTimeout(() => r("still running"), 15_000))]);
      if (code !== 0) throw new Error(`launcher: ${String(code)}; ${pasta.err().trim()}`);
      const addr = await run(inNs(pid(), ["ip", "-o", "-4", "addr", "show", "dev", "tap0"]));
      const route = await run(inNs(pid(), ["ip", "-4", "route", "show", "default"]));
      const link = await run(inNs(pid(), ["ip", "-o", "link", "show", "dev", "tap0"]));
      if (!addr.out.includes(`${ADDR}/25`)) throw new Error(`address: ${addr.out.trim()}`);
      if (!route.out.includes(`via ${GATEWAY}`)) throw new Error(`route: ${route.out.trim()}`);
      if (!link.out.includes("mtu 65520")) throw new Error(`link: ${link.out.trim()}`);
      return `launcher exited 0; ${addr.out.trim().split(/\s+/).slice(1, 4).join(" ")}; ${route.out.trim()}`;
    });
  }, 30_000);

  it("resolves through the --dns-forward address, over UDP and TCP, by the host's resolver", async () => {
    await scenario(side, `DNS to ${DNS_FWD} (UDP and TCP) answered by the host's nameserver`, async () => {
      const r = await run(inNs(pid(), ["python3", join(dir, "dns-client.py"), DNS_FWD]), 20_000);
      if (!r.ok) throw new Error(r.out.trim().split("\n").slice(-2).join(" / "));
      const j = JSON.parse(r.out.trim().split("\n").pop() as string) as { udp: { from: string; answer: string }; tcp: { answer: string } };
      if (j.udp.answer !== ANSWER || j.tcp.answer !== ANSWER || j.udp.from !== DNS_FWD) throw new Error(JSON.stringify(j));
      return `UDP answer ${j.udp.answer} from ${j.udp.from}; TCP answer ${j.tcp.answer}`;
    });
  }, 30_000);

  it("forwards ports bound later in the namespace (--tcp-ports=auto, --udp-ports=auto) from the host's loopback", async () => {
    await scenario(side, `auto: TCP ${TCP_AUTO} and UDP ${UDP_AUTO} bound to the namespace's loopback, reached from the host's`, async () => {
      const servers = start(inNs(pid(), ["python3", "-u", join(dir, "auto.py"), String(TCP_AUTO), String(UDP_AUTO)]), { deadlineMs: 300_000 });
      procs.push(servers);
      await until(() => servers.out().includes("ready"), 5_000, "the namespace's servers");
      let last = "";
      const end = Date.now() + 8_000;
      while (Date.now() < end) {
        const r = await run(inNetns(world.host.name, ["python3", join(dir, "host-client.py"), String(TCP_AUTO), String(UDP_AUTO)]), 10_000);
        last = r.out.trim();
        if (r.ok && last.endsWith("tcp-auto udp-auto")) return `after the rescan: ${last}`;
        await new Promise((res) => setTimeout(res, 500));
      }
      throw new Error(`not forwarded within 8 s: ${last.split("\n").slice(-1)[0] ?? ""}`);
    });
  }, 30_000);

  it("ends when rootlesskit's child (the namespace's process) ends", async () => {
    await scenario(side, "exits once the child is gone", async () => {
      const before = pastaPids(side);
      if (before.length === 0) throw new Error("no pasta process found");
      child.kill("SIGKILL");
      await until(() => pastaPids(side).length === 0, 5_000, "pasta to exit");
      return `pasta (pid ${before.join(",")}) exited`;
    });
  }, 15_000);
});

/** PIDs of this side's pasta processes that joined a /proc/PID/ns path of ours (by command line). */
function pastaPids(side: Side): number[] {
  const out: number[] = [];
  // Ours is the native launcher, which becomes node running the app's dist/cli.js: the app's folder marks both.
  const last = side.impl.argv[side.impl.argv.length - 1] as string;
  const mark = last.endsWith("/bin/pasta") ? last.slice(0, -"bin/pasta".length) : last;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.includes(`--dns-forward=${DNS_FWD}`) && cmd.includes(mark)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

function writeReport(): void {
  const about = "Generated by apps/pasta/test/rootlesskit.e2e.test.ts (rootlesskit's pasta argv, a child from `unshare -Urn`).";
  results.write(new URL("./rootlesskit-report-latest.md", import.meta.url), "pasta as rootlesskit runs it: ours and the C implementation", about, sides.map((s) => s.label));
  expect(results.rows.size).toBeGreaterThan(0);
}
