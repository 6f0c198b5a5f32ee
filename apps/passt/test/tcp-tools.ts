/**
 * What the passt TCP test needs beside lab.ts: which C passt to compare with
 * (the 2024_12_11 oracle when it is beside the project, else Debian's
 * package), a Lab whose guest namespace is tuned for TCP through qemu 7.2's
 * bridge, and the two helper programs the scenarios run inside namespaces.
 *
 * The helpers are kept here as text and written into the bench's own
 * temporary directory, so that every namespace can run them:
 *   - tcp-probe.mjs (Node): TCP servers (echo, half-close, hashing sink that
 *     may stop reading for a while, file source) and clients (file sender,
 *     hashing receiver that may stop reading, half-close client, refused
 *     probe, N concurrent echo clients, a held connection checked on a
 *     trigger file). Each prints one JSON object per line.
 *   - tcp-storm.py (scapy): malformed and hostile TCP frames written to the
 *     guest's tap with a packet socket, so that qemu carries them to passt.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { asUnprivileged, start, until, type Netns, type Running, ORACLE_DIRS } from "@x/harness";
import { Lab, TAP, run } from "./lab.js";


/** The C passt: the oracle if present, else Debian's /usr/bin/passt (TCP_C=debian forces the package). */
export function cPasst(): { path: string; label: string; oracle: boolean } | undefined {
  for (const d of process.env.TCP_C === "debian" ? [] : ORACLE_DIRS) if (existsSync(`${d}passt`)) return { path: `${d}passt`, label: "C passt 2024_12_11 (oracle)", oracle: true };
  if (existsSync("/usr/bin/passt")) return { path: "/usr/bin/passt", label: "C passt (Debian package)", oracle: false };
  return undefined;
}

