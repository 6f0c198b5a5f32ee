/**
 * Soak: one implementation under mixed traffic for MINUTES, its memory and
 * descriptors sampled throughout, to show whether they stay flat while
 * flows come and go (issue 19 asks RSS within 5 % over 10 minutes).
 *
 * The traffic is a loop of short rounds on one long-lived instance, each
 * opening new flows that the next rounds no longer use: thousands of UDP
 * source ports toward the remote (manyFlows), TCP connections opened,
 * used and closed (crr), a UDP stream through the splice path, a TCP
 * stream from the remote through the tap (iperf3), and ICMP echoes. Every
 * SAMPLE_MS the networking process's VmRSS and descriptor count are read
 * from /proc. Judged: the median RSS of the last quarter against the first
 * quarter after a warm-up (caches, slabs and pools fill first), and the same
 * for descriptors. The warm-up is the first fifth or STEADY_S, whichever is
 * longer: no UDP flow ages out before 180 s, so until then flows only come
 * and the live set (and every per-flow cost with it) is still growing. The
 * drift after the first fifth alone is reported beside it.
 */
import { crr, iperf, iperf3, manyFlows, pingLatency } from "./measure.mjs";
import { memFds, sleep } from "./proc.mjs";
import { makeWorld, startImpl } from "./impls.mjs";
import { stats } from "./report.mjs";

const SAMPLE_MS = 5000;
/** When flows start going as well as coming: UDP's 180 s idle time, and one sample. */
const STEADY_S = 180 + SAMPLE_MS / 1000;

/** The rounds of mixed traffic, each a few seconds; the loop repeats them until the end. */
const ROUNDS = [
  { what: "2000 UDP source ports to the remote", run: (inst) => manyFlows(inst, "ns-remote", 4, { flows: 2000, secs: 2 }) },
  { what: "TCP connect/request/response/close", run: (inst) => crr(inst, "ns-remote", 4, { secs: 2 }) },
  { what: "UDP 1400 B at 500 Mbit/s, host lo -> ns (splice)", run: (inst) => iperf(inst, "lo-ns", 4, { len: 1400, rate: "500M", secs: 2 }) },
  { what: "TCP remote -> ns (tap, iperf3)", run: (inst) => iperf3(inst, "remote-ns", 4, { streams: 1, secs: 2 }) },
  { what: "ICMP echo to the remote", run: (inst) => pingLatency(inst, "ns-remote", 4, { secs: 1 }) },
];

const median = (xs) => stats(xs)?.median ?? NaN;

/**
 * Drift of the last quarter's median against the first quarter's, after a
 * warm-up of the first fifth of the samples or `warmS` seconds, whichever
 * is longer, in percent.
 */
export function drift(samples, key, warmS = 0) {
  const fifth = Math.floor(samples.length / 5);
  let from = fifth;
  while (from < samples.length - 2 && samples[from].s < warmS) from++;
  const warm = samples.slice(from);
  const q = Math.max(1, Math.floor(warm.length / 4));
  const first = median(warm.slice(0, q).map((s) => s[key]));
  const last = median(warm.slice(-q).map((s) => s[key]));
  return { first, last, pct: first > 0 ? (100 * (last - first)) / first : NaN };
}

/** Soaks implementation `id` for `minutes`; returns its samples, rounds and drifts. */
export async function soakOne(id, minutes, log = console.log) {
  const world = await makeWorld(`s${id[0]}`);
  const inst = await startImpl(id, world, { tcp: true });
  const samples = [];
  const t0 = Date.now();
  const sample = () => {
    const m = memFds(inst.netPid);
    samples.push({ s: (Date.now() - t0) / 1000, rssMiB: m.rssMiB, fds: m.fds });
  };
  sample();
  const timer = setInterval(sample, SAMPLE_MS);
  const rounds = { done: 0, errors: 0, firstError: null };
  try {
    const end = t0 + minutes * 60_000;
    for (let k = 0; Date.now() < end; k++) {
      const round = ROUNDS[k % ROUNDS.length];
      const r = await round.run(inst).catch((e) => ({ error: e.message }));
      rounds.done++;
      if (r?.error) {
        rounds.errors++;
        rounds.firstError ??= `${round.what}: ${String(r.error).slice(0, 200)}`;
      }
      if (k % ROUNDS.length === ROUNDS.length - 1) {
        const last = samples[samples.length - 1];
        log(`soak ${id}: ${Math.round((Date.now() - t0) / 1000)} s, RSS ${last.rssMiB.toFixed(1)} MiB, ${last.fds} fds, ${rounds.done} rounds (${rounds.errors} failed)`);
      }
      await sleep(100);
    }
  } finally {
    clearInterval(timer);
    sample();
    await inst.stop();
    world.remove();
  }
  return {
    id,
    minutes,
    samples,
    rounds,
    warmS: STEADY_S,
    rss: drift(samples, "rssMiB", STEADY_S),
    fds: drift(samples, "fds", STEADY_S),
    rssAfterFifth: drift(samples, "rssMiB"),
  };
}

