/**
 * What the passt ICMP test needs beside lab.ts: which C passt to compare
 * with (the 2024_12_11 oracle when it is beside the project, else Debian's
 * package), a Lab that runs that binary, ping and its output, and the
 * kernel's own ICMP counters of a namespace.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { asUnprivileged, type Netns, ORACLE_DIRS } from "@x/harness";
import { Lab } from "./lab.js";


/** The C passt: the oracle if present, else Debian's /usr/bin/passt. */
export function cPasst(): { path: string; label: string; oracle: boolean } | undefined {
  // ICMP_C=debian compares with Debian's package even where the oracle is (what CI sees).
  for (const d of process.env.ICMP_C === "debian" ? [] : ORACLE_DIRS) if (existsSync(`${d}passt`)) return { path: `${d}passt`, label: "C passt 2024_12_11 (oracle)", oracle: true };
  if (existsSync("/usr/bin/passt")) return { path: "/usr/bin/passt", label: "C passt (Debian package)", oracle: false };
  return undefined;
}

/** lab.ts's bench, with the C side run from `cPath` (lab.ts itself runs Debian's `passt` from PATH). */
export class IcmpLab extends Lab {
  constructor(
    impl: "ours" | "debian",
    private readonly cPath?: string,
  ) {
    super(impl);
    // As systemd does on ordinary hosts: unprivileged users may open ping sockets.
    try {
      this.world.host.sh(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
    } catch (e) {
      void this.remove();
      throw e;
    }
  }

  override passtArgv(args: string[]): string[] {
    if (this.impl === "ours" || !this.cPath) return super.passtArgv(args);
    return ["ip", "netns", "exec", this.world.host.name, ...asUnprivileged([this.cPath, ...args])];
  }
}

export function pingArgv(): string[] {
  // ICMP_PING=busybox tries the fallback that a machine without iputils-ping takes.
  if (process.env.ICMP_PING === "busybox") return ["busybox", "ping"];
  for (const p of ["/usr/bin/ping", "/bin/ping"]) if (existsSync(p)) return [p];
  return ["busybox", "ping"];
}

export function pingCmd(family: 4 | 6, target: string, count = 3, interval = 0.2, wait = 3): string[] {
  // No -w: with a deadline, ping goes on sending until `count` replies are in,
  // and a first reply late by a neighbour resolution (about a second for a
  // fresh IPv6 neighbour) would make it send more than `count`. The caller
  // bounds the run instead.
  return [...pingArgv(), `-${family}`, "-n", "-c", String(count), "-i", String(interval), "-W", String(wait), target];
}

export interface PingResult {
  transmitted: number;
  received: number;
  seqs: number[];
  raw: string;
}

/** Reads iputils' and busybox's ping output alike. */
export function parsePing(out: string): PingResult {
  const sum = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  const seqs = out
    .split("\n")
    .filter((l) => !l.includes("DUP"))
    .map((l) => /bytes from .*?(?:icmp_)?seq=(\d+)/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number);
  return { transmitted: Number(sum?.[1] ?? 0), received: Number(sum?.[2] ?? 0), seqs, raw: out };
}

/** Echo requests the namespace's kernel received (v4: /proc/net/snmp, v6: /proc/net/snmp6). */
export function inEchos(ns: Netns, family: 4 | 6): number {
  if (family === 4) {
    const lines = ns.sh(["cat", "/proc/net/snmp"]).split("\n").filter((l) => l.startsWith("Icmp:"));
    const names = (lines[0] ?? "").split(/\s+/);
    return Number((lines[1] ?? "").split(/\s+/)[names.indexOf("InEchos")] ?? NaN);
  }
  return Number(/^Icmp6InEchos\s+(\d+)/m.exec(ns.sh(["cat", "/proc/net/snmp6"]))?.[1] ?? NaN);
}
