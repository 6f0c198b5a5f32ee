/**
 * What the TCP end-to-end tests need beside topology.ts: a process tracker
 * that kills by PID everything a test started (the socat and python servers
 * run inside the namespaces, where World.remove() does not reach pasta's
 * own namespace), a wait for a listening port, random files and their
 * SHA-256, a socat bulk transfer, and two Python scripts: TOOL (the small
 * clients and servers whose behaviour socat cannot express: half-close, a
 * reset by SO_LINGER 0, a receiver that pauses, 200 connections at once,
 * connect() outcomes and their times) and STORM (malformed TCP frames
 * written into the tap with scapy). Each script run prints one JSON line.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, createReadStream, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { childrenOf, start, type Running } from "@x/harness";
import { run } from "./topology.js";

/** Debian's python3: the one with scapy (a pyenv shim may come first on PATH). */
export const PY = "/usr/bin/python3";

/** Every process a world started, killed by PID (descendants first) when the world goes. */
export class Procs {
  private readonly all: Running[] = [];

  start(argv: string[], deadlineMs = 120_000): Running {
    const r = start(argv, { deadlineMs });
    this.all.push(r);
    return r;
  }

  /** Kills one process and everything below it (socat's forks, python's threads are in-process). */
  kill(r: Running): void {
    const pid = r.child.pid;
    if (pid !== undefined) killTree(pid);
    r.kill("SIGKILL");
  }

  async killAll(): Promise<void> {
    for (const r of this.all) this.kill(r);
    await Promise.race([Promise.all(this.all.map((r) => r.exited)), new Promise((res) => setTimeout(res, 3000))]);
    this.all.length = 0;
  }
}

function killTree(pid: number): void {
  for (const c of childrenOf(pid)) killTree(c);
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone */
  }
}