/** An SVG of RSS (solid) and descriptors (dashed, right axis) over time, one colour per implementation. */
export function soakSvg(results) {
  const W = 760;
  const H = 300;
  const L = 60;
  const R = 60;
  const T = 20;
  const B = 40;
  const colours = { ours: "#c0392b", c: "#2c7fb8", slirp: "#7f7f7f" };
  const tMax = Math.max(1, ...results.flatMap((r) => r.samples.map((s) => s.s)));
  const rssMax = Math.max(1, ...results.flatMap((r) => r.samples.map((s) => s.rssMiB).filter(Number.isFinite))) * 1.1;
  const fdMax = Math.max(1, ...results.flatMap((r) => r.samples.map((s) => s.fds).filter(Number.isFinite))) * 1.1;
  const x = (s) => L + ((W - L - R) * s) / tMax;
  const yRss = (v) => H - B - ((H - T - B) * v) / rssMax;
  const yFd = (v) => H - B - ((H - T - B) * v) / fdMax;
  const line = (pts, colour, dash) => `<polyline fill="none" stroke="${colour}" stroke-width="1.5"${dash ? ' stroke-dasharray="4 3"' : ""} points="${pts.join(" ")}"/>`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(W - L - R) / 2 + L}" y="${H - 8}" text-anchor="middle">seconds</text>`,
    `<text x="12" y="${T + 10}">RSS MiB</text>`,
    `<text x="${W - R + 6}" y="${T + 10}">fds (dashed)</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (rssMax * i) / 4;
    parts.push(`<text x="${L - 6}" y="${yRss(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
    parts.push(`<text x="${W - R + 6}" y="${yFd((fdMax * i) / 4) + 4}">${((fdMax * i) / 4).toFixed(0)}</text>`);
    parts.push(`<text x="${x((tMax * i) / 4)}" y="${H - B + 14}" text-anchor="middle">${((tMax * i) / 4).toFixed(0)}</text>`);
  }
  results.forEach((r, i) => {
    const c = colours[r.id] ?? "#333";
    const ok = r.samples.filter((s) => Number.isFinite(s.rssMiB));
    parts.push(line(ok.map((s) => `${x(s.s).toFixed(1)},${yRss(s.rssMiB).toFixed(1)}`), c, false));
    parts.push(line(ok.map((s) => `${x(s.s).toFixed(1)},${yFd(s.fds).toFixed(1)}`), c, true));
    parts.push(`<text x="${L + 10 + i * 120}" y="${T + 12}" fill="${c}">${r.id}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** The markdown account of a soak. */
export function soakMarkdown(results, cLabel, date) {
  const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "–");
  const lines = [
    `# Soak: memory and descriptors under mixed traffic`,
    "",
    `\`node tooling/bench/run.mjs --soak ${results[0]?.minutes ?? "?"}\`, ${date}. C side: ${cLabel}.`,
    "Rounds, repeated until the end: " + ROUNDS.map((r) => r.what).join("; ") + ".",
    `RSS and descriptors of the networking process every ${SAMPLE_MS / 1000} s; drift: median of the last quarter against the first quarter after a warm-up of the first fifth or ${STEADY_S} s, whichever is longer (no UDP flow ages out before 180 s: until then flows only come). The last column is the RSS drift after the first fifth alone.`,
    "",
    "| implementation | rounds (failed) | RSS first → last quarter, MiB | RSS drift | fds first → last | fds drift | flat (RSS within 5 %) | RSS drift after the first fifth |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...results.map(
      (r) =>
        `| ${r.id} | ${r.rounds.done} (${r.rounds.errors}) | ${fmt(r.rss.first)} → ${fmt(r.rss.last)} | ${fmt(r.rss.pct)} % | ${fmt(r.fds.first, 0)} → ${fmt(r.fds.last, 0)} | ${fmt(r.fds.pct)} % | ${Math.abs(r.rss.pct) <= 5 ? "yes" : "no"} | ${fmt(r.rssAfterFifth?.pct)} % |`,
    ),
    "",
    "![RSS and descriptors over time](soak-latest.svg)",
    "",
    ...results.filter((r) => r.rounds.firstError).map((r) => `- ${r.id}: first failed round: ${r.rounds.firstError}`),
  ];
  return `${lines.join("\n")}\n`;
}
