/**
 * passt end to end, TCP, with qemu 7.2 as the guest's link, against ours and
 * the C passt (the 2024_12_11 oracle when it is beside the project, else
 * Debian's package). The same code runs both sides.
 *
 * Theory of operation. Each side gets one bench (lab.ts, tcp-tools.ts):
 *
 *   guest ns (tap0, 203.0.113.2 by DHCP, SLAAC v6)
 *     └─ qemu -M none: tap <-> hub <-> stream ══ unix socket ══> passt (uid 65534, host ns)
 *   host ns 203.0.113.2 / 2001:db8:1::2 ──veth──> remote ns: 198.51.100.1, 2001:db8:2::1
 *                                                 (and the gateway 203.0.113.1 / 2001:db8:1::1)
 *
 * passt is started with `-t 6001-6009,~6005 -t 16010:6010 -t 203.0.113.2/6020`
 * (a range with an exclusion, a remap and an address-bound port), ours also
 * with `--max-flows 512`. The guest namespace caps its TCP send buffer
 * (net.ipv4.tcp_wmem max 128 KiB): qemu 7.2's bridge mishandles its own
 * short writes to the stream socket under bulk sends from the guest, and the
 * cap keeps it reliable. Its ephemeral ports are moved to 50000-60999 so that
 * the ports the storm forges never belong to a real socket of the guest.
 *
 * The guest namespace's own kernel is the guest's TCP stack; real tools run
 * in the namespaces: socat for the 10 MiB transfers (sha256 of what arrived
 * compared with what was sent, both directions on every path), iperf3, and
 * tcp-probe (Node, written out by tcp-tools.ts) for half-close, refused
 * connections, 100 concurrent echo clients and receivers that stop reading
 * for 5 s. Paths: guest -> remote; remote -> host address -> guest through
 * -t; host loopback -> guest through -t; guest -> gateway address -> host
 * loopback (passt's default --map-host-loopback). Last, tcp-storm.py
 * (scapy) writes thousands of malformed and hostile TCP frames out of the
 * guest's tap (bad checksums and data offsets, options past the header,
 * truncated headers, lying IP lengths, out-of-window segments and RSTs on a
 * live connection, impossible flag sets, 600 half-open SYNs from an unowned
 * address, a SYN flood from 2000 source ports); passt must stay up with its
 * descriptors bounded, and a normal transfer must still work.
 *
 * Judging: ours must pass every scenario except where noted; the C side is
 * asserted when it is the oracle, except for the refused connection, whose
 * outcome is only recorded (the C release answers a SYN to a closed port
 * with an RST without ACK, which Linux ignores while connecting, so connect()
 * times out there). Only timeouts bound the runs; nothing asserts a speed.
 * Results go to tcp-report-latest.md beside this file. TCP_SIDES=ours or
 * TCP_SIDES=c runs one side only; TCP_C=debian compares with Debian's package.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GW4, GW6, HOST4, HOST6, REMOTE4, REMOTE6, fdCount, isRoot, start, until, type Netns, type Running } from "@x/harness";
import { run, sleep, TAP } from "./lab.js";
import { TcpLab, cPasst, iperfGbits, listening, randomFile, sha256File, socatHost } from "./tcp-tools.js";

const MIB10 = 10 * 1024 * 1024;
const FWD = 6001; // -t: transfers
const FWD_HALF = 6002; // -t: half-close server in the guest
const EXCLUDED = 6005; // excluded from the range
const REMAP_HOST = 16010; // -t 16010:6010
const REMAP_GUEST = 6010;
const BOUND = 6020; // -t 203.0.113.2/6020
const R_XFER = 5001;
const R_ECHO = 5003;
const R_HALF = 5004;
const R_SINK = 5005; // stops reading for PAUSE_MS
const R_SOURCE = 5006;
const R_CLOSED = 5999;
const R_IPERF = 5201;
const LOOP_XFER = 7001;
const PAUSE_MS = 5_000;
const MAX_FLOWS = 512;
const PASST_T = ["-t", `${FWD}-6009,~${EXCLUDED}`, "-t", `${REMAP_HOST}:${REMAP_GUEST}`, "-t", `${HOST4}/${BOUND}`];
const SETUP = "setup: passt with the -t specs, qemu bridging";
const HAS_IPERF3 = ["/usr/bin/iperf3", "/bin/iperf3"].some((p) => existsSync(p));

interface Side {
  impl: "ours" | "debian";
  label: string;
  judged: boolean;
  cPath?: string;
}
const c = cPasst();
const only = process.env.TCP_SIDES;
const sides: Side[] = [
  ...(only === "c" ? [] : [{ impl: "ours" as const, label: "ours", judged: true }]),
  ...(c && only !== "ours" ? [{ impl: "debian" as const, label: c.label, judged: c.oracle, cPath: c.path }] : []),
];

interface Outcome {
  ok: boolean;
  note: string;
}
const results = new Map<string, Map<string, Outcome>>();
const figures: string[] = [];

/** Runs one scenario and records it; a failure fails the test where the side is judged (ours always). */
async function scenario(side: Side, name: string, fn: () => Promise<string>, recordOnlyForC = false): Promise<void> {
  const row = results.get(name) ?? new Map<string, Outcome>();
  results.set(name, row);
  const t0 = Date.now();
  try {
    row.set(side.label, { ok: true, note: `${await fn()} (${Date.now() - t0} ms)` });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    row.set(side.label, { ok: false, note: (msg.split("\n")[0] ?? msg).slice(0, 300) });
    if (side.impl === "ours" || (side.judged && !recordOnlyForC)) throw e;
  }
}

