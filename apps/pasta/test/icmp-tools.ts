/**
 * What the ICMP end-to-end tests share: which C pasta to compare with, ping
 * and its output, the kernel's own ICMP counters of a namespace, and our
 * SIGUSR1 counters.
 *
 * The C side is the oracle (passt 2024_12_11, prebuilt beside the project
 * in shared/) when it is there, else Debian's packaged /usr/bin/pasta
 * (2023), as on a fresh CI machine; the report names the one used.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { until, type Netns, type Running, ORACLE_DIRS } from "@x/harness";
import type { Impl } from "./topology.js";


/** The C pasta or passt to compare with: the 2024_12_11 oracle if present, else Debian's. */
export function cBinary(name: "pasta" | "passt"): { path: string; label: string } | undefined {
  // ICMP_C=debian compares with Debian's package even where the oracle is (what CI sees).
  for (const d of process.env.ICMP_C === "debian" ? [] : ORACLE_DIRS) if (existsSync(`${d}${name}`)) return { path: `${d}${name}`, label: `C ${name} 2024_12_11 (oracle)` };
  if (existsSync(`/usr/bin/${name}`)) return { path: `/usr/bin/${name}`, label: `C ${name} (Debian package)` };
  return undefined;
}

export interface Side {
  impl: Impl;
  label: string;
  /** Whether this is the oracle release (2024_12_11), whose ICMP behaviour the tests know. */
  oracle: boolean;
  ours: boolean;
}

export function pastaSides(ours: Impl): Side[] {
  const sides: Side[] = [{ impl: ours, label: "ours", oracle: false, ours: true }];
  const c = cBinary("pasta");
  // topology.ts knows two names; "debian" there means "the C one", whichever it is.
  if (c) sides.push({ impl: { name: "debian", argv: [c.path] }, label: c.label, oracle: c.label.includes("oracle"), ours: false });
  return sides;
}

/** iputils ping where installed, else busybox's (their outputs differ a little; parsePing reads both). */
export function pingArgv(): string[] {
  // ICMP_PING=busybox tries the fallback that a machine without iputils-ping takes.
  if (process.env.ICMP_PING === "busybox") return ["busybox", "ping"];
  for (const p of ["/usr/bin/ping", "/bin/ping"]) if (existsSync(p)) return [p];
  return ["busybox", "ping"];
}

export interface PingResult {
  transmitted: number;
  received: number;
  /** Sequence numbers of the replies, in the order they were printed. */
  seqs: number[];
  /** Round-trip times of the replies, ms. */
  times: number[];
  raw: string;
}

export function parsePing(out: string): PingResult {
  const sum = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  const seqs: number[] = [];
  const times: number[] = [];
  for (const line of out.split("\n")) {
    const m = /bytes from .*?(?:icmp_)?seq=(\d+).*?time=([\d.]+)/.exec(line);
    if (m && !line.includes("DUP")) {
      seqs.push(Number(m[1]));
      times.push(Number(m[2]));
    }
  }
  return { transmitted: Number(sum?.[1] ?? 0), received: Number(sum?.[2] ?? 0), seqs, times, raw: out };
}

/** The ping command line: `count` echoes `interval` s apart, replies awaited at most `wait` s after the last. */
export function pingCmd(family: 4 | 6, target: string, count = 3, interval = 0.2, wait = 3): string[] {
  // No -w: with a deadline, ping goes on sending until `count` replies are in,
  // and a first reply late by a neighbour resolution (about a second for a
  // fresh IPv6 neighbour) would make it send more than `count`. The caller
  // bounds the run instead.
  return [...pingArgv(), `-${family}`, "-n", "-c", String(count), "-i", String(interval), "-W", String(wait), target];
}

/** Lets unprivileged users open ping sockets in `ns`, as systemd does on ordinary hosts. */
export function allowPingSockets(ns: Netns): void {
  ns.sh(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
}

/** The namespace's kernel counters of echo requests received and replies sent (v4 or v6). */
export function kernelEchoes(ns: Netns, family: 4 | 6): { inEchos: number; outEchoReps: number } {
  if (family === 4) {
    const lines = ns.sh(["cat", "/proc/net/snmp"]).split("\n").filter((l) => l.startsWith("Icmp:"));
    const names = (lines[0] ?? "").split(/\s+/);
    const values = (lines[1] ?? "").split(/\s+/).map(Number);
    const get = (n: string): number => values[names.indexOf(n)] ?? NaN;
    return { inEchos: get("InEchos"), outEchoReps: get("OutEchoReps") };
  }
  const text = ns.sh(["cat", "/proc/net/snmp6"]);
  const get = (n: string): number => Number(new RegExp(`^${n}\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return { inEchos: get("Icmp6InEchos"), outEchoReps: get("Icmp6OutEchoReplies") };
}

export type Counters = Record<string, unknown> & {
  icmp?: Record<string, number>;
  dropped?: Record<string, number>;
  live?: Record<string, number>;
};

/** Sends SIGUSR1 to our networking process and parses the `counters {JSON}` line it logs (stderr, -f). */
export async function readCounters(run: Running, pid: number): Promise<Counters> {
  const count = (): number => run.err().split("\n").filter((l) => l.includes("counters {")).length;
  const before = count();
  process.kill(pid, "SIGUSR1");
  await until(() => count() > before, 3000, "the counters line after SIGUSR1");
  const lines = run.err().split("\n").filter((l) => l.includes("counters {"));
  const line = lines[lines.length - 1] as string;
  return JSON.parse(line.slice(line.indexOf("{"))) as Counters;
}

/** Every numeric leaf of a counters object, by dotted path. */
export function leaves(o: unknown, prefix = ""): Map<string, number> {
  const out = new Map<string, number>();
  if (o && typeof o === "object") {
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (typeof v === "number") out.set(p, v);
      else for (const [kk, vv] of leaves(v, p)) out.set(kk, vv);
    }
  }
  return out;
}

/** The counters that changed between two snapshots, with their deltas. */
export function deltas(a: Counters, b: Counters): Record<string, number> {
  const before = leaves(a);
  const out: Record<string, number> = {};
  for (const [k, v] of leaves(b)) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

export const num = (c: Counters, path: string): number => leaves(c).get(path) ?? NaN;
