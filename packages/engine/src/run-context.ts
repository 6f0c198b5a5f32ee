/**
 * What every run of passt or pasta sets up the same way: a log at the
 * level the options ask for, a stack of things to undo on the way out
 * (closed in reverse order of opening, each failure logged and passed over
 * so that one bad close never leaks the rest), and the GuestSession built
 * from the options both commands share.
 */
import { readFileSync } from "node:fs";
import { reserveDescriptors, unixDgramConnect } from "@x/syscalls";
import { formatIpAddr } from "@x/l2";
import { GuestSession, type GuestSink } from "./guest-session.js";
import { Log, type Level } from "./log.js";
import type { NetConfig } from "./net-config.js";
import type { Options } from "./options.js";
import type { PcapFile } from "./pcap-file.js";
import type { PortSpec } from "@x/flow";
import type { HostSocketPolicy, SyscallSockets } from "./socket-layer.js";

export function logLevel(o: Options): Level {
  return o.trace ? "trace" : o.debug ? "debug" : o.quiet ? "warn" : "info";
}

/**
 * The log for a run. `detached`: standard error leads nowhere, so without
 * -l (and without -d, which C takes to mean "not to the system logger")
 * lines go to the system logger, as the C implementation sends them.
 */
export function logFor(name: string, o: Options, detached = false): Log {
  if (o.logFile) return new Log(name, logLevel(o), { file: o.logFile, fileCap: o.logSize });
  if (detached && !o.debug) {
    try {
      // PASST_TS_SYSLOG points elsewhere than /dev/log (tests).
      return new Log(name, logLevel(o), { syslogFd: unixDgramConnect(process.env.PASST_TS_SYSLOG ?? "/dev/log") });
    } catch {
      /* no system logger here: lines are lost, as they are in C */
    }
  }
  return new Log(name, logLevel(o));
}

/** The host interface addresses and routes are taken from: -i, else --outbound-if4, else --outbound-if6 (else the default route's). */
export function templateIfname(o: Options): string | undefined {
  return o.ifname ?? o.outboundIf4 ?? o.outboundIf6;
}

/** The host socket policy of the options: -o, --outbound-if4/6, --freebind. */
export function hostSocketPolicy(o: Options): HostSocketPolicy {
  return {
    ...(o.outbound4 ? { outbound4: o.outbound4 } : {}),
    ...(o.outbound6 ? { outbound6: o.outbound6 } : {}),
    ...(o.outboundIf4 ? { outboundIf4: o.outboundIf4 } : {}),
    ...(o.outboundIf6 ? { outboundIf6: o.outboundIf6 } : {}),
    freebind: o.freebind,
  };
}

/** Our effective uid as the host's user namespace sees it (through /proc/self/uid_map). */
function outerUid(): number {
  const euid = process.geteuid?.() ?? 0;
  try {
    for (const line of readFileSync("/proc/self/uid_map", "utf8").trim().split("\n")) {
      const [inside, outside, count] = line.trim().split(/\s+/).map(Number) as [number, number, number];
      if (euid >= inside && euid < inside + count) return outside + (euid - inside);
    }
  } catch {
    /* no /proc: take the uid as it is */
  }
  return euid;
}

/** Looks a name or a number up in /etc/passwd or /etc/group: [id, primary group]. */
function lookupId(file: string, what: string, name: string): [number, number] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    /* no such file: only numbers work */
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name || f[2] === name) return [Number(f[2]), Number(f[3] ?? f[2])];
  }
  if (/^\d+$/.test(name)) return [Number(name), Number(name)];
  throw new Error(`--runas: no such ${what} '${name}'`);
}

/** --runas's user and group as numbers; throws with one line for an unknown name. */
function resolveUser(spec: string): { uid: number; gid: number } {
  const [user, group] = spec.split(":") as [string, string | undefined];
  const [uid, primary] = lookupId("/etc/passwd", "user", user);
  const gid = group === undefined ? primary : lookupId("/etc/group", "group", group)[0];
  return { uid, gid };
}

/**
 * --runas, checked before anything starts, as C checks it: the user and
 * group must exist, and only root of the host's user namespace changes
 * user. Anyone else (a rootless pasta is uid 0 only inside its own user
 * namespace) may only name the user it already is. Throws with one line.
 */
export function checkUser(spec: string): { uid: number; gid: number; outer: number } {
  const { uid, gid } = resolveUser(spec);
  const outer = outerUid();
  if (outer !== 0 && uid !== outer) throw new Error(`--runas ${spec}: cannot become uid ${uid} as uid ${outer}`);
  return { uid, gid, outer };
}

/**
 * --runas: becomes the given user and group (the user's own group when
 * none is given) once everything that needs privileges is set up, dropping
 * supplementary groups. Throws with one line when it cannot.
 */
export function switchUser(spec: string, log: Log): void {
  const { uid, gid, outer } = checkUser(spec);
  if (outer !== 0) {
    log.debug(`--runas ${spec}: already uid ${uid}`);
    return;
  }
  try {
    process.setgroups?.([]);
    process.setgid?.(gid);
    process.setuid?.(uid);
  } catch (e) {
    throw new Error(`--runas ${spec}: ${e instanceof Error ? e.message : String(e)}`);
  }
  log.debug(`running as uid ${uid}, gid ${gid}`);
}

