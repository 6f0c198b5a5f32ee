// One measurement each: iperf2 (UDP throughput, loss, packets per second,
// CPU of the networking process), sockperf ping-pong (round-trip latency),
// many flows (probe flows/sink: 10,000 source ports), all through route().
import { PORTS, route, buildProbe, primeV6 } from "./impls.mjs";
import { startProc, run, sleep, until, cpuSeconds, memFds } from "./proc.mjs";

async function waitBound(server, rec, port) {
  await until(async () => {
    if (!rec.alive()) throw new Error("server exited");
    return (await run(server(["ss", "-Hulnp", "sport", "=", `:${port}`]), 5000)).out.trim().length > 0;
  }, 5000, `a server on port ${port}`);
}

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

/** sockperf ping-pong: full round trips of a small datagram, µs. */
export async function sockperf(inst, pathId, fam, { size = 64, secs }) {
  const r = route(inst, pathId, fam, PORTS.sockperf);
  if (!r) return null;
  const server = startProc(r.server(["sockperf", "server", "-i", r.bind, "-p", String(r.port)]));
  try {
    await waitBound(r.server, server, r.port);
    const c = await run(r.client(["sockperf", "ping-pong", "-i", r.target, "-p", String(r.port), "-t", String(secs), "-m", String(size), "--full-rtt", ...(process.env.SOCKPERF_MPS ? ["--mps", process.env.SOCKPERF_MPS] : [])]), (secs + 20) * 1000);
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
    const after = inst.netPid ? memFds(inst.netPid) : null;
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