const PROBE_JS = String.raw`// tcp-probe.mjs: TCP servers and clients for passt's end-to-end test.
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";

const [mode, ...a] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const dial = (host, port, bind) => net.connect({ host, port: Number(port), allowHalfOpen: true, ...(bind ? { localAddress: bind } : {}) });

function serve(kind, port, host, arg) {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", (e) => say({ event: "error", code: e.code }));
    if (kind === "echo") {
      s.pipe(s);
    } else if (kind === "half") {
      const h = createHash("sha256");
      let n = 0;
      s.on("data", (d) => { h.update(d); n += d.length; });
      s.on("end", () => s.end("answer " + n + " " + h.digest("hex") + "\n"));
    } else if (kind === "sink") {
      const pause = Number(arg ?? 0);
      const h = createHash("sha256");
      let n = 0;
      const t0 = Date.now();
      if (pause > 0) {
        s.pause();
        setTimeout(() => s.resume(), pause);
      }
      s.on("data", (d) => { h.update(d); n += d.length; });
      s.on("end", () => {
        say({ event: "done", bytes: n, sha: h.digest("hex"), ms: Date.now() - t0 });
        s.end();
      });
    } else if (kind === "source") {
      createReadStream(arg).pipe(s);
      s.on("end", () => s.end());
    }
  });
  srv.on("error", (e) => { say({ event: "listen-error", code: e.code }); process.exit(1); });
  srv.listen({ port: Number(port), host: host || undefined, ...(host && net.isIPv6(host) ? { ipv6Only: true } : {}) }, () => say({ event: "listening" }));
}

function send(host, port, file, bind) {
  const t0 = Date.now();
  const s = dial(host, port, bind);
  let back = "";
  s.on("connect", () => createReadStream(file).pipe(s));
  s.on("data", (d) => (back += d));
  s.on("end", () => { say({ result: "sent", ms: Date.now() - t0, back }); s.end(); });
  s.on("error", (e) => { say({ result: "error", code: e.code, ms: Date.now() - t0 }); process.exit(1); });
}

function recv(host, port, pause, bind) {
  const t0 = Date.now();
  const s = dial(host, port, bind);
  const h = createHash("sha256");
  let n = 0;
  s.on("connect", () => {
    if (Number(pause) > 0) {
      s.pause();
      setTimeout(() => s.resume(), Number(pause));
    }
  });
  s.on("data", (d) => { h.update(d); n += d.length; });
  s.on("end", () => { say({ result: "received", bytes: n, sha: h.digest("hex"), ms: Date.now() - t0 }); s.end(); });
  s.on("error", (e) => { say({ result: "error", code: e.code, bytes: n, ms: Date.now() - t0 }); process.exit(1); });
}

function half(host, port, bind) {
  const req = randomBytes(3000);
  const want = "answer " + req.length + " " + createHash("sha256").update(req).digest("hex");
  const s = dial(host, port, bind);
  let got = "";
  let writeClosedAt = 0;
  s.on("connect", () => s.end(req, () => (writeClosedAt = Date.now())));
  s.on("data", (d) => (got += d));
  s.on("end", () => {
    say({ result: got.trim() === want ? "ok" : "wrong", answer: got.trim().slice(0, 120), want, answerAfterShutdown: writeClosedAt > 0 });
    s.end();
  });
  s.on("error", (e) => { say({ result: "error", code: e.code }); process.exit(1); });
}

function refuse(host, port, ms) {
  const t0 = Date.now();
  const s = dial(host, port);
  const timer = setTimeout(() => { say({ result: "timeout", ms: Date.now() - t0 }); process.exit(0); }, Number(ms));
  s.on("connect", () => { clearTimeout(timer); say({ result: "connected", ms: Date.now() - t0 }); process.exit(0); });
  s.on("error", (e) => { clearTimeout(timer); say({ result: e.code, ms: Date.now() - t0 }); process.exit(0); });
}

function many(host, port, count, ms) {
  let answered = 0;
  let settled = 0;
  let connected = 0;
  const errors = {};
  const n = Number(count);
  const t0 = Date.now();
  const finish = () => { say({ result: "many", count: n, connected, answered, errors, ms: Date.now() - t0 }); process.exit(0); };
  setTimeout(finish, Number(ms));
  for (let i = 0; i < n; i++) {
    const msg = "connection " + i + " " + randomBytes(16).toString("hex") + "\n";
    const s = dial(host, port);
    let got = "";
    s.on("connect", () => { connected++; s.end(msg); });
    s.on("data", (d) => (got += d));
    s.on("end", () => {
      if (got === msg) answered++;
      else errors.wrong = (errors.wrong ?? 0) + 1;
      s.end();
      if (++settled === n) finish();
    });
    s.on("error", (e) => {
      errors[e.code] = (errors[e.code] ?? 0) + 1;
      if (++settled === n) finish();
    });
  }
}

function hold(host, port, trigger) {
  const s = dial(host, port);
  let state = "open";
  let got = "";
  s.on("connect", () => say({ event: "connected", lport: s.localPort }));
  s.on("error", (e) => (state = "error " + e.code));
  s.on("end", () => (state = state === "open" ? "closed by peer" : state));
  s.on("data", (d) => (got += d));
  const poll = setInterval(() => {
    if (!existsSync(trigger)) return;
    clearInterval(poll);
    if (state !== "open") { say({ result: state }); process.exit(0); }
    s.write("still there?\n");
    const t = setTimeout(() => { say({ result: "no echo", state }); process.exit(0); }, 5000);
    const check = setInterval(() => {
      if (got.includes("still there?\n")) { clearTimeout(t); say({ result: "echoed" }); process.exit(0); }
      if (state !== "open") { clearTimeout(t); say({ result: state }); process.exit(0); }
    }, 20);
  }, 100);
}

if (mode === "serve") serve(a[0], a[1], a[2], a[3]);
else if (mode === "send") send(a[0], a[1], a[2], a[3]);
else if (mode === "recv") recv(a[0], a[1], a[2], a[3]);
else if (mode === "half") half(a[0], a[1], a[2]);
else if (mode === "refuse") refuse(a[0], a[1], a[2]);
else if (mode === "many") many(a[0], a[1], a[2], a[3]);
else if (mode === "hold") hold(a[0], a[1], a[2]);
else { say({ result: "usage" }); process.exit(2); }
`;