function skipped(side: Side, name: string, why: string): void {
  const row = results.get(name) ?? new Map<string, Outcome>();
  results.set(name, row);
  row.set(side.label, { ok: true, note: `SKIPPED: ${why}` });
}

function tail(r: Running | { out: string; err: string }, lines = 2): string {
  const text = "child" in r ? r.out() + r.err() : r.out + r.err;
  return text.trim().split("\n").slice(-lines).join(" / ");
}

describe.skipIf(!isRoot() || sides.length === 0).each(sides)("passt ($label) with qemu 7.2: TCP", (side) => {
  let lab: TcpLab;
  let up = ""; // sha256 of the file clients upload
  let down = ""; // sha256 of the file servers send
  let upFile = "";
  let downFile = "";
  let sinkOut: Record<4 | 6, Running | undefined> = { 4: undefined, 6: undefined };
  let n = 0;
  const fresh = (what: string): string => join(lab.dir, `${what}-${++n}`);

  beforeAll(async () => {
    lab = new TcpLab(side.impl, side.cPath);
    try {
      upFile = join(lab.dir, "up.bin");
      downFile = join(lab.dir, "down.bin");
      up = randomFile(upFile, MIB10);
      down = randomFile(downFile, MIB10);
      const remote = lab.world.remote;
      for (const [f, addr] of [
        [4, REMOTE4],
        [6, REMOTE6],
      ] as const) {
        await lab.serve(remote, "echo", R_ECHO, addr);
        await lab.serve(remote, "half", R_HALF, addr);
        sinkOut[f] = await lab.serve(remote, "sink", R_SINK, addr, String(PAUSE_MS));
        await lab.serve(remote, "source", R_SOURCE, addr, downFile);
      }
      await lab.serve(lab.guest, "half", FWD_HALF);
      await lab.serve(lab.guest, "half", REMAP_GUEST);
      await lab.serve(lab.guest, "echo", EXCLUDED);
      await lab.serve(lab.guest, "half", BOUND);
      if (HAS_IPERF3) {
        lab.track(start(["ip", "netns", "exec", remote.name, "iperf3", "-s", "-p", String(R_IPERF)], { deadlineMs: 600_000 }));
        await listening(remote, R_IPERF);
      }
      await lab.startPasst([...PASST_T, ...(side.impl === "ours" ? ["--max-flows", String(MAX_FLOWS)] : [])]);
      await lab.startQemu();
      const row = results.get(SETUP) ?? new Map<string, Outcome>();
      results.set(SETUP, row.set(side.label, { ok: true, note: "passt listening, qemu bridging" }));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const row = results.get(SETUP) ?? new Map<string, Outcome>();
      results.set(SETUP, row.set(side.label, { ok: false, note: msg.replace(/\s+/g, " ").slice(0, 300) }));
      // Cleaned up here: the suite's afterAll is not to be relied on once this hook fails.
      if (lab?.passt) figures.push(`${side.label}: passt's stderr tail: ${tail(lab.passt, 3) || "(empty)"}`);
      await lab?.remove();
      throw e;
    }
  }, 60_000);

  afterAll(async () => {
    if (lab?.passt && results.get(SETUP)?.get(side.label)?.ok) figures.push(`${side.label}: passt's stderr tail: ${tail(lab.passt, 3) || "(empty)"}`);
    sinkOut = { 4: undefined, 6: undefined };
    await lab?.remove();
  }, 30_000);

  it("the guest takes its addresses: DHCPv4 (udhcpc) and SLAAC past DAD", async () => {
    await scenario(side, "guest configured: DHCPv4 lease, global IPv6 address past DAD", async () => {
      const lease = await lab.dhcp();
      expect(lease).toContain(`ip=${HOST4}`);
      const v6 = await lab.slaac(15_000);
      return `${lease.split(" ").slice(0, 3).join(" ")}; ${v6}`;
    });
  }, 40_000);

  // 1. 10 MiB each way on every path, socat at both ends, sha256 compared.
  interface Path {
    what: string;
    listenNs: () => Netns;
    listenPort: number;
    listenBind?: string;
    clientNs: () => Netns;
    target: string;
    connectPort: number;
    clientBind?: string;
  }
  const paths = (f: 4 | 6): Path[] => {
    const [remote, host, gw, lo] = f === 4 ? [REMOTE4, HOST4, GW4, "127.0.0.1"] : [REMOTE6, HOST6, GW6, "::1"];
    return [
      { what: `guest -> remote ${remote}`, listenNs: () => lab.world.remote, listenPort: R_XFER, listenBind: remote, clientNs: () => lab.guest, target: remote, connectPort: R_XFER },
      { what: `remote -> host ${host}:${FWD} -> guest (-t)`, listenNs: () => lab.guest, listenPort: FWD, clientNs: () => lab.world.remote, target: host, connectPort: FWD, clientBind: remote },
      { what: `host ${lo}:${FWD} -> guest (-t)`, listenNs: () => lab.guest, listenPort: FWD, clientNs: () => lab.world.host, target: lo, connectPort: FWD },
      { what: `guest -> gateway ${gw} -> host ${lo}`, listenNs: () => lab.world.host, listenPort: LOOP_XFER, listenBind: lo, clientNs: () => lab.guest, target: gw, connectPort: LOOP_XFER },
    ];
  };

  async function socatTransfer(p: Path, f: 4 | 6, clientSends: boolean): Promise<string> {
    const out = fresh("recv");
    const bindOpt = (b?: string): string => (b ? `,bind=${socatHost(b)}` : "");
    const listenAddr = `TCP${f}-LISTEN:${p.listenPort},reuseaddr${bindOpt(p.listenBind)}`;
    const connectAddr = `TCP${f}:${socatHost(p.target)}:${p.connectPort}${bindOpt(p.clientBind)}`;
    const [lArgs, cArgs] = clientSends ? [[listenAddr, `CREATE:${out}`], [`OPEN:${upFile}`, connectAddr]] : [[`OPEN:${downFile}`, listenAddr], [connectAddr, `CREATE:${out}`]];
    const listenNs = p.listenNs();
    const listener = lab.track(start(["ip", "netns", "exec", listenNs.name, "socat", "-u", ...lArgs], { deadlineMs: 150_000 }));
    await listening(listenNs, p.listenPort);
    const client = await run(["ip", "netns", "exec", p.clientNs().name, "socat", "-u", ...cArgs], 120_000);
    if (client.code !== 0) throw new Error(`client socat exited ${client.code}: ${tail(client)}`);
    const lCode = await Promise.race([listener.exited, sleep(15_000).then(() => "still running")]);
    if (lCode !== 0) {
      listener.kill("SIGKILL");
      throw new Error(`listening socat: ${lCode}: ${tail(listener)}`);
    }
    const got = await sha256File(out);
    const want = clientSends ? up : down;
    if (got.sha !== want) throw new Error(`sha256 differs: ${got.bytes} of ${MIB10} bytes arrived, sha256 ${got.sha.slice(0, 16)}…`);
    return `${got.bytes} bytes, sha256 equal`;
  }

  for (const f of [4, 6] as const) {
    for (const p of paths(f)) {
      for (const clientSends of [true, false]) {
        const dir = clientSends ? "client sends" : "listener sends";
        it(`v${f}: 10 MiB ${p.what}, ${dir}`, async () => {
          await scenario(side, `v${f} 10 MiB ${p.what}, ${dir}`, () => socatTransfer(p, f, clientSends));
        }, 150_000);
      }
    }
  }

  // 2. Half-close: request, shutdown(SHUT_WR), the answer comes after the server saw EOF.
  for (const f of [4, 6] as const) {
    const [remote, host] = f === 4 ? [REMOTE4, HOST4] : [REMOTE6, HOST6];
    for (const [what, ns, target, port, bind] of [
      [`guest -> remote ${remote}:${R_HALF}`, () => lab.guest, remote, R_HALF, undefined],
      [`remote -> host ${host}:${FWD_HALF} -> guest (-t)`, () => lab.world.remote, host, FWD_HALF, remote],
    ] as const) {
      it(`v${f}: half-close ${what}`, async () => {
        await scenario(side, `v${f} half-close ${what}`, async () => {
          const r = await lab.probe(ns(), ["half", target, String(port), ...(bind ? [bind] : [])], 20_000);
          if (r.result !== "ok") throw new Error(`half-close: ${JSON.stringify(r)}`);
          return `3000-byte request, write side shut, answer (count + sha256) after EOF`;
        });
      }, 30_000);
    }
  }

  // 3. A closed remote port: refused (ours); the C release may time out instead, recorded only.
  for (const f of [4, 6] as const) {
    const remote = f === 4 ? REMOTE4 : REMOTE6;
    it(`v${f}: connect to a closed remote port is refused`, async () => {
      await scenario(
        side,
        `v${f} guest -> closed port ${remote}:${R_CLOSED}: ECONNREFUSED (C: recorded only)`,
        async () => {
          const r = await lab.probe(lab.guest, ["refuse", remote, String(R_CLOSED), "8000"], 20_000);
          const note = `${String(r.result)} after ${String(r.ms)} ms`;
          if (r.result !== "ECONNREFUSED") throw new Error(`not refused: ${note}`);
          return note;
        },
        true,
      );
    }, 30_000);
  }

  // 4. 100 concurrent connections to an echo server.
  for (const f of [4, 6] as const) {
    const remote = f === 4 ? REMOTE4 : REMOTE6;
    it(`v${f}: 100 concurrent connections to the remote echo server, all answered`, async () => {
      // The 2024_12_11 oracle once left one of the 100 hanging for the whole 30 s
      // (connected, never echoed) on CI: its result is recorded, not judged.
      await scenario(side, `v${f} 100 concurrent connections guest -> remote echo, all answered`, async () => {
        const r = await lab.probe(lab.guest, ["many", remote, String(R_ECHO), "100", "30000"], 40_000);
        if (r.answered !== 100) throw new Error(`${String(r.answered)}/100 answered, ${String(r.connected)} connected; errors ${JSON.stringify(r.errors)}`);
        return "100/100 echoed exactly";
      }, true);
    }, 50_000);
  }

  // 5. A receiver that stops reading for 5 s, then resumes.
  for (const f of [4, 6] as const) {
    const remote = f === 4 ? REMOTE4 : REMOTE6;
    it(`v${f}: guest -> remote, the remote stops reading for ${PAUSE_MS} ms`, async () => {
      await scenario(side, `v${f} 10 MiB guest -> remote, remote stops reading ${PAUSE_MS / 1000} s`, async () => {
        const sink = sinkOut[f];
        if (!sink) throw new Error("no sink server");
        const before = sink.out().split("\n").filter((l) => l.includes('"done"')).length;
        const r = await lab.probe(lab.guest, ["send", remote, String(R_SINK), upFile], 120_000);
        if (r.result !== "sent") throw new Error(`sender: ${JSON.stringify(r)}`);
        await until(() => sink.out().split("\n").filter((l) => l.includes('"done"')).length > before, 10_000, "the sink's report");
        const line = sink.out().split("\n").filter((l) => l.includes('"done"'))[before] ?? "{}";
        const d = JSON.parse(line) as { bytes: number; sha: string; ms: number };
        if (d.sha !== up) throw new Error(`sha256 differs: ${d.bytes} bytes arrived`);
        if (d.ms < PAUSE_MS) throw new Error(`the sink finished in ${d.ms} ms, before its pause ended`);
        return `${d.bytes} bytes, sha256 equal, receiver done after ${d.ms} ms`;
      });
    }, 150_000);
    it(`v${f}: remote -> guest, the guest stops reading for ${PAUSE_MS} ms`, async () => {
      await scenario(side, `v${f} 10 MiB remote -> guest, guest stops reading ${PAUSE_MS / 1000} s`, async () => {
        const r = await lab.probe(lab.guest, ["recv", remote, String(R_SOURCE), String(PAUSE_MS)], 120_000);
        if (r.result !== "received") throw new Error(`receiver: ${JSON.stringify(r)}`);
        if (r.sha !== down) throw new Error(`sha256 differs: ${String(r.bytes)} bytes arrived`);
        return `${String(r.bytes)} bytes, sha256 equal, done after ${String(r.ms)} ms`;
      });
    }, 150_000);
  }

  // 6. iperf3, a few seconds each way.
  for (const f of [4, 6] as const) {
    const remote = f === 4 ? REMOTE4 : REMOTE6;
    for (const reverse of [false, true]) {
      const name = `v${f} iperf3 ${reverse ? "remote -> guest (-R)" : "guest -> remote"}, 3 s`;
      it(name, async () => {
        if (!HAS_IPERF3) {
          skipped(side, name, "iperf3 is not installed");
          return;
        }
        await scenario(side, name, async () => {
          const r = await run(["ip", "netns", "exec", lab.guest.name, "iperf3", `-${f}`, "-c", remote, "-p", String(R_IPERF), "-t", "3", "-J", ...(reverse ? ["-R"] : [])], 30_000);
          let gbits: number;
          try {
            gbits = iperfGbits(r.out);
          } catch (e) {
            throw new Error(`iperf3 exited ${r.code}: ${e instanceof Error ? e.message : String(e)} ${tail(r)}`);
          }
          if (!(gbits > 0)) throw new Error(`iperf3 measured ${gbits} Gbit/s`);
          figures.push(`${side.label}: ${name}: ${gbits.toFixed(2)} Gbit/s`);
          return `${gbits.toFixed(2)} Gbit/s`;
        });
      }, 40_000);
    }
  }

  // The -t forms beyond a plain port: a remap, an exclusion, an address.
  it(`-t ${REMAP_HOST}:${REMAP_GUEST}: a remapped port reaches the guest's ${REMAP_GUEST}`, async () => {
    await scenario(side, `-t ${REMAP_HOST}:${REMAP_GUEST} remap, remote -> host:${REMAP_HOST} -> guest:${REMAP_GUEST}, v4 and v6`, async () => {
      for (const [host, bind] of [
        [HOST4, REMOTE4],
        [HOST6, REMOTE6],
      ] as const) {
        const r = await lab.probe(lab.world.remote, ["half", host, String(REMAP_HOST), bind], 20_000);
        if (r.result !== "ok") throw new Error(`via ${host}: ${JSON.stringify(r)}`);
      }
      return "answered from the guest's server on both families";
    });
  }, 50_000);

  it(`-t ${FWD}-6009,~${EXCLUDED}: the excluded port is not forwarded`, async () => {
    await scenario(side, `-t ${FWD}-6009,~${EXCLUDED}: remote -> host:${EXCLUDED} refused by the host, v4 and v6`, async () => {
      const notes: string[] = [];
      for (const host of [HOST4, HOST6]) {
        const r = await lab.probe(lab.world.remote, ["refuse", host, String(EXCLUDED), "5000"], 15_000);
        if (r.result !== "ECONNREFUSED") throw new Error(`${host}:${EXCLUDED}: ${JSON.stringify(r)} (the guest listens there)`);
        notes.push(`${host}: refused`);
      }
      return notes.join(", ");
    });
  }, 40_000);

  it(`-t ${HOST4}/${BOUND}: bound to the host's address only`, async () => {
    await scenario(side, `-t ${HOST4}/${BOUND}: remote -> ${HOST4} reaches the guest, host 127.0.0.1 refused`, async () => {
      const r = await lab.probe(lab.world.remote, ["half", HOST4, String(BOUND), REMOTE4], 20_000);
      if (r.result !== "ok") throw new Error(`via ${HOST4}: ${JSON.stringify(r)}`);
      const lo = await lab.probe(lab.world.host, ["refuse", "127.0.0.1", String(BOUND), "5000"], 15_000);
      if (lo.result !== "ECONNREFUSED") throw new Error(`127.0.0.1:${BOUND}: ${JSON.stringify(lo)}`);
      return `${HOST4} answered, 127.0.0.1 refused`;
    });
  }, 40_000);

  // 7. Robustness: malformed and hostile frames, a SYN flood, half-open flows.
  it("malformed TCP frames, out-of-window segments and RSTs, a SYN flood: passt survives, bounded, still works", async () => {
    const name = `storm (scapy): 3000 malformed/hostile TCP frames, 600 half-open SYNs, SYN flood from 2000 ports; alive, fds bounded, 10 MiB still passes`;
    await scenario(side, name, async () => {
      const trigger = join(lab.dir, "hold-check");
      const hold = lab.track(start(["ip", "netns", "exec", lab.guest.name, process.execPath, lab.probeJs, "hold", REMOTE4, String(R_ECHO), trigger], { deadlineMs: 300_000 }));
      await until(() => hold.out().includes('"connected"') || hold.child.exitCode !== null, 10_000, "the held connection");
      const live = (JSON.parse(hold.out().split("\n")[0] ?? "{}") as { lport?: number }).lport;
      if (!live) throw new Error(`held connection failed: ${tail(hold)}`);
      const { guest: mac, gateway } = lab.macs();
      if (!mac || !gateway) throw new Error(`MACs unknown: guest ${mac}, gateway ${gateway}`);
      const guest6 = await lab.slaac();
      const pid = lab.passtPid;
      const before = fdCount(pid);
      let peak = before;
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, fdCount(pid));
        } catch {
          /* gone: checked below */
        }
      }, 50);
      const t0 = Date.now();
      let storm: { code: number | string; out: string; err: string };
      try {
        storm = await run(
          [
            "ip", "netns", "exec", lab.guest.name, "/usr/bin/python3", lab.stormPy,
            `iface=${TAP}`, `mac=${mac}`, `gwmac=${gateway}`, `g4=${HOST4}`, `g6=${guest6}`, `r4=${REMOTE4}`, `r6=${REMOTE6}`,
            `port=${R_ECHO}`, `closed=${R_CLOSED}`, `live=${live}`, "count=3000", "flood=2000", "floodbase=40960",
            "spoof=600", "spoof4=203.0.113.77", "seed=7", "gap=0.001",
          ],
          180_000,
        );
        await sleep(1_000);
      } finally {
        clearInterval(sampler);
      }
      const took = Date.now() - t0;
      if (!storm.out.includes("sent")) throw new Error(`storm failed (${storm.code}): ${tail(storm)}`);
      if (lab.passt?.child.exitCode !== null || lab.passt?.child.signalCode !== null) throw new Error(`passt ended during the storm: ${tail(lab.passt as Running, 3)}`);
      const q = lab.qemu;
      if (!q || q.child.exitCode !== null || q.child.signalCode !== null) throw new Error(`qemu ended during the storm: ${q ? tail(q) : "none"}`);
      const after = fdCount(pid);
      writeFileSync(trigger, "");
      await until(() => hold.out().includes('"result"') || hold.child.exitCode !== null, 10_000, "the held connection's check");
      const held = (JSON.parse(hold.out().trim().split("\n").pop() ?? "{}") as { result?: string }).result ?? "no answer";
      // Right away, while the storm's flows are still in passt's table: recorded, not judged.
      const early = await lab.probe(lab.guest, ["many", REMOTE6, String(R_ECHO), "10", "5000"], 15_000);
      // Then once they have aged out (bounded wait): this is what is judged.
      const s0 = Date.now();
      let settle = "";
      try {
        await until(() => fdCount(pid) <= before + 8, 40_000, "passt's descriptors to settle");
        settle = `settled to ${fdCount(pid)} in ${Date.now() - s0} ms`;
      } catch {
        settle = `still ${fdCount(pid)} after 40 s`;
      }
      const xfer = await socatTransfer(paths(4)[0] as Path, 4, true);
      const echo6 = await lab.probe(lab.guest, ["many", REMOTE6, String(R_ECHO), "10", "15000"], 25_000);
      const last = fdCount(pid);
      const fig =
        `${side.label}: storm ${storm.out.trim()} in ${took} ms; passt fds ${before} -> peak ${peak} -> ${after} 1 s later -> ${settle} -> ${last} after the follow-up; ` +
        `the held connection (out-of-window RSTs aimed at it): ${held}; v6 echo right after the storm: ${String(early.answered)}/10 answered (${String(early.connected)} connected)`;
      figures.push(fig);
      if (side.impl === "ours" && peak > before + MAX_FLOWS + 64) throw new Error(`descriptors not bounded by --max-flows ${MAX_FLOWS}: ${before} -> ${peak}`);
      // The C passt sometimes leaves one of these unanswered after the storm (about 1 run in 3): judged for ours only.
      if (echo6.answered !== 10 && side.impl === "ours") throw new Error(`after the storm, v6 echo: ${JSON.stringify(echo6)}`);
      const echoNote = echo6.answered === 10 ? "v6 10/10 echoed" : `v6 echo ${String(echo6.answered)}/10 answered`;
      return `passt and qemu alive; fds ${before} -> peak ${peak} -> ${last}; held connection: ${held}; right after: v6 echo ${String(early.answered)}/10; ${settle}, then v4 10 MiB ${xfer}, ${echoNote}`;
    });
  }, 300_000);

  it("passt and qemu are still running", async () => {
    await scenario(side, "passt and qemu still running at the end", async () => {
      expect(lab.passt?.child.exitCode).toBe(null);
      expect(lab.qemu?.child.exitCode).toBe(null);
      expect(lab.guest.sh(["ip", "-o", "link", "show", "dev", TAP])).not.toMatch(/NO-CARRIER/);
      return `passt fds ${fdCount(lab.passtPid)}`;
    });
  });
});

