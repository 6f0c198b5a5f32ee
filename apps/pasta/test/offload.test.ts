/**
 * Bursts for the namespace as UDP segmentation-offload frames (TapSink,
 * udp-core's sendSegmented): a sender in the remote namespace fires bursts
 * of numbered datagrams at a port pasta forwards (-u); a receiver inside
 * pasta's namespace checks that every datagram that arrives is whole and
 * intact (its own number and length, its pattern), v4 and v6, with bursts
 * whose last datagram is shorter. pasta's counters (SIGUSR1) must show that
 * offload frames carried them, and with --pcap the same traffic goes frame by
 * frame and still arrives intact.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { HOST4, HOST6, World, ensureTunOpen, isRoot, start, until } from "@x/harness";
import { OURS, inNetns, inNs, networkPid, run, settle, startPasta, type PastaRun } from "./topology.js";

const PY = "/usr/bin/python3";
const PCAP = `/tmp/pasta-offload-${process.pid}.pcap`;

// Receiver: counts datagrams per family, checks each against the sender's pattern,
// prints a JSON summary when it has been idle for a while.
const RECEIVER = `
import json, select, socket, sys, time
port = int(sys.argv[1])
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s4.bind(("0.0.0.0", port))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); s6.bind(("::", port))
for s in (s4, s6): s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
got = {"4": 0, "6": 0}; bad = []
print("listening", flush=True)
deadline = time.time() + 40; last = None
while time.time() < deadline:
    r, _, _ = select.select([s4, s6], [], [], 0.5)
    if not r:
        if last is not None and time.time() - last > 1.5: break
        continue
    for s in r:
        d = s.recv(70000); last = time.time()
        fam = "4" if s is s4 else "6"
        n = int.from_bytes(d[:4], "big"); size = int.from_bytes(d[4:8], "big")
        if len(d) != size or d[8:] != bytes((n + i) & 0xff for i in range(size - 8)): bad.append([fam, n, len(d)])
        else: got[fam] += 1
print(json.dumps({"got": got, "bad": bad[:5], "badCount": len(bad)}), flush=True)
`;

// Sender: bursts of 16 datagrams, 15 of 1400 bytes and a last of 700, to each family.
const SENDER = `
import socket, sys, time
port = int(sys.argv[1]); bursts = int(sys.argv[2])
targets = [(socket.AF_INET, "${HOST4}"), (socket.AF_INET6, "${HOST6}")]
n = 0
for fam, addr in targets:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for b in range(bursts):
        for k in range(16):
            size = 1400 if k < 15 else 700
            s.sendto(n.to_bytes(4, "big") + size.to_bytes(4, "big") + bytes((n + i) & 0xff for i in range(size - 8)), (addr, port))
            n += 1
        time.sleep(0.01)
print("sent", n, flush=True)
`;

interface Counters {
  udp: { toGuest: { datagrams: number; malformed: number }; events: { offloadFrames: number } };
}

async function burstThrough(world: World, p: PastaRun, port: number): Promise<{ got: Record<string, number>; badCount: number; bad: unknown[] }> {
  const rx = start(inNs(p.nsPid, [PY, "-c", RECEIVER, String(port)]), { deadlineMs: 60_000 });
  try {
    await until(() => rx.out().includes("listening"), 10_000, "the receiver");
    const tx = await run(inNetns(world.remote.name, [PY, "-c", SENDER, String(port), "20"]), 30_000);
    expect(tx.out).toMatch(/sent 640/);
    await until(() => rx.out().includes("{"), 20_000, "the receiver's summary");
    return JSON.parse(rx.out().slice(rx.out().indexOf("{"))) as { got: Record<string, number>; badCount: number; bad: unknown[] };
  } finally {
    rx.kill("SIGKILL");
  }
}

async function countersOf(p: PastaRun): Promise<Counters> {
  const netPid = networkPid(p);
  const before = p.pasta.err().length;
  process.kill(netPid, "SIGUSR1");
  await until(() => p.pasta.err().slice(before).includes("counters {"), 3000, "the counters line");
  const line = p.pasta.err().slice(before).split("\n").find((l) => l.includes("counters {")) as string;
  return JSON.parse(line.slice(line.indexOf("{"))) as Counters;
}

describe.runIf(isRoot())("pasta (ours): bursts into the namespace as offload frames", () => {
  let world: World;
  const runs: PastaRun[] = [];

  beforeAll(() => {
    ensureTunOpen();
    world = new World("po");
  });
  afterAll(async () => {
    for (const p of runs) await p.stop();
    world?.remove();
    rmSync(PCAP, { force: true });
  });

  it("delivers every datagram whole, v4 and v6, most of them in offload frames", async () => {
    const p = await startPasta(world, OURS, ["-f", "--config-net", "-t", "none", "-T", "none", "-u", "7101"]);
    runs.push(p);
    await settle(300);
    const r = await burstThrough(world, p, 7101);
    expect(r.badCount, JSON.stringify(r.bad)).toBe(0);
    // UDP may drop under load; what arrives must be whole, and most must arrive.
    expect(r.got["4"]).toBeGreaterThan(160);
    expect(r.got["6"]).toBeGreaterThan(160);
    const c = await countersOf(p);
    expect(c.udp.toGuest.datagrams).toBeGreaterThanOrEqual((r.got["4"] ?? 0) + (r.got["6"] ?? 0));
    expect(c.udp.toGuest.malformed).toBe(0);
    expect(c.udp.events.offloadFrames).toBeGreaterThan(0);
  }, 90_000);

  it("with --pcap sends frame by frame, and the datagrams still arrive whole", async () => {
    const p = await startPasta(world, OURS, ["-f", "--config-net", "-t", "none", "-T", "none", "-u", "7102", "--pcap", PCAP]);
    runs.push(p);
    await settle(300);
    const r = await burstThrough(world, p, 7102);
    expect(r.badCount, JSON.stringify(r.bad)).toBe(0);
    expect((r.got["4"] ?? 0) + (r.got["6"] ?? 0)).toBeGreaterThan(320);
    const c = await countersOf(p);
    expect(c.udp.events.offloadFrames).toBe(0);
  }, 90_000);
});