const STORM_PY = String.raw`# tcp-storm.py: malformed and hostile TCP frames out of the guest's tap.
# Usage: /usr/bin/python3 tcp-storm.py key=value...
# One frame every gap seconds: the pace is for qemu 7.2's stream netdev,
# which aborts when its socket fills faster than passt drains it.
import random
import sys

from scapy.all import IP, TCP, Ether, IPv6, Raw, conf
from scapy.sendrecv import sendp

arg = dict(x.split("=", 1) for x in sys.argv[1:])
conf.verb = 0
rng = random.Random(int(arg["seed"]))
me, gw = arg["mac"], arg["gwmac"]
g4, g6, r4, r6 = arg["g4"], arg["g6"], arg["r4"], arg["r6"]
port, closed, live = int(arg["port"]), int(arg["closed"]), int(arg["live"])
count, flood, spoof = int(arg["count"]), int(arg["flood"]), int(arg["spoof"])
flood_base = int(arg["floodbase"])
gap = float(arg.get("gap", "0.001"))


def rb(n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def e4(src=None):
    return Ether(src=me, dst=gw) / IP(src=src or g4, dst=r4)


def e6():
    return Ether(src=me, dst=gw) / IPv6(src=g6, dst=r6)


def sp():
    # Outside the guest's own ephemeral ports and the flood's range.
    return rng.randint(61000, 65000)


def seq():
    return rng.getrandbits(32)


def cut_into_tcp(pkt, off):
    b = bytes(pkt)
    return b[: off + rng.randint(1, 19)]


def ip_len(pkt, value):
    b = bytearray(bytes(pkt))
    b[16:18] = value.to_bytes(2, "big")
    return bytes(b)


def ip6_plen(pkt, value):
    b = bytearray(bytes(pkt))
    b[18:20] = value.to_bytes(2, "big")
    return bytes(b)


def wrong_sum(l3, tcp):
    pkt = l3 / tcp
    good = bytes(pkt.__class__(bytes(pkt)))
    off = 14 + (20 if IP in pkt else 40) + 16
    b = bytearray(good)
    b[off] ^= 1 + rng.randint(0, 254)
    return bytes(b)


OPTIONS_PAST = [
    (6, bytes([2, 10, 5, 0xB4])),               # MSS claims 10 bytes in a 4-byte option area
    (6, bytes([8, 0, 0, 0])),                   # timestamps with length 0
    (6, bytes([3, 255, 7, 1])),                 # window scale with length 255
    (6, bytes([1, 1, 1, 2])),                   # NOPs, then a kind with no length byte
    (8, bytes([2, 4, 0, 0, 3, 3, 200, 0, 4, 2, 8, 1])),  # MSS 0, window scale 200
    (7, bytes([5, 34, 0, 0, 0, 1, 0, 0])),      # SACK block running far past the header
]

makers = [
    lambda: wrong_sum(e4(), TCP(sport=sp(), dport=port, flags="S", seq=seq())),
    lambda: wrong_sum(e6(), TCP(sport=sp(), dport=port, flags="S", seq=seq())),
    lambda: wrong_sum(e4(), TCP(sport=live, dport=port, flags="PA", seq=seq(), ack=seq()) / Raw(rb(64))),
    lambda: bytes(e4() / TCP(sport=sp(), dport=port, flags="S", seq=seq(), dataofs=rng.randint(0, 4)) / Raw(rb(rng.randint(0, 24)))),
    lambda: bytes(e6() / TCP(sport=sp(), dport=port, flags="S", seq=seq(), dataofs=rng.randint(0, 4)) / Raw(rb(rng.randint(0, 24)))),
    lambda: bytes(e4() / TCP(sport=sp(), dport=port, flags="S", seq=seq(), dataofs=15) / Raw(rb(rng.randint(0, 30)))),
    lambda: bytes(e6() / TCP(sport=sp(), dport=port, flags="S", seq=seq(), dataofs=15) / Raw(rb(rng.randint(0, 30)))),
    lambda: bytes(e4() / TCP(sport=live, dport=port, flags="A", seq=seq(), ack=seq(), dataofs=15)),
    lambda: (lambda o: bytes(e4() / TCP(sport=sp(), dport=port, flags="S", seq=seq(), dataofs=o[0]) / Raw(o[1])))(rng.choice(OPTIONS_PAST)),
    lambda: (lambda o: bytes(e6() / TCP(sport=sp(), dport=port, flags="S", seq=seq(), dataofs=o[0]) / Raw(o[1])))(rng.choice(OPTIONS_PAST)),
    lambda: (lambda d: bytes(e4() / TCP(sport=sp(), dport=port, flags="S", seq=seq(), dataofs=d) / Raw(rb((d - 5) * 4))))(rng.randint(6, 15)),
    lambda: cut_into_tcp(e4() / TCP(sport=sp(), dport=port, flags="S"), 14 + 20),
    lambda: cut_into_tcp(e6() / TCP(sport=sp(), dport=port, flags="S"), 14 + 40),
    lambda: ip_len(e4() / TCP(sport=sp(), dport=port, flags="S"), 20 + rng.randint(0, 19)),
    lambda: ip_len(e4() / TCP(sport=sp(), dport=port, flags="S"), rng.randint(60, 65535)),
    lambda: ip6_plen(e6() / TCP(sport=sp(), dport=port, flags="S"), rng.randint(0, 19)),
    lambda: ip6_plen(e6() / TCP(sport=sp(), dport=port, flags="S"), rng.randint(100, 65535)),
    # Out-of-window data, ACKs and RSTs on a live connection, and on unknown ones.
    lambda: bytes(e4() / TCP(sport=live, dport=port, flags="PA", seq=seq(), ack=seq()) / Raw(rb(rng.randint(1, 1400)))),
    lambda: bytes(e4() / TCP(sport=live, dport=port, flags="A", seq=seq(), ack=seq(), window=rng.randint(0, 65535))),
    lambda: bytes(e4() / TCP(sport=live, dport=port, flags=rng.choice(["R", "RA"]), seq=seq(), ack=seq())),
    lambda: bytes(e4() / TCP(sport=sp(), dport=port, flags=rng.choice(["A", "F", "FA", "R", "RA", "PA", "U", ""]), seq=seq(), ack=seq()) / Raw(rb(rng.randint(0, 100)))),
    lambda: bytes(e6() / TCP(sport=sp(), dport=port, flags=rng.choice(["A", "F", "FA", "R", "RA", "PA"]), seq=seq(), ack=seq()) / Raw(rb(rng.randint(0, 100)))),
    # Flag combinations no stack sends.
    lambda: bytes(e4() / TCP(sport=sp(), dport=port, flags=rng.choice(["SF", "SR", "SA", "SRAFPU", "FPU", "SFRPAUEC"]), seq=seq(), ack=seq())),
    lambda: bytes(e4() / TCP(sport=sp(), dport=port, flags="S", seq=seq()) / Raw(rb(rng.randint(1, 1000)))),
    lambda: bytes(e4() / TCP(sport=sp(), dport=rng.choice([0, closed]), flags="S", seq=seq())),
    lambda: bytes(e4() / TCP(sport=0, dport=port, flags="S", seq=seq())),
    lambda: bytes(e6() / TCP(sport=sp(), dport=rng.choice([0, closed]), flags="S", seq=seq())),
    lambda: bytes(e4() / TCP(sport=sp(), dport=port, flags="S", seq=seq(), window=0, options=[("MSS", 1), ("WScale", 14)])),
]

frames = [makers[i % len(makers)]() for i in range(count)]
frames += [bytes(e4() / TCP(sport=flood_base + i, dport=port, flags="S", seq=seq(), options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]))
           for i in range(flood)]
rng.shuffle(frames)
# Half-open connections first, from an address of the guest's subnet that
# nobody owns: their SYN-ACKs are dropped, so the flows stay half open.
spoofed = [bytes(e4(src=arg["spoof4"]) / TCP(sport=20000 + i, dport=port, flags="S", seq=seq())) for i in range(spoof)]
sendp([Raw(f) for f in spoofed + frames], iface=arg["iface"], verbose=0, inter=gap)
print(f"sent {len(spoofed) + len(frames)} ({len(spoofed)} spoofed half-open, {flood} flood SYNs, {count} malformed or hostile)")
`;