afterAll(() => {
  const cols = sides.map((s) => s.label);
  const cell = (o: Outcome | undefined): string => (o === undefined ? "not run" : `${o.ok ? (o.note.startsWith("SKIPPED") ? "" : "PASS: ") : "FAIL: "}${o.note}`.replace(/\|/g, "/"));
  const lines = [
    "# passt TCP end-to-end report",
    "",
    `Generated by apps/passt/test/tcp.e2e.test.ts on ${new Date().toISOString()}.`,
    `qemu 7.2 bridges a tap in a guest namespace (tcp_wmem max 128 KiB) to passt's socket; passt runs as uid 65534 in the host namespace with ${PASST_T.join(" ")} (ours also --max-flows ${MAX_FLOWS}). C side: ${c?.path ?? "none found"}. iperf3: ${HAS_IPERF3 ? "present" : "missing (skipped)"}.`,
    "",
    `| scenario | ${cols.join(" | ")} |`,
    `| --- | ${cols.map(() => "---").join(" | ")} |`,
    ...[...results].map(([name, row]) => `| ${name} | ${cols.map((k) => cell(row.get(k))).join(" | ")} |`),
  ];
  if (figures.length) lines.push("", "## Figures", "", ...figures.map((f) => `- ${f.replace(/\n/g, " ")}`));
  const text = `${lines.join("\n")}\n`;
  writeFileSync(fileURLToPath(new URL("./tcp-report-latest.md", import.meta.url)), text);
  process.stdout.write(`\n${text}`);
});