/** Waits until a socket of `family` in the namespace of `prefix` listens on TCP `port` (ss -l). */
export async function waitListening(prefix: string[], port: number, family: 4 | 6, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    // Of this family only: the other family's server on the same port (an
    // earlier scenario's, still running) must not count as this one's.
    const r = await run([...prefix, "ss", "-Hltn", `-${family}`, `sport = :${port}`], 5000);
    if (r.ok && r.out.trim() !== "") return;
    if (Date.now() > end) throw new Error(`nothing listens on TCP port ${port} after ${ms} ms: ${r.out.trim().slice(0, 200)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Writes `size` random bytes to dir/name (readable by all), returns the path and its SHA-256. */
export function randomFile(dir: string, name: string, size: number): { path: string; sha: string } {
  const data = randomBytes(size);
  const path = join(dir, name);
  writeFileSync(path, data);
  chmodSync(path, 0o644);
  return { path, sha: createHash("sha256").update(data).digest("hex") };
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

/** The last line of a script's output parsed as JSON; throws with the output when there is none. */
export function lastJson<T>(r: { ok: boolean; out: string }, what: string): T {
  const line = r.out.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`${what}: no result line; output: ${r.out.trim().replace(/\s+/g, " ").slice(-300)}`);
  return JSON.parse(line) as T;
}

export interface Endpoint {
  /** The argv prefix that runs a command in the endpoint's namespace. */
  prefix: string[];
  family: 4 | 6;
  /** For a server, the address it binds; for a client, the address it connects to. */
  addr: string;
  port: number;
  /** For a client: the source address to bind (a remote client speaks from REMOTE4/6, not from the gateway's veth address). */
  bind?: string;
}

const socatAddr = (a: string, f: 4 | 6): string => (f === 6 ? `[${a}]` : a);

/**
 * One connection made with socat, client -> server, carrying `file` one
 * way: "client-sends" (the server writes what it reads to a file) or
 * "server-sends" (the server sends the file as soon as the client is in).
 * Resolves with what arrived's SHA-256 and size, the client's exit status
 * and output when it failed.
 */
export async function socatTransfer(
  procs: Procs,
  server: Endpoint,
  client: Endpoint,
  file: string,
  direction: "client-sends" | "server-sends",
  timeoutMs: number,
): Promise<{ sha: string; bytes: number; detail: string }> {
  const out = `${file}.${direction}.${server.port}.out`;
  const f = server.family;
  const listen = `TCP${f}-LISTEN:${server.port},bind=${socatAddr(server.addr, f)},reuseaddr${f === 6 ? ",ipv6only=1" : ""}`;
  const connect = `TCP${f}:${socatAddr(client.addr, f)}:${client.port},connect-timeout=5${client.bind ? `,bind=${socatAddr(client.bind, f)}` : ""}`;
  // -u: one direction only; the sender's EOF ends the connection.
  const srv =
    direction === "client-sends"
      ? procs.start([...server.prefix, "socat", "-u", listen, `CREATE:${out}`], timeoutMs + 10_000)
      : procs.start([...server.prefix, "socat", "-u", `OPEN:${file},rdonly`, listen], timeoutMs + 10_000);
  await waitListening(server.prefix, server.port, server.family);
  const cli =
    direction === "client-sends"
      ? await run([...client.prefix, "socat", "-u", `OPEN:${file},rdonly`, connect], timeoutMs)
      : await run([...client.prefix, "socat", "-u", connect, `CREATE:${out}`], timeoutMs);
  // The server ends on its own once the data is through; a bound, not a measure.
  await Promise.race([srv.exited, new Promise((res) => setTimeout(res, 5000))]);
  procs.kill(srv);
  let sha = "";
  let bytes = 0;
  try {
    sha = await sha256File(out);
    const r = await run(["stat", "-c", "%s", out]);
    bytes = Number(r.out.trim());
  } catch {
    /* nothing arrived */
  }
  const detail = cli.ok ? "" : `client: ${cli.out.trim().replace(/\s+/g, " ").slice(-200)}; server: ${srv.err().trim().slice(-200)}`;
  return { sha, bytes, detail };
}

/**
 * argv: MODE FAMILY ADDR PORT [args]. Servers bind ADDR:PORT (v6 only for
 * family 6), clients connect to it. Each prints one JSON line at the end.
 *
 *   echo-server                      echoes every connection (threads) until killed
 *   listen-only                      listens with a backlog of 4096, never accepts
 *   halfclose-server                 reads until EOF, then answers {"got","sha"} and closes
 *   reset-server                     reads one line, then closes with SO_LINGER 0 (RST)
 *   sink-server|sink-client  [AFTER PAUSE]   reads until EOF (pausing PAUSE s after AFTER bytes)
 *   source-server|source-client FILE [AFTER PAUSE]  sends FILE, shuts its write side, waits for EOF
 *   halfclose-client SIZE            sends SIZE bytes, shuts its write side, reads the answer
 *   connect TIMEOUT                  one connect(): "refused", "timeout", "connected" or the errno name
 *   reset-client TIMEOUT             sends a line, then reads: "reset", "eof", "timeout" or "data"
 *   idle PAUSE                       echo, PAUSE s of silence, echo again on the same connection
 *   concurrent N                     N connections at once, each echoes its own 1000 bytes
 *   probe DEADLINE                   retries connect+echo every 100 ms until it works or DEADLINE s
 *   hold GOFILE                      echo once, print the local port, wait for GOFILE, echo again
 */
export const TOOL = String.raw`
import errno, hashlib, json, os, select, socket, struct, sys, threading, time
mode, fam, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
args = sys.argv[5:]
AF = socket.AF_INET6 if fam == "6" else socket.AF_INET
def out(**kw):
    print(json.dumps(kw), flush=True)
def listener(backlog=128):
    s = socket.socket(AF, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if AF == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(backlog)
    return s
def connected(timeout=10):
    src = os.environ.get("BIND")
    s = socket.create_connection((addr, port), timeout=timeout, source_address=(src, 0) if src else None)
    s.settimeout(60)
    return s
def read_all(c, after=0, pause=0):
    h, n, paused = hashlib.sha256(), 0, False
    while True:
        want = 65536
        if after and not paused:
            want = min(want, after - n)
        d = c.recv(want)
        if not d:
            break
        h.update(d)
        n += len(d)
        if after and not paused and n >= after:
            paused = True
            time.sleep(pause)
    return n, h.hexdigest()
def send_file(c, path, after=0, pause=0):
    with open(path, "rb") as f:
        data = f.read()
    if after:
        c.sendall(data[:after])
        time.sleep(pause)
        c.sendall(data[after:])
    else:
        c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass
    return len(data)
def recv_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            break
        b += d
    return b
def pause_args():
    return (int(args[-2]), float(args[-1])) if len(args) >= 2 else (0, 0)

if mode == "echo-server":
    s = listener(1024)
    def serve(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
elif mode == "listen-only":
    s = listener(4096)
    time.sleep(3600)
elif mode == "halfclose-server":
    s = listener()
    c, _ = s.accept()
    c.settimeout(60)
    n, h = read_all(c)
    c.sendall(json.dumps({"got": n, "sha": h}).encode() + b"\n")
    c.close()
    out(got=n)
elif mode == "reset-server":
    s = listener()
    c, _ = s.accept()
    c.settimeout(30)
    b = b""
    while not b.endswith(b"\n"):
        d = c.recv(100)
        if not d:
            break
        b += d
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    out(reset=True)
elif mode in ("sink-server", "sink-client"):
    after, pause = pause_args()
    if mode == "sink-server":
        c, _ = listener().accept()
        c.settimeout(60)
    else:
        c = connected()
    n, h = read_all(c, after, pause)
    c.close()
    out(bytes=n, sha=h)
elif mode in ("source-server", "source-client"):
    after, pause = pause_args()
    if mode == "source-server":
        c, _ = listener().accept()
        c.settimeout(60)
    else:
        c = connected()
    n = send_file(c, args[0], after, pause)
    c.close()
    out(sent=n)
elif mode == "halfclose-client":
    size = int(args[0])
    data = bytes((i * 31 + 7) & 0xff for i in range(size))
    c = connected()
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        reply += d
    c.close()
    try:
        r = json.loads(reply.decode())
    except Exception:
        r = {"raw": reply[:200].decode(errors="replace")}
    out(sent=size, sha=hashlib.sha256(data).hexdigest(), reply=r)
elif mode == "connect":
    s = socket.socket(AF, socket.SOCK_STREAM)
    s.settimeout(float(args[0]))
    t0 = time.monotonic()
    try:
        s.connect((addr, port))
        res = "connected"
    except ConnectionRefusedError:
        res = "refused"
    except socket.timeout:
        res = "timeout"
    except OSError as e:
        res = errno.errorcode.get(e.errno, str(e))
    out(result=res, ms=round((time.monotonic() - t0) * 1000, 1))
elif mode == "reset-client":
    c = connected()
    c.settimeout(float(args[0]))
    c.sendall(b"please reset\n")
    t0 = time.monotonic()
    try:
        d = c.recv(100)
        res = "data" if d else "eof"
    except ConnectionResetError:
        res = "reset"
    except socket.timeout:
        res = "timeout"
    except OSError as e:
        res = errno.errorcode.get(e.errno, str(e))
    out(result=res, ms=round((time.monotonic() - t0) * 1000, 1))
elif mode == "idle":
    c = connected()
    c.sendall(b"before the pause\n")
    first = recv_exact(c, 17)
    time.sleep(float(args[0]))
    c.sendall(b"after the pause!\n")
    second = recv_exact(c, 17)
    c.close()
    out(first=first == b"before the pause\n", second=second == b"after the pause!\n")
elif mode == "concurrent":
    n = int(args[0])
    socks, want, got, errors = [], {}, {}, []
    for i in range(n):
        s = socket.socket(AF, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((addr, port))
        socks.append(s)
        want[s.fileno()] = (b"%04d-" % i) * 200
        got[s.fileno()] = b""
    pending_w = set(socks)
    open_r = set(socks)
    end = time.monotonic() + 30
    while open_r and time.monotonic() < end:
        r, w, _ = select.select(list(open_r), list(pending_w), [], 0.5)
        for s in w:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            pending_w.discard(s)
            if err:
                errors.append(errno.errorcode.get(err, str(err)))
                open_r.discard(s)
                continue
            s.setblocking(True)
            s.sendall(want[s.fileno()])
            s.setblocking(False)
        for s in r:
            if s in pending_w:
                continue
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                errors.append(errno.errorcode.get(e.errno, str(e)))
                open_r.discard(s)
                continue
            got[s.fileno()] += d
            if not d or len(got[s.fileno()]) >= len(want[s.fileno()]):
                open_r.discard(s)
    good = sum(1 for s in socks if got[s.fileno()] == want[s.fileno()])
    out(n=n, good=good, errors=errors[:10], unfinished=len(open_r))
elif mode == "probe":
    end = time.monotonic() + float(args[0])
    t0, attempts, last = time.monotonic(), 0, ""
    while time.monotonic() < end:
        attempts += 1
        try:
            c = socket.create_connection((addr, port), timeout=2)
            c.settimeout(2)
            c.sendall(b"probe\n")
            if recv_exact(c, 6) == b"probe\n":
                c.close()
                out(ok=True, ms=round((time.monotonic() - t0) * 1000), attempts=attempts)
                sys.exit(0)
            last = "no echo"
            c.close()
        except OSError as e:
            last = type(e).__name__
        time.sleep(0.1)
    out(ok=False, attempts=attempts, last=last)
elif mode == "hold":
    c = connected()
    c.sendall(b"hold-1\n")
    a = recv_exact(c, 7)
    print("PORT %d" % c.getsockname()[1], flush=True)
    end = time.monotonic() + 120
    while not os.path.exists(args[0]) and time.monotonic() < end:
        time.sleep(0.05)
    c.settimeout(5)
    try:
        c.sendall(b"hold-2\n")
        b = recv_exact(c, 7)
        res = "echoed" if b == b"hold-2\n" else "wrong: %r" % b
    except OSError as e:
        res = type(e).__name__
    out(first=a == b"hold-1\n", second=res)
else:
    sys.exit("unknown mode " + mode)
`;

/**
 * argv: iface dst_mac src4 dst4 src6 dst6 flood_port live_sport live_dport.
 * Writes malformed and stray TCP frames into the tap, built by hand (scapy
 * only for Ethernet and IP, whose lengths and checksums stay right):
 * bad TCP checksums; data offsets below 5; data offsets past the segment;
 * options whose lengths run past the header (and a zero length); segments
 * with random, out-of-window sequence numbers into a live connection
 * (src4:live_sport -> dst4:live_dport) and to ports without one; RSTs for
 * no connection; then a SYN flood from 3000 source ports to
 * dst4:flood_port, where a listener is. Prints how many of each went out.
 */
export const STORM = String.raw`
import json, random, struct, sys, socket
from scapy.all import Ether, IP, IPv6, Raw, sendp, get_if_hwaddr, conf
conf.verb = 0
random.seed(7)
iface, dst, s4, d4, s6, d6 = sys.argv[1:7]
flood_port, live_sport, live_dport = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
e = Ether(src=get_if_hwaddr(iface), dst=dst)
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
def tcp(v6, sport, dport, seq, ack, flags, doff=5, opts=b"", payload=b"", good=True):
    src, dst_ = (s6, d6) if v6 else (s4, d4)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, (doff & 15) << 4, flags, 65535, 0, 0) + opts
    seg = hdr + payload
    if v6:
        pseudo = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst_) + struct.pack("!IxxxB", len(seg), 6)
    else:
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst_) + struct.pack("!xBH", 6, len(seg))
    c = csum(pseudo + seg)
    if not good:
        c ^= 0x5a5a
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    ip = IPv6(src=src, dst=dst_, nh=6) if v6 else IP(src=src, dst=dst_, proto=6)
    return bytes(e / ip / Raw(seg))
rp = lambda: random.randint(1024, 65535)
rs = lambda: random.getrandbits(32)
kinds = {}
def add(kind, frames):
    kinds[kind] = kinds.get(kind, 0) + len(frames)
    return frames
frames = []
for v6 in (False, True):
    n = 300 if v6 else 500
    frames += add("badChecksum", [tcp(v6, rp(), rp(), rs(), rs(), random.choice([SYN, ACK, ACK | PSH, FIN | ACK]), payload=b"x" * random.randint(0, 64), good=False) for _ in range(n)])
    frames += add("doffBelow5", [tcp(v6, rp(), rp(), rs(), rs(), random.choice([SYN, ACK | PSH]), doff=random.randint(0, 4), payload=b"y" * 8) for _ in range(n // 2)])
    frames += add("doffPastSegment", [tcp(v6, rp(), rp(), rs(), rs(), random.choice([SYN, ACK | PSH]), doff=random.randint(7, 15), opts=b"\1\1\1\1", payload=b"") for _ in range(n // 2)])
    # MSS, window scale, SACK and timestamp options with lengths past the header, or 0 or 1.
    bad_opts = [b"\2\x08\5\xb4", b"\3\x09\7\0", b"\5\x22\0\0", b"\x08\x0c\0\0", b"\2\0\0\0", b"\x1e\1\0\0", b"\2\4\5"]
    frames += add("optionsPastHeader", [tcp(v6, rp(), rp(), rs(), 0, SYN, doff=6, opts=random.choice(bad_opts).ljust(4, b"\0")[:4]) for _ in range(n // 2)])
    frames += add("rstNoConnection", [tcp(v6, rp(), rp(), rs(), rs(), random.choice([RST, RST | ACK])) for _ in range(n // 2)])
    frames += add("outOfWindowNoConnection", [tcp(v6, rp(), rp(), rs(), rs(), ACK | PSH, payload=b"z" * 100) for _ in range(n // 2)])
frames += add("outOfWindowLive", [tcp(False, live_sport, live_dport, rs(), rs(), random.choice([ACK, ACK | PSH]), payload=random.choice([b"", b"stray data\n"])) for _ in range(500)])
random.shuffle(frames)
sendp(frames, iface=iface)
flood = add("synFlood", [tcp(False, 20000 + i, flood_port, rs(), 0, SYN, doff=6, opts=b"\2\4\5\xb4") for i in range(3000)])
sendp(flood, iface=iface)
print(json.dumps({"total": sum(kinds.values()), "kinds": kinds}))
`;

/** The argv that runs TOOL in `ep`'s namespace: MODE FAMILY ADDR PORT ARGS (BIND in the environment for a client's source). */
export function toolArgv(ep: Endpoint, mode: string, args: (string | number)[] = []): string[] {
  return [...ep.prefix, "env", ...(ep.bind ? [`BIND=${ep.bind}`] : []), PY, "-c", TOOL, mode, String(ep.family), ep.addr, String(ep.port), ...args.map(String)];
}

/** Runs a TOOL client to its end (bounded by `timeoutMs`) and returns its JSON line. */
export async function runTool<T>(ep: Endpoint, mode: string, args: (string | number)[], timeoutMs: number): Promise<T> {
  return lastJson<T>(await run(toolArgv(ep, mode, args), timeoutMs), `${mode} to ${ep.addr} port ${ep.port}`);
}

/** Starts a TOOL server and waits until it listens. */
export async function startTool(procs: Procs, ep: Endpoint, mode: string, args: (string | number)[] = [], deadlineMs = 120_000): Promise<Running> {
  const r = procs.start(toolArgv(ep, mode, args), deadlineMs);
  try {
    await waitListening(ep.prefix, ep.port, ep.family);
  } catch (e) {
    throw new Error(`${mode} server on ${ep.addr} port ${ep.port}: ${e instanceof Error ? e.message : String(e)}; stderr: ${r.err().trim().slice(-300)}`);
  }
  return r;
}

/** A server's JSON line once it has exited on its own (bounded by `ms`). */
export async function serverJson<T>(r: Running, ms: number, what: string): Promise<T> {
  await Promise.race([r.exited, new Promise((res) => setTimeout(res, ms))]);
  return lastJson<T>({ ok: true, out: `${r.out()}\n${r.err()}` }, what);
}

/** Throughput tools: iperf3 if installed, else iperf2 (both measure TCP), else none. */
export function throughputTool(): { name: "iperf3" | "iperf" | "none"; version: string } {
  for (const name of ["iperf3", "iperf"] as const) {
    try {
      const v = execFileSync(name, ["--version"], { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "pipe"] });
      return { name, version: v.split("\n")[0]?.trim() ?? name };
    } catch (e) {
      // iperf2 prints its version on stderr and exits 1.
      const err = (e as { stderr?: string; code?: string }).stderr;
      if ((e as { code?: string }).code !== "ENOENT" && err) return { name, version: err.split("\n")[0]?.trim() ?? name };
    }
  }
  return { name: "none", version: "" };
}

/**
 * A few seconds of bulk TCP from `client` to `server`'s port with iperf3
 * or iperf2; resolves with Gbit/s as the receiver counted it (iperf3) or as
 * the client reports it (iperf2), and the sender's retransmissions (iperf3).
 */
export async function throughput(
  procs: Procs,
  tool: "iperf3" | "iperf",
  server: Endpoint,
  client: Endpoint,
  seconds: number,
): Promise<{ gbps: number; retransmits?: number | undefined }> {
  const v6 = server.family === 6;
  const srvArgv =
    tool === "iperf3"
      ? ["iperf3", "-s", "-1", "-p", String(server.port), "-B", server.addr]
      : ["iperf", "-s", "-p", String(server.port), "-B", server.addr, ...(v6 ? ["-V"] : [])];
  const srv = procs.start([...server.prefix, ...srvArgv], (seconds + 30) * 1000);
  try {
    await waitListening(server.prefix, server.port, server.family);
    const cliArgv =
      tool === "iperf3"
        ? ["iperf3", "-c", client.addr, "-p", String(client.port), "-t", String(seconds), "-J", ...(v6 ? ["-6"] : ["-4"])]
        : ["iperf", "-c", client.addr, "-p", String(client.port), "-t", String(seconds), "-f", "g", ...(v6 ? ["-V"] : [])];
    const r = await run([...client.prefix, ...cliArgv], (seconds + 20) * 1000);
    if (tool === "iperf3") {
      const j = JSON.parse(r.out.slice(r.out.indexOf("{"))) as { end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } }; error?: string };
      const bps = j.end?.sum_received?.bits_per_second;
      if (!bps) throw new Error(`iperf3: ${j.error ?? r.out.slice(-200)}`);
      return { gbps: bps / 1e9, retransmits: j.end?.sum_sent?.retransmits };
    }
    const m = [...r.out.matchAll(/([\d.]+) Gbits\/sec/g)].pop();
    if (!r.ok || !m) throw new Error(`iperf: ${r.out.trim().replace(/\s+/g, " ").slice(-200)}`);
    return { gbps: Number(m[1]) };
  } finally {
    procs.kill(srv);
  }
}