/** lab.ts's bench for TCP: the C side run from `cPath`, helpers written into its directory, the guest namespace tuned. */
export class TcpLab extends Lab {
  readonly probeJs: string;
  readonly stormPy: string;

  constructor(
    impl: "ours" | "debian",
    private readonly cPath?: string,
  ) {
    super(impl);
    this.probeJs = join(this.dir, "tcp-probe.mjs");
    this.stormPy = join(this.dir, "tcp-storm.py");
    try {
      writeFileSync(this.probeJs, PROBE_JS, { mode: 0o644 });
      writeFileSync(this.stormPy, STORM_PY, { mode: 0o644 });
      // qemu 7.2's tap+hub+stream bridge stays reliable for TCP when the guest caps its send buffer.
      this.guest.sh(["sysctl", "-qw", "net.ipv4.tcp_wmem=4096 16384 131072"]);
      // The guest's own ephemeral ports stay clear of the ports the storm forges.
      this.guest.sh(["sysctl", "-qw", "net.ipv4.ip_local_port_range=50000 60999"]);
    } catch (e) {
      void this.remove();
      throw e;
    }
  }

  override passtArgv(args: string[]): string[] {
    if (this.impl === "ours" || !this.cPath) return super.passtArgv(args);
    return ["ip", "netns", "exec", this.world.host.name, ...asUnprivileged([this.cPath, ...args])];
  }

