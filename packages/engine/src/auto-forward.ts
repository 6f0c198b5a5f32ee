/**
 * pasta's `-t auto`, `-T auto`, `-u auto` and `-U auto`: forward whatever
 * ports are listening (TCP) or bound (UDP) on the other side, and keep
 * following them. One scanner per protocol; TCP reads /proc/net/tcp{,6}
 * and takes sockets in the LISTEN state, UDP as below.
 *
 * Theory of operation
 *
 * `-u auto` forwards, from the host to the namespace, every UDP port bound
 * in the namespace; `-U auto` forwards, from the namespace to the host,
 * every UDP port bound in the host's namespace. "Bound" means a socket in
 * /proc/net/udp or /proc/net/udp6 (proc(5)) with a local port and no remote
 * address: bound and not connected, so a server's socket and not a
 * connected client's. A port bound in either table is forwarded for both
 * families, as passt keeps one port set for both.
 *
 * Every second (as passt does) the tables are read again and diffed with
 * what we forward: new ports get a forward (UdpEngine.addForward), ports
 * that went away lose theirs (removeForward). A port whose forward could
 * not be bound is not tried again until it goes away and comes back, so a
 * busy port costs one log line, not one a second.
 *
 * Our own sockets must never be forwarded back: a -u forward binds the
 * port on the host, which -U auto would otherwise see and forward into the
 * namespace, where the server already holds it. So sockets whose inode is
 * one of our own descriptors (/proc/self/fd) are ignored, and a port we
 * forward in one direction (configured or automatic) is never forwarded
 * automatically in the other. Exclusions (`~PORT` in another -u/-U) and
 * explicitly forwarded ports are left out too.
 *
 * Which table is which: Node's main thread lives in the host's namespace,
 * so /proc/net/udp{,6} is the host's; the namespace's is read through a
 * process inside it, /proc/PID/net/udp{,6} (the command we started, or the
 * PID we were given). With only a namespace path there is no such process
 * and `-u auto` forwards nothing (said once in the log).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { PortRange } from "@x/flow";
import type { ForwardDirection, ForwardFailure } from "@x/udp-core";
import type { PortSpec } from "@x/flow";

/** One bound, unconnected UDP socket from /proc/net/udp or udp6. */
export interface BoundUdpSocket {
  port: number;
  inode: number;
}

/** An address:port field of /proc/net/{udp,tcp}{,6}: 8 or 32 hex digits, then 4. */
const ENDPOINT = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/;

/**
 * The sockets of a /proc/net/{udp,tcp}{,6} table that have a local port
 * and that `keep` takes (given the remote address in hex, the remote port
 * and the state number). The header line and anything malformed are skipped.
 */
function procNetSockets(text: string, keep: (remoteHex: string, remotePort: number, state: number) => boolean): BoundUdpSocket[] {
  const out: BoundUdpSocket[] = [];
  for (const line of text.split("\n")) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0] as string)) continue;
    const local = ENDPOINT.exec(f[1] as string);
    const remote = ENDPOINT.exec(f[2] as string);
    if (!local || !remote) continue;
    const port = parseInt(local[2] as string, 16);
    const inode = Number(f[9]);
    if (port === 0 || !Number.isInteger(inode)) continue;
    if (keep(remote[1] as string, parseInt(remote[2] as string, 16), parseInt(f[3] as string, 16))) out.push({ port, inode });
  }
  return out;
}

/**
 * Parses the text of /proc/net/udp or /proc/net/udp6 and returns the
 * sockets with a local port and no remote address (port 0, address all
 * zeroes).
 */
export function parseProcNetUdp(text: string): BoundUdpSocket[] {
  return procNetSockets(text, (remoteHex, remotePort) => remotePort === 0 && /^0+$/.test(remoteHex));
}

