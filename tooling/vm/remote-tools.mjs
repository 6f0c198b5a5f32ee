// The remote side of the VM bench, run inside the "remote" namespace with
// `ip netns exec NS node remote-tools.mjs MODE ...`. Servers print
// "listening" once bound, then one JSON object per event; clients print one
// JSON verdict and exit.
//
//   dns PORT NAME A AAAA BIND...      answers A/AAAA for NAME (NXDOMAIN for other names)
//   udp-echo PORT BIND...             echoes every datagram to its sender
//   tcp-source PORT FILE BIND...      sends FILE to every client, then closes
//   udp-ask ADDR PORT BIND TIMEOUT_MS one datagram, waits for the same bytes (3 tries)
//   tcp-fetch ADDR PORT BIND TIMEOUT_MS
//                                     downloads to EOF: bytes, sha256, time
import dgram from "node:dgram";
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

const [mode, ...a] = process.argv.slice(2);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const family = (addr) => (addr.includes(":") ? "udp6" : "udp4");

/** Binds one socket per address; calls ready() once all are bound. */
function bindAll(addrs, make, ready) {
  let left = addrs.length;
  for (const addr of addrs) make(addr, () => --left === 0 && ready());
}

/** A UDP socket on each of `addrs` at `port`, each datagram to onMessage(socket, message, peer, addr); "listening" once all are bound. */
function udpServer(port, addrs, onMessage) {
  bindAll(
    addrs,
    (addr, done) => {
      const s = dgram.createSocket({ type: family(addr), ipv6Only: addr.includes(":") });
      s.on("error", (e) => say({ event: "error", addr, error: e.message }));
      s.on("message", (m, r) => onMessage(s, m, r, addr));
      s.bind(port, addr, done);
    },
    () => process.stdout.write("listening\n"),
  );
}

function readName(m, i) {
  const labels = [];
  while (i < m.length && m[i] !== 0) {
    const n = m[i];
    if (n & 0xc0) throw new Error("compressed name in a question");
    labels.push(m.subarray(i + 1, i + 1 + n).toString("latin1"));
    i += 1 + n;
  }
  return { name: labels.join(".").toLowerCase(), end: i + 1 };
}

function dnsServer(port, name, a4, a6, addrs) {
  const want = name.toLowerCase().replace(/\.$/, "");
  udpServer(port, addrs, (s, m, r, addr) => {
    try {
      if (m.length < 17 || (m[2] & 0x80) !== 0) return;
      const q = readName(m, 12);
      const type = m.readUInt16BE(q.end);
      const question = m.subarray(12, q.end + 4);
      const known = q.name === want;
      const rdata = known && type === 1 ? Buffer.from(a4.split(".").map(Number)) : known && type === 28 ? ipv6Bytes(a6) : undefined;
      const head = Buffer.alloc(12);
      m.copy(head, 0, 0, 2);
      head.writeUInt16BE(0x8180 | (m.readUInt16BE(2) & 0x0100) | (known ? 0 : 3), 2);
      head.writeUInt16BE(1, 4);
      head.writeUInt16BE(rdata ? 1 : 0, 6);
      const parts = [head, question];
      if (rdata) {
        const rr = Buffer.alloc(12);
        rr.writeUInt16BE(0xc00c, 0); // the name in the question
        rr.writeUInt16BE(type, 2);
        rr.writeUInt16BE(1, 4);
        rr.writeUInt32BE(60, 6);
        rr.writeUInt16BE(rdata.length, 10);
        parts.push(rr, rdata);
      }
      s.send(Buffer.concat(parts), r.port, r.address);
      say({ event: "query", from: r.address, port: r.port, to: addr, name: q.name, type, answered: Boolean(rdata) });
    } catch (e) {
      say({ event: "bad-query", from: r.address, error: e.message });
    }
  });
}

function ipv6Bytes(addr) {
  const [head, tail = ""] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = addr.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

function udpEcho(port, addrs) {
  udpServer(port, addrs, (s, m, r, addr) => {
    s.send(m, r.port, r.address);
    say({ event: "echo", from: r.address, port: r.port, to: addr, bytes: m.length });
  });
}

function tcpSource(port, file, addrs) {
  const data = readFileSync(file);
  bindAll(
    addrs,
    (addr, done) => {
      const srv = net.createServer((c) => {
        const t0 = Date.now();
        const peer = c.remoteAddress;
        c.on("error", (e) => say({ event: "error", peer, error: e.message }));
        c.end(data, () => say({ event: "served", peer, to: addr, bytes: data.length, ms: Date.now() - t0 }));
      });
      srv.on("error", (e) => say({ event: "error", addr, error: e.message }));
      srv.listen({ port, host: addr, ipv6Only: addr.includes(":") }, done);
    },
    () => process.stdout.write("listening\n"),
  );
}

function udpAsk(addr, port, bind, timeoutMs) {
  const s = dgram.createSocket(family(addr));
  const nonce = randomBytes(8).toString("hex");
  let payload;
  let sent = 0n;
  let tries = 0;
  let timer;
  const t0 = Date.now();
  const finish = (o) => {
    clearTimeout(timer);
    say({ to: `${addr}:${port}`, tries, ms: Date.now() - t0, ...o });
    s.close();
  };
  const attempt = () => {
    if (tries === 3) return finish({ ok: false, error: "no echo in 3 tries" });
    tries++;
    payload = Buffer.from(`passt-ts remote try ${tries} ${nonce}`);
    sent = process.hrtime.bigint();
    s.send(payload, port, addr, (e) => e && say({ event: "send-error", error: e.message }));
    timer = setTimeout(attempt, timeoutMs / 3);
  };
  s.on("message", (m, r) => {
    if (payload && m.equals(payload)) finish({ ok: true, from: `${r.address}:${r.port}`, bytes: m.length, rtt_us: Number((process.hrtime.bigint() - sent) / 1000n) });
  });
  s.on("error", (e) => finish({ ok: false, error: e.message }));
  s.bind(0, bind, attempt);
}

function tcpFetch(addr, port, bind, timeoutMs) {
  const t0 = Date.now();
  const h = createHash("sha256");
  let bytes = 0;
  let done = false;
  const c = net.connect({ host: addr, port, localAddress: bind });
  const finish = (o) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    const ms = Date.now() - t0;
    say({ from: `${addr}:${port}`, bytes, sha256: h.digest("hex"), ms, mbit_s: ms > 0 ? Math.round((bytes * 8) / ms / 10) / 100 : 0, ...o });
    c.destroy();
  };
  const timer = setTimeout(() => finish({ ok: false, error: `timed out after ${timeoutMs} ms` }), timeoutMs);
  c.on("data", (d) => {
    h.update(d);
    bytes += d.length;
  });
  c.on("end", () => finish({ ok: true }));
  c.on("error", (e) => finish({ ok: false, error: e.message }));
}

switch (mode) {
  case "dns":
    dnsServer(Number(a[0]), a[1], a[2], a[3], a.slice(4));
    break;
  case "udp-echo":
    udpEcho(Number(a[0]), a.slice(1));
    break;
  case "tcp-source":
    tcpSource(Number(a[0]), a[1], a.slice(2));
    break;
  case "udp-ask":
    udpAsk(a[0], Number(a[1]), a[2], Number(a[3] ?? 3000));
    break;
  case "tcp-fetch":
    tcpFetch(a[0], Number(a[1]), a[2], Number(a[3] ?? 30000));
    break;
  default:
    process.stderr.write("usage: see the opening comment of remote-tools.mjs\n");
    process.exit(2);
}
