/**
 * pasta under real tools and bad input: iperf2 streams, sockperf
 * request/response, --pcap read back by tshark, thousands of malformed
 * frames written into the tap from inside the namespace, datagrams to
 * closed ports and thousands of source ports. One rootless pasta of ours in
 * one World; every check that follows a stress also checks that a normal
 * exchange still works and that pasta's descriptors did not grow.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REMOTE4, REMOTE6, World, ensureTunOpen, fdCount, isRoot, start, until, type Running } from "@x/harness";
import { OURS, echoServer, exchange, inNetns, inNs, networkPid, run, settle, startPasta, type PastaRun } from "./topology.js";

const SCAPY = "/usr/bin/python3";

describe.runIf(isRoot())("pasta (ours) under real tools and bad input", () => {
  let world: World;
  let p: PastaRun;
  let netPid = 0;
  const servers: Running[] = [];
  const pcap = (): string => join(p.dir, "capture.pcap");

  beforeAll(async () => {
    ensureTunOpen();
    world = new World("pr");
    servers.push(echoServer(inNetns(world.remote.name, []), 4, REMOTE4, 7001));
    servers.push(echoServer(inNetns(world.remote.name, []), 6, REMOTE6, 7001));
    const tmp = `/tmp/pasta-pcap-${process.pid}.pcap`;
    p = await startPasta(world, OURS, ["-f", "--config-net", "-t", "none", "-T", "none", "-u", "7002", "--pcap", tmp, "--max-bindings", "1000"]);
    netPid = networkPid(p);
    writeFileSync(join(p.dir, "pcap-path"), tmp);
    await settle(300);
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) s.kill("SIGKILL");
    await p?.stop();
    world?.remove();
  });

  it("carries a sustained iperf2 UDP stream to the remote host and gets the server's report back", async () => {
    const srv = servers[servers.push(inNetnsStart(world.remote.name, ["iperf", "-s", "-u", "-B", REMOTE4, "-p", "5001"])) - 1] as Running;
    await settle(300);
    const r = await run(inNs(p.nsPid, ["iperf", "-c", REMOTE4, "-u", "-b", "50M", "-l", "1400", "-t", "2", "-p", "5001"]), 20_000);
    srv.kill("SIGKILL");
    expect(r.out).toMatch(/Server Report/);
    const m = /(\d+)\/\s*(\d+) \(/.exec(r.out.slice(r.out.indexOf("Server Report")));
    expect(m).not.toBeNull();
    const lost = Number(m?.[1]);
    const total = Number(m?.[2]);
    expect(total).toBeGreaterThan(1000);
    expect(lost).toBeLessThan(total);
  });

  // Debian's sockperf 3.7 takes IPv4 addresses only ("-i: Invalid address" for IPv6).
  it("answers sockperf ping-pong through the tap path", async () => {
    for (const [addr, port] of [[REMOTE4, 11111]] as const) {
      const srv = inNetnsStart(world.remote.name, ["sockperf", "server", "-i", addr, "-p", String(port)]);
      servers.push(srv);
      await settle(400);
      const r = await run(inNs(p.nsPid, ["sockperf", "ping-pong", "-i", addr, "-p", String(port), "-t", "2", "-m", "64"]), 20_000);
      srv.kill("SIGKILL");
      expect(r.out).toMatch(/avg-latency=\s*[\d.]+/);
      expect(r.out).toMatch(/Summary: Latency is/);
    }
  });

  it("writes a --pcap capture that tshark reads back with our UDP frames", async () => {
    const ex = await exchange(inNs(p.nsPid, []), p.dir, 4, REMOTE4, 7001, 333);
    expect(ex.detail).toBe("SAME");
    const file = readFileSync(join(p.dir, "pcap-path"), "utf8");
    await until(() => existsSync(file), 2000, "the capture file");
    const r = await run(["tshark", "-r", file, "-Y", `udp.port == 7001 && udp.length == ${333 + 8}`, "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "udp.dstport", "-e", "udp.srcport"], 30_000);
    const lines = r.out.trim().split("\n").filter((l) => /\d/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => l.startsWith(`203.0.113.2\t${REMOTE4}\t7001`))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${REMOTE4}\t203.0.113.2`))).toBe(true);
  });

  it("drops thousands of malformed, truncated and oversized frames, leaks no descriptor, and still works", async () => {
    const before = fdCount(netPid);
    const script = `
import random
from scapy.all import Ether, IP, IPv6, UDP, Raw, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, sendp, get_if_hwaddr, conf
conf.verb = 0
random.seed(7)
iface = "eth0"
src = get_if_hwaddr(iface)
dst = "9a:55:9a:55:9a:55"
frames = []
for i in range(600):
    # Random bytes after a valid Ethernet header claiming IPv4 or IPv6.
    frames.append(bytes(Ether(src=src, dst=dst, type=random.choice([0x0800, 0x86dd]))) + bytes(random.getrandbits(8) for _ in range(random.randint(0, 80))))
for i in range(600):
    # IPv4 with a bad header length (IHL 15 over a short header; IHL < 5).
    b = bytearray(bytes(Ether(src=src, dst=dst)/IP(src="203.0.113.2", dst="198.51.100.1")/UDP(sport=random.randint(1, 65535), dport=random.randint(1, 65535))/Raw(b"x" * 8)))
    b[14] = 0x40 | random.choice([0, 1, 2, 3, 4, 15])
    frames.append(bytes(b))
for i in range(600):
    # IPv4 total length or UDP length larger than the frame.
    b = bytearray(bytes(Ether(src=src, dst=dst)/IP(src="203.0.113.2", dst="198.51.100.1")/UDP(sport=random.randint(1, 65535), dport=7001)/Raw(b"y" * 20)))
    if i % 2:
        b[16:18] = (1500).to_bytes(2, "big")
    else:
        b[38:40] = (900).to_bytes(2, "big")
    frames.append(bytes(b))
for i in range(600):
    # IPv6 with broken extension headers or a payload length past the frame.
    p = Ether(src=src, dst=dst)/IPv6(src="2001:db8:1::2", dst="2001:db8:2::1")/IPv6ExtHdrHopByHop()/UDP(sport=random.randint(1, 65535), dport=7001)/Raw(b"z" * 10)
    b = bytearray(bytes(p))
    if i % 3 == 0:
        b[55] = 200   # hop-by-hop length far past the end
    elif i % 3 == 1:
        b[18:20] = (4000).to_bytes(2, "big")
    else:
        b = b[:random.randint(14, 60)]
    frames.append(bytes(b))
for i in range(300):
    # Truncated everything, down to a bare Ethernet header and below.
    f = bytes(Ether(src=src, dst=dst)/IP(src="203.0.113.2", dst="198.51.100.1")/UDP(sport=4000 + i, dport=7001)/Raw(b"w" * 30))
    frames.append(f[:random.randint(1, 41)])
for i in range(100):
    # Oversized: as large as the tap takes, with inconsistent lengths inside.
    b = bytearray(bytes(Ether(src=src, dst=dst)/IP(src="203.0.113.2", dst="198.51.100.1")/UDP(sport=5000 + i, dport=7001)/Raw(b"o" * 60000)))
    b[16:18] = (70).to_bytes(2, "big")
    b[38:40] = (65000).to_bytes(2, "big")
    frames.append(bytes(b))
sendp(frames, iface=iface)
print("sent", len(frames))
`;
    const r = await run(inNs(p.nsPid, [SCAPY, "-c", script]), 120_000);
    expect(r.out).toMatch(/sent 2800/);
    await settle(500);
    const ex4 = await exchange(inNs(p.nsPid, []), p.dir, 4, REMOTE4, 7001, 100);
    const ex6 = await exchange(inNs(p.nsPid, []), p.dir, 6, REMOTE6, 7001, 100);
    expect(ex4.detail).toBe("SAME");
    expect(ex6.detail).toBe("SAME");
    // The exchanges above open one binding each; nothing else may remain.
    expect(fdCount(netPid)).toBeLessThanOrEqual(before + 2);
  }, 180_000);

  it("prints its counters on SIGUSR1", async () => {
    const ex = await exchange(inNs(p.nsPid, []), p.dir, 6, REMOTE6, 7001, 10);
    expect(ex.detail).toBe("SAME");
    process.kill(netPid, "SIGUSR1");
    await until(() => /counters \{/.test(p.pasta.err()), 3000, "the counters line");
    const line = p.pasta.err().split("\n").find((l) => l.includes("counters {")) as string;
    const c = JSON.parse(line.slice(line.indexOf("{"))) as {
      framesIn: number;
      gsoSends: number;
      udp: { fromGuest: { datagrams: number }; toGuest: { datagrams: number } };
      live: { bindings: number };
    };
    // The iperf2 stream above went out in UDP_SEGMENT bursts.
    expect(c.gsoSends).toBeGreaterThan(0);
    expect(c.framesIn).toBeGreaterThan(0);
    expect(c.udp.fromGuest.datagrams).toBeGreaterThan(0);
    expect(c.udp.toGuest.datagrams).toBeGreaterThan(0);
    expect(c.live.bindings).toBeGreaterThan(0);
  });

  it("drops datagrams to closed ports and goes on", async () => {
    const r = await run(inNs(p.nsPid, ["sh", "-c", "for p in 9 19 29 39; do echo x | socat -T 0.2 - UDP4:198.51.100.1:$p; echo x | socat -T 0.2 - UDP6:[2001:db8:2::1]:$p; done; echo done"]), 20_000);
    expect(r.out).toMatch(/done/);
    const ex = await exchange(inNs(p.nsPid, []), p.dir, 4, REMOTE4, 7001, 50);
    expect(ex.detail).toBe("SAME");
  });

  it("keeps working with thousands of source ports, descriptors bounded by the binding cap (--max-bindings)", async () => {
    const script = `
import socket, time
n = 0
for port in range(20000, 23000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", port))
        s.sendto(b"p", ("198.51.100.1", 7009))
        n += 1
        if n % 16 == 0:
            time.sleep(0.002)  # pace, so the tap's queue does not overflow
    except OSError:
        pass
    s.close()
print("sent", n)
`;
    const r = await run(inNs(p.nsPid, [SCAPY, "-c", script]), 120_000);
    expect(r.out).toMatch(/sent \d{4}/);
    await settle(500);
    // 1000 bindings at most (--max-bindings), plus the process's own descriptors.
    expect(fdCount(netPid)).toBeLessThan(1000 + 100);
    expect(p.pasta.err()).toMatch(/1000 bindings reached, closed the least recently used/);
    const ex = await exchange(inNs(p.nsPid, []), p.dir, 6, REMOTE6, 7001, 1200);
    expect(ex.detail).toBe("SAME");
  }, 180_000);
});

function inNetnsStart(ns: string, argv: string[]): Running {
  return start(inNetns(ns, argv), { deadlineMs: 120_000 });
}