/** The inodes of the sockets among a process's descriptors (default: ours). */
export function socketInodes(fdDir = "/proc/self/fd"): Set<number> {
  const inodes = new Set<number>();
  let names: string[];
  try {
    names = readdirSync(fdDir);
  } catch {
    return inodes;
  }
  for (const n of names) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${fdDir}/${n}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

/** The TCP state number of a listening socket in /proc/net/tcp (include/net/tcp_states.h). */
const TCP_LISTEN = 0x0a;

/**
 * Parses the text of /proc/net/tcp or /proc/net/tcp6 and returns the
 * sockets in the LISTEN state, with their local port.
 */
export function parseProcNetTcpListen(text: string): BoundUdpSocket[] {
  return procNetSockets(text, (_remoteHex, _remotePort, state) => state === TCP_LISTEN);
}

/** The texts of a net directory's udp and udp6 tables ("/proc/net", "/proc/PID/net"); a missing udp6 reads as empty. */
export function readUdpTables(netDir: string): string[] {
  return readTables(netDir, "udp");
}

/** The texts of a net directory's tables of one protocol (udp/udp6 or tcp/tcp6). */
export function readTables(netDir: string, protocol: "udp" | "tcp"): string[] {
  const texts = [readFileSync(`${netDir}/${protocol}`, "utf8")];
  try {
    texts.push(readFileSync(`${netDir}/${protocol}6`, "utf8"));
  } catch {
    /* IPv6 disabled */
  }
  return texts;
}

/** What the scanner needs of a transport. */
export interface ForwardTarget {
  addForward(direction: ForwardDirection, port: number): ForwardFailure[];
  removeForward(direction: ForwardDirection, port: number): boolean;
}

export interface AutoForwardOptions {
  /** Which tables to read and what to call the ports (default "udp"). */
  protocol?: "udp" | "tcp";
  /** -u and -U (or -t and -T) as given: auto mode turns each direction on; exclusions and listed ports are left out. */
  udpIn: PortSpec;
  udpOut: PortSpec;
  /** The namespace's tables (texts of udp, udp6), or undefined when they cannot be read (yet). */
  readNamespace: () => string[] | undefined;
  /** The host's tables. */
  readHost: () => string[];
  /** Inodes of our own sockets. */
  ownInodes: () => Set<number>;
  log: { debug(m: string): void; info(m: string): void };
}

const PORTS = 65536;

/** Ports a direction never forwards automatically: its exclusions and its listed ports. */
function skipTable(spec: PortSpec): Uint8Array {
  const t = new Uint8Array(PORTS);
  const fill = (r: PortRange): void => void t.fill(1, r.start, r.end + 1);
  spec.exclude.forEach(fill);
  spec.entries.forEach(fill);
  return t;
}

/** Listening ports of a direction's listed forwards, with exclusions applied. */
function listedTable(spec: PortSpec): Uint8Array {
  const t = new Uint8Array(PORTS);
  for (const e of spec.entries) t.fill(1, e.start, e.end + 1);
  for (const x of spec.exclude) t.fill(0, x.start, x.end + 1);
  return t;
}

interface Direction {
  readonly name: ForwardDirection;
  readonly skip: Uint8Array;
  /** Ports configured in the other direction. */
  readonly otherListed: Uint8Array;
  readonly current: Set<number>;
  readonly read: () => string[] | undefined;
  readonly what: string;
}

export class AutoForwarder {
  private readonly dirs: Direction[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly name: string;
  private readonly parse: (text: string) => BoundUdpSocket[];

  constructor(
    private readonly engine: ForwardTarget,
    private readonly o: AutoForwardOptions,
  ) {
    this.name = o.protocol === "tcp" ? "TCP" : "UDP";
    this.parse = o.protocol === "tcp" ? parseProcNetTcpListen : parseProcNetUdp;
    const inListed = listedTable(o.udpIn);
    const outListed = listedTable(o.udpOut);
    if (o.udpIn.mode === "auto") {
      this.dirs.push({
        name: "inbound",
        skip: skipTable(o.udpIn),
        otherListed: outListed,
        current: new Set(),
        read: o.readNamespace,
        what: "host -> namespace",
      });
    }
    if (o.udpOut.mode === "auto") {
      this.dirs.push({
        name: "outbound",
        skip: skipTable(o.udpOut),
        otherListed: inListed,
        current: new Set(),
        read: o.readHost,
        what: "namespace -> host",
      });
    }
  }

  /** Whether there is anything to scan for. */
  get active(): boolean {
    return this.dirs.length > 0;
  }

  /** Ports forwarded automatically in `direction` now, in order. */
  forwarded(direction: ForwardDirection): number[] {
    const d = this.dirs.find((x) => x.name === direction);
    return d ? [...d.current].sort((a, b) => a - b) : [];
  }

  /** Reads the tables once and adds and removes forwards to match. */
  scan(): void {
    let own: Set<number> | undefined;
    for (const d of this.dirs) {
      let texts: string[] | undefined;
      try {
        texts = d.read();
      } catch (e) {
        this.o.log.debug(`auto forwarding (${d.what}): cannot read the ${this.name} tables: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      if (texts === undefined) continue;
      const other = this.dirs.find((x) => x !== d);
      const wanted = new Set<number>();
      for (const text of texts) {
        for (const s of this.parse(text)) {
          const p = s.port;
          if (d.skip[p] === 1 || d.otherListed[p] === 1 || other?.current.has(p)) continue;
          if (d.current.has(p)) {
            wanted.add(p);
            continue;
          }
          // Only a port we do not forward yet needs the (per descriptor)
          // look at which sockets are our own: a steady scan costs no readlink.
          own ??= this.o.ownInodes();
          if (!own.has(s.inode)) wanted.add(p);
        }
      }
      for (const p of d.current) {
        if (wanted.has(p)) continue;
        d.current.delete(p);
        this.call(() => this.engine.removeForward(d.name, p));
        this.o.log.debug(`auto forwarding: ${this.name} port ${p} no longer bound, forward ${d.what} removed`);
      }
      for (const p of wanted) {
        if (d.current.has(p)) continue;
        // Recorded even when binding failed: not retried until the port goes and comes back.
        d.current.add(p);
        const failures = this.call(() => this.engine.addForward(d.name, p)) ?? [];
        this.o.log.debug(
          `auto forwarding: ${this.name} port ${p} ${d.what}${failures.length ? ` (${failures.length} socket(s) could not be bound)` : ""}`,
        );
      }
    }
  }

  /** Scans now and then every `intervalMs` until stop(). */
  start(intervalMs = 1000): void {
    if (this.timer || !this.active) return;
    this.scan();
    this.timer = setInterval(() => this.scan(), intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private call<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.o.log.debug(`auto forwarding: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }
}