  /** A tcp-probe server in `ns`, tracked for remove(); resolves once it listens. */
  async serve(ns: Netns, kind: "echo" | "half" | "sink" | "source", port: number, host = "", arg = ""): Promise<Running> {
    const r = this.track(start(["ip", "netns", "exec", ns.name, process.execPath, this.probeJs, "serve", kind, String(port), host, arg], { deadlineMs: 600_000 }));
    await until(() => r.out().includes('"listening"') || r.child.exitCode !== null, 5_000, `tcp-probe ${kind} on ${port}`);
    if (!r.out().includes('"listening"')) throw new Error(`tcp-probe ${kind} on ${port} failed: ${(r.out() + r.err()).trim()}`);
    return r;
  }

  /** Runs a tcp-probe client in `ns` to its end; resolves with its last JSON line. */
  async probe(ns: Netns, args: string[], ms: number): Promise<Record<string, unknown>> {
    const r = await run(["ip", "netns", "exec", ns.name, process.execPath, this.probeJs, ...args], ms);
    const line = r.out.trim().split("\n").pop() ?? "";
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`tcp-probe ${args[0]} gave no result (exit ${r.code}): ${r.err.trim().split("\n").slice(-2).join(" / ")}`);
    }
  }

  /** The guest's MAC address and, once the guest has talked to it, the gateway's. */
  macs(): { guest: string; gateway: string } {
    const guest = /link\/ether ([0-9a-f:]+)/.exec(this.guest.sh(["ip", "-o", "link", "show", "dev", TAP]))?.[1] ?? "";
    const gateway = /lladdr ([0-9a-f:]+)/.exec(this.guest.sh(["ip", "-4", "neigh", "show", "dev", TAP]))?.[1] ?? "";
    return { guest, gateway };
  }
}

/** Waits until something in `ns` listens on TCP `port`. */
export async function listening(ns: Netns, port: number, ms = 5_000): Promise<void> {
  await until(() => ns.sh(["ss", "-Hltn", `sport = :${port}`]).trim() !== "", ms, `a TCP listener on port ${port} in ${ns.name}`);
}

/** A file of `bytes` random bytes; resolves with its SHA-256. */
export function randomFile(path: string, bytes: number): string {
  const data = randomBytes(bytes);
  writeFileSync(path, data, { mode: 0o644 });
  return createHash("sha256").update(data).digest("hex");
}

export async function sha256File(path: string): Promise<{ sha: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha: h.digest("hex"), bytes };
}

/** socat's way of writing an address: IPv6 in brackets. */
export function socatHost(addr: string): string {
  return addr.includes(":") ? `[${addr}]` : addr;
}

/** Gbit/s an iperf3 -J run measured at the receiver. */
export function iperfGbits(json: string): number {
  const o = JSON.parse(json) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
  if (o.error) throw new Error(`iperf3: ${o.error}`);
  const bps = o.end?.sum_received?.bits_per_second;
  if (bps === undefined) throw new Error("iperf3 reported no received sum");
  return bps / 1e9;
}
