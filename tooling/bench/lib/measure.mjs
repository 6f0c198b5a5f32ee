// One measurement each: iperf2 (UDP throughput, loss, packets per second,
// CPU of the networking process), sockperf ping-pong (round-trip latency,
// UDP or TCP), many flows (probe flows/sink: 10,000 source ports), iperf3
// (TCP throughput, CPU and peak memory of the networking process), TCP
// connections per second (probe crr/tcpecho), all through route().
import { PORTS, route, buildProbe, primeV6 } from "./impls.mjs";
import { startProc, run, sleep, until, cpuSeconds, memFds, memOf, resetPeak } from "./proc.mjs";

async function waitBound(server, rec, port, tcp = false) {
  await until(async () => {
    if (!rec.alive()) throw new Error("server exited");
    return (await run(server(["ss", tcp ? "-Htlnp" : "-Hulnp", "sport", "=", `:${port}`]), 5000)).out.trim().length > 0;
  }, 5000, `a server on port ${port}`);
}

/** A TCP measurement on an instance started without TCP forwarding (startImpl) fails at once. */
const noTcp = (inst) => (inst.noTcp ? { error: `no TCP: ${inst.id} ${inst.noTcp}` } : null);

const csv = (line) => line.trim().split(",");

/**
 * iperf2 UDP: a server in the path's server namespace, a client in its
 * client namespace. Returns receiver rate (Mbit/s), datagrams/s, loss, the
 * offered rate, and CPU seconds of the networking process per GB received.
 */
export async function iperf(inst, pathId, fam, { len, rate, secs }) {
  const r = route(inst, pathId, fam, PORTS.iperf);
  if (!r) return null;
  const v6 = fam === 6 ? ["-V"] : [];
  const server = startProc(r.server(["iperf", "-s", "-u", "-B", r.bind, "-p", String(r.port), "-l", "65507", "-y", "C", ...v6]));
  try {
    await waitBound(r.server, server, r.port);
    if (fam === 6 && pathId === "remote-ns" && inst.id !== "limit") await primeV6(inst);
    const cpu0 = inst.netPid ? cpuSeconds(inst.netPid) : NaN;
    const c = await run(r.client(["iperf", "-c", r.target, "-u", "-b", rate, "-l", String(len), "-t", String(secs), "-p", String(r.port), "-y", "C", ...v6]), (secs + 20) * 1000);
    const cpu1 = inst.netPid ? cpuSeconds(inst.netPid) : NaN;
    const sent = c.out.split("\n").map(csv).find((f) => f.length >= 9);
    // The server prints its report when the client's last datagram arrives.
    let rep;
    try {
      await until(() => (rep = server.out.split("\n").map(csv).find((f) => f.length >= 13)), 3000, "the iperf server's report");
    } catch {
      return { error: `no server report (client: ${c.out.trim().slice(0, 200)} ${c.err.trim().slice(0, 200)})`, offeredMbps: sent ? Number(sent[8]) / 1e6 : NaN, cpuSec: cpu1 - cpu0 };
    }
    const [a, b] = rep[6].split("-").map(Number);
    const dur = b - a || secs;
    const bytes = Number(rep[7]);
    const lost = Number(rep[10]);
    const total = Number(rep[11]);
    const got = Math.max(0, total - lost);
    return {
      rxMbps: Number(rep[8]) / 1e6,
      jitterMs: Number(rep[9]),
      rxKpps: got / dur / 1e3,
      lossPct: total > 0 ? (100 * lost) / total : NaN,
      offeredMbps: sent ? Number(sent[8]) / 1e6 : NaN,
      bytes,
      cpuSec: cpu1 - cpu0,
      cpuSecPerGB: inst.netPid && bytes > 0 ? (cpu1 - cpu0) / (bytes / 1e9) : null,
    };
  } finally {
    await server.stop(500);
  }
}

/** sockperf ping-pong: full round trips of a small datagram (or, with `tcp`, a small message over one TCP connection), µs. */
export async function sockperf(inst, pathId, fam, { size = 64, secs, tcp = false }) {
  const r = route(inst, pathId, fam, tcp ? PORTS.sockperfTcp : PORTS.sockperf);
  if (!r) return null;
  if (tcp && inst.noTcp) return noTcp(inst);
  const proto = tcp ? ["--tcp"] : [];
  const server = startProc(r.server(["sockperf", "server", ...proto, "-i", r.bind, "-p", String(r.port)]));
  try {
    await waitBound(r.server, server, r.port, tcp);
    const c = await run(r.client(["sockperf", "ping-pong", ...proto, "-i", r.target, "-p", String(r.port), "-t", String(secs), "-m", String(size), "--full-rtt", ...(process.env.SOCKPERF_MPS ? ["--mps", process.env.SOCKPERF_MPS] : [])]), (secs + 20) * 1000);
    const text = c.out + c.err;
    const num = (re) => Number((text.match(re) ?? [])[1]);
    const p50 = num(/percentile 50\.000 =\s*([\d.]+)/);
    const p99 = num(/percentile 99\.000 =\s*([\d.]+)/);
    const avg = num(/avg-(?:latency|rtt)=([\d.]+)/);
    const n = num(/Total (\d+) observations/);
    if (!Number.isFinite(p50)) return { error: `sockperf: ${text.trim().slice(-300)}` };
    return { p50us: p50, p99us: p99, avgUs: avg, observations: n };
  } finally {
    await server.stop(500);
  }
}