export class Cleanups {
  private readonly steps: (() => void)[] = [];

  constructor(private readonly log: Log) {}

  push(step: () => void): void {
    this.steps.push(step);
  }

  run(): void {
    while (this.steps.length) {
      try {
        this.steps.pop()?.();
      } catch (e) {
        this.log.debug(`cleanup: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}

const NONE: PortSpec = { mode: "none", entries: [], exclude: [] };

/**
 * The default cap on UDP bindings: as many as the descriptor limit allows,
 * less room for everything else, like the C passt, which keeps a socket per
 * guest port until the limit stops it; but here the cap is known, so the
 * oldest idle binding is evicted with a log line instead of opens failing.
 */
export function defaultMaxBindings(limitsText?: string): number {
  let soft = 1024;
  try {
    const text = limitsText ?? readFileSync("/proc/self/limits", "utf8");
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (m) soft = m[1] === "unlimited" ? 1 << 20 : Number(m[1]);
  } catch {
    /* keep the conservative default */
  }
  return Math.max(256, Math.min(2 * 65536, soft - 512));
}

/** A GuestSession for these options; `splice` (pasta) enables -U and loopback relaying. */
export function sessionFor(
  o: Options,
  parts: { config: NetConfig; sockets: SyscallSockets; sink: GuestSink; log: Log; pcap?: PcapFile | undefined; splice: boolean },
): GuestSession {
  const maxBindings = o.maxBindings ?? defaultMaxBindings();
  // A socket per flow: the descriptor table grown once, off the main
  // thread, rather than at each doubling during the traffic (at most 64k
  // entries, half a megabyte of the kernel's; beyond, it grows as it must).
  reserveDescriptors(Math.min(65536, maxBindings + 512));
  return new GuestSession({
    config: parts.config,
    sockets: parts.sockets,
    sink: parts.sink,
    log: parts.log,
    ...(parts.pcap ? { pcap: parts.pcap } : {}),
    udpIn: o.udp ? o.udpIn : NONE,
    udpOut: o.udp && parts.splice ? o.udpOut : NONE,
    tcp: o.tcp,
    tcpIn: o.tcp ? o.tcpIn : NONE,
    tcpOut: o.tcp && parts.splice ? o.tcpOut : NONE,
    splice: parts.splice,
    spliceInbound: o.splice,
    hostLoToNsLo: o.hostLoToNsLo,
    dhcp: o.dhcp,
    ndp: o.ndp,
    dhcpv6: o.dhcpv6,
    ra: o.ra,
    maxBindings,
    icmp: o.icmp,
    ...(o.maxFlows !== undefined ? { maxFlows: o.maxFlows } : {}),
  });
}

/** The first port that could not be bound, as one line for the user; undefined when all were. */
export function bindFailure(failures: { port: number; family: number; side: string; code: string; protocol?: string }[]): string | undefined {
  const f = failures[0];
  if (!f) return undefined;
  const where = f.side === "ns" ? "in the namespace" : "on the host";
  return `cannot bind ${f.protocol ?? "UDP"} port ${f.port} (IPv${f.family}) ${where}: ${f.code}`;
}

/** One line per family: what the guest is told. */
export function describeConfig(cfg: NetConfig): string {
  const parts = [`mtu ${cfg.mtu}`];
  if (cfg.v4) parts.push(`${formatIpAddr(cfg.v4.address)}/${cfg.v4.prefixLen} gw ${formatIpAddr(cfg.v4.gateway)}`);
  if (cfg.v6) parts.push(`${formatIpAddr(cfg.v6.address)}/${cfg.v6.prefixLen} gw ${formatIpAddr(cfg.v6.gateway)}`);
  return parts.join(", ");
}

/**
 * SIGUSR1 prints the session's counters (frames, answers, drops by reason,
 * datagrams and bytes per direction, bindings) as one JSON line: a running
 * passt or pasta can be asked how it is doing without restarting it.
 */
export function countersOnSignal(session: GuestSession, log: Log, cleanups: Cleanups): void {
  const onUsr1 = (): void => {
    // Memory as Node sees it (rss, V8's heap, ArrayBuffers), to set beside /proc/PID/smaps.
    const m = process.memoryUsage();
    const memory = { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
    log.warn(`counters ${JSON.stringify({ ...session.allCounters(), live: session.stats(), memory })}`);
    // With -d, every live flow too (at most the first 1000), one line each.
    if (log.enabled("debug")) {
      for (const f of session.flows.list(performance.now()).slice(0, 1000)) {
        const [a, b] = f.sides;
        log.debug(`flow ${f.flow} ${f.type} idle ${Math.round(f.idleMs / 1000)} s: ${a.pif} ${a.endpoint} -> ${a.ours} | ${b.pif} ${b.ours} -> ${b.endpoint}`);
      }
    }
  };
  process.on("SIGUSR1", onUsr1);
  cleanups.push(() => process.off("SIGUSR1", onUsr1));
}