/**
 * Many flows: datagrams from `flows` distinct source ports, round robin, as
 * fast as the sender goes, for `secs`. Reports the rate the sink received,
 * the sources it saw, and the networking process's descriptors and memory
 * at the end.
 */
export async function manyFlows(inst, pathId, fam, { flows = 10_000, secs, len = 64 }) {
  const r = route(inst, pathId, fam, PORTS.flows);
  if (!r) return null;
  const probe = await buildProbe();
  const sink = startProc(r.server([probe, "sink", r.bind, String(r.port), String(secs + 30)]));
  try {
    await until(() => sink.out.includes("ready") || !sink.alive(), 5000, "the flow sink");
    const before = inst.netPid ? memFds(inst.netPid) : null;
    const cpu0 = inst.netPid ? cpuSeconds(inst.netPid) : NaN;
    const s = await run(r.client([probe, "flows", r.target, String(r.port), String(flows), String(secs), String(len)]), (secs + 30) * 1000);
    await sleep(300);
    const after = inst.netPid ? memOf(inst) : null;
    const cpu1 = inst.netPid ? cpuSeconds(inst.netPid) : NaN;
    await sink.stop(2000);
    const m = sink.out.match(/received (\d+) bytes (\d+) sources (\d+) first_ns (\d+) last_ns (\d+)/);
    const sm = s.out.match(/sent (\d+)/);
    if (!m) return { error: `sink: ${sink.out} ${sink.err} sender: ${s.out} ${s.err}`.slice(0, 400) };
    const got = Number(m[1]);
    const span = (Number(m[5]) - Number(m[4])) / 1e9;
    return {
      rxKpps: span > 0 ? got / span / 1e3 : 0,
      sources: Number(m[3]),
      sent: sm ? Number(sm[1]) : NaN,
      lossPct: sm ? 100 * (1 - got / Number(sm[1])) : NaN,
      fdsBefore: before?.fds ?? null,
      // What the run added to the networking process, per new source seen:
      // the bindings, their flow entries and watchers (an estimate: freed
      // memory reused by the run counts as nothing).
      bytesPerFlow: before && after && Number(m[3]) > 0 ? Math.max(0, (after.rssMiB - before.rssMiB) * 1048576) / Number(m[3]) : null,
      fds: after?.fds ?? null,
      rssMiB: after?.rssMiB ?? null,
      hwmMiB: after?.hwmMiB ?? null,
      cpuSec: cpu1 - cpu0,
    };
  } finally {
    await sink.stop(500);
  }
}

/**
 * ICMP echo round trips: `ping -c N -i 0.01` from the path's client side to
 * its target, N = 100 per second of --duration (200 at least), every reply's
 * time= read for the median and the 99th percentile (µs). The translators
 * answer the namespace's echoes through ping sockets in the world's host
 * namespace, which therefore allows them (ping_group_range "0 2147483647",
 * a per-namespace sysctl, as systemd sets on ordinary hosts); the limit
 * pings from the host namespace itself. slirp4netns has no IPv6 here (n/a).
 */
export async function pingLatency(inst, pathId, fam, { secs }) {
  const r = route(inst, pathId, fam, PORTS.sockperf);
  if (!r) return null;
  await run(inst.world.inHost(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]), 5000);
  const n = Math.max(200, Math.round(secs * 100));
  if (fam === 6 && inst.id !== "limit" && !inst.passt) await primeV6(inst);
  const c = await run(r.client(["ping", `-${fam}`, "-n", "-c", String(n), "-i", process.env.PING_INTERVAL ?? "0.01", "-W", "1", "-w", String(Math.ceil(n * 0.01) + 10), "-s", "56", r.target]), (n * 0.01 + 20) * 1000);
  const times = [...c.out.matchAll(/bytes from .*?time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const sum = c.out.match(/(\d+) packets transmitted, (\d+) received/);
  if (times.length === 0) return { error: `ping: no reply (${(c.out + c.err).split("\n").filter((l) => l.trim()).slice(-3).join(" / ").slice(0, 300)})` };
  const q = (p) => times[Math.min(times.length - 1, Math.max(0, Math.ceil(p * times.length) - 1))];
  return {
    p50us: Math.round(q(0.5)),
    p99us: Math.round(q(0.99)),
    avgUs: Math.round(times.reduce((a, b) => a + b, 0) / times.length),
    observations: times.length,
    sent: sum ? Number(sum[1]) : n,
    lossPct: sum ? (100 * (Number(sum[1]) - Number(sum[2]))) / Number(sum[1]) : NaN,
  };
}

/**
 * iperf3 TCP: a one-off server (`-s -1`) in the path's server namespace, a
 * client with `streams` parallel connections (-P) for `secs` in its client
 * namespace (`reverse`: -R, the server sends). Returns what the receiving
 * end got (Mbit/s, bytes), the sender's retransmits, the CPU seconds of the
 * networking process per GB received, and its peak memory (VmHWM) during
 * the measurement: VmHWM is reset to VmRSS just before (resetPeak).
 */
export async function iperf3(inst, pathId, fam, { streams = 1, reverse = false, secs }) {
  const r = route(inst, pathId, fam, PORTS.iperf3);
  if (!r) return null;
  if (inst.noTcp) return noTcp(inst);
  const any = r.bind === "0.0.0.0" || r.bind === "::";
  const server = startProc(r.server(["iperf3", "-s", "-1", "-p", String(r.port), ...(any ? [] : ["-B", r.bind])]));
  try {
    await waitBound(r.server, server, r.port, true);
    const t = Math.max(1, Math.round(secs));
    const pid = inst.netPid;
    resetPeak(inst);
    const hwm0 = pid ? memFds(pid).hwmMiB : NaN;
    const cpu0 = pid ? cpuSeconds(pid) : NaN;
    const c = await run(r.client(["iperf3", `-${fam}`, "-c", r.target, "-p", String(r.port), "-t", String(t), "-P", String(streams), ...(reverse ? ["-R"] : []), "-J", "--connect-timeout", "3000"]), (t + 15) * 1000);
    const cpu1 = pid ? cpuSeconds(pid) : NaN;
    const mem = pid ? memFds(pid) : null;
    if (pid && Number.isFinite(mem.hwmMiB)) inst.hwmSeen = Math.max(inst.hwmSeen ?? 0, mem.hwmMiB);
    let j = null;
    try {
      j = JSON.parse(c.out);
    } catch {
      /* no report */
    }
    const rx = j?.end?.sum_received;
    if (!rx || j.error) return { error: `iperf3: ${j?.error ?? (`${c.out.trim().slice(0, 200)} ${c.err.trim().slice(0, 200)}`.trim() || `exit ${c.code}`)}`, cpuSec: cpu1 - cpu0 };
    const bytes = Number(rx.bytes);
    return {
      rxMbps: Number(rx.bits_per_second) / 1e6,
      bytes,
      retransmits: j.end.sum_sent?.retransmits ?? null,
      cpuSec: cpu1 - cpu0,
      cpuSecPerGB: pid && bytes > 0 ? (cpu1 - cpu0) / (bytes / 1e9) : null,
      hwmBeforeMiB: pid ? hwm0 : null,
      hwmMiB: pid ? mem.hwmMiB : null,
      rssMiB: pid ? mem.rssMiB : null,
    };
  } finally {
    await server.stop(500);
  }
}

/**
 * TCP connections per second: `probe crr` makes connect / 1-byte request /
 * 1-byte response / close cycles, one at a time, for `secs` against `probe
 * tcpecho` (which closes first). Returns completed cycles per second, the
 * median and p99 of a whole cycle (µs), failures and the first error, and
 * the networking process's CPU per thousand connections.
 */
export async function crr(inst, pathId, fam, { secs }) {
  const r = route(inst, pathId, fam, PORTS.crr);
  if (!r) return null;
  if (inst.noTcp) return noTcp(inst);
  const probe = await buildProbe();
  const server = startProc(r.server([probe, "tcpecho", r.bind, String(r.port), String(secs + 30)]));
  try {
    await until(() => server.out.includes("ready") || !server.alive(), 5000, "the TCP echo server");
    if (!server.alive()) return { error: `tcpecho: ${server.err.trim().slice(0, 300)}` };
    const pid = inst.netPid;
    const cpu0 = pid ? cpuSeconds(pid) : NaN;
    const c = await run(r.client([probe, "crr", r.target, String(r.port), String(secs)]), (secs + 20) * 1000);
    const cpu1 = pid ? cpuSeconds(pid) : NaN;
    const m = c.out.match(/done (\d+) failed (\d+) elapsed_ns (\d+) p50_ns (\d+) p99_ns (\d+)/);
    const firstErr = (c.out.match(/first error (.*)/) ?? [])[1];
    if (!m) return { error: `crr: ${c.out.trim().slice(0, 200)} ${c.err.trim().slice(0, 200)}` };
    const done = Number(m[1]);
    const failed = Number(m[2]);
    if (done === 0) return { error: `crr: no connection completed (${failed} failed, first: ${firstErr ?? "?"})` };
    return {
      connPerSec: done / (Number(m[3]) / 1e9),
      p50us: Number(m[4]) / 1e3,
      p99us: Number(m[5]) / 1e3,
      done,
      failed,
      firstError: firstErr ?? null,
      cpuSec: cpu1 - cpu0,
      cpuMsPerKConn: pid ? ((cpu1 - cpu0) * 1e6) / done : null,
    };
  } finally {
    await server.stop(500);
  }
}
