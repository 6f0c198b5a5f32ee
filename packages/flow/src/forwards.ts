/**
 * Theory of operation.
 *
 * A port forward says: "listen on these ports on the host side, deliver to
 * those ports on the guest side". Ranges may be shifted (`1000-1009:
 * 2000-2009`), which is a constant delta per port: 1000 goes to 2000,
 * 1005 to 2005. The reverse delta matters just as much: when the guest
 * answers from port 2005, the answer must leave through the socket bound on
 * 1005, or the remote peer sees a reply from a port it never talked to.
 *
 * So a `PortForwards` is, per address family, four flat tables indexed by
 * port number (0..65535 inclusive; 65535 is a real port):
 *
 *   listening[p]   1 when p is a listening port
 *   target[p]      where p is delivered (valid when listening[p])
 *   reverse[t]     the listening port whose target is t, or 0 (no port is 0)
 *   bindIndex[p]   1 + which configured bind address p uses, 0 for "any"
 *
 * Every "none" is 0, so that a table no forward writes to stays as the
 * kernel gave it: zero pages that are never made resident.
 *
 * Lookups are a single array read, so remapping costs nothing per datagram.
 *
 * Input is a list of `PortForwardEntry` (the command-line syntax is parsed
 * by the engine). Validation is strict and explains itself: port 0 cannot
 * be forwarded (it means "any port" to the kernel), ranges must stay within
 * 1..65535 on both sides, and two entries may not claim the same listening
 * port on a family (unless they bind different explicit addresses) nor the
 * same target port (the reverse mapping would be ambiguous). Exclusions
 * remove ports from the forwarded set after the ranges are laid out.
 */
import { bytesEqual, FAMILIES, formatAddress, type AddressFamily, type Family } from './address.js';

export interface PortRange {
  /** First port, 1..65535. */
  readonly start: number;
  /** Last port, inclusive, start..65535. */
  readonly end: number;
}

export interface PortForwardEntry extends PortRange {
  /** First target port; the range keeps its length. Default: same as `start` (no remap). */
  readonly toStart?: number;
  /**
   * Listen only on this address (4 or 16 bytes), which also restricts the
   * entry to that family. Absent: the wildcard address, both families.
   */
  readonly bindAddress?: Uint8Array;
  /** `%IFNAME` in the spec: listen on that interface only (SO_BINDTODEVICE). */
  readonly bindInterface?: string;
}

/** One socket to open at start-up: family, local port and address, and the guest-side port. */
export interface Listener {
  readonly family: Family;
  readonly port: number;
  readonly target: number;
  readonly bindAddress: Uint8Array | null;
  /** The interface to bind to, or null for any. */
  readonly bindInterface: string | null;
}

export class PortForwardError extends Error {
  override readonly name = 'PortForwardError';
}

const PORTS = 65536;

class FamilyTable {
  readonly listening = new Uint8Array(PORTS);
  readonly target = new Uint16Array(PORTS);
  readonly reverse = new Uint16Array(PORTS);
  readonly bindIndex = new Uint16Array(PORTS);
  /** 1 for ports forwarded at run time (addRuntime). */
  readonly runtime = new Uint8Array(PORTS);
}

/** Which entry (1 + its index) claimed each port and each target: for the layout's checks only, dropped after. */
class Claims {
  readonly port = new Int32Array(PORTS);
  readonly target = new Int32Array(PORTS);
}

function describe(e: PortForwardEntry): string {
  const to = e.toStart === undefined ? '' : `:${e.toStart}-${e.toStart + (e.end - e.start)}`;
  const fam = e.bindAddress?.length === 4 ? 4 : 6;
  const at = e.bindAddress ? `${formatAddress(FAMILIES[fam === 4 ? 0 : 1], e.bindAddress, 0)}/` : '';
  return `${at}${e.start}-${e.end}${to}`;
}

function checkPort(what: string, p: number, entry: string): void {
  if (!Number.isInteger(p) || p < 1 || p > 65535) {
    const hint = p === 0 ? ' (port 0 cannot be forwarded: the kernel reads it as "any port")' : '';
    throw new PortForwardError(`port forward ${entry}: ${what} ${p} is not a port in 1..65535${hint}`);
  }
}

export class PortForwards {
  private readonly tables: readonly [FamilyTable, FamilyTable];
  private readonly addresses: Uint8Array[] = [];
  private readonly listenerList: Listener[] = [];
  /** Per family, the interface named for a listening port (few ports have one). */
  private readonly interfaceOf: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];

  private constructor() {
    this.tables = [new FamilyTable(), new FamilyTable()];
  }

  /** No forwards at all. */
  static none(): PortForwards {
    return PortForwards.from([]);
  }

  /**
   * Lays out and validates forwards. Throws PortForwardError with a message
   * naming the offending entries.
   * @param entries forwarded ranges, with optional remap and bind address
   * @param exclude ranges removed from the result (like `~1500` on passt's command line)
   */
  static from(entries: readonly PortForwardEntry[], exclude: readonly PortRange[] = []): PortForwards {
    const pf = new PortForwards();
    const excluded = new Uint8Array(exclude.length > 0 ? PORTS : 0);
    for (const x of exclude) {
      const name = `~${x.start}-${x.end}`;
      checkPort('exclusion start', x.start, name);
      checkPort('exclusion end', x.end, name);
      if (x.end < x.start) throw new PortForwardError(`exclusion ${name}: end is before start`);
      excluded.fill(1, x.start, x.end + 1);
    }
    if (entries.length === 0) return pf;
    const claims: [Claims, Claims] = [new Claims(), new Claims()];
    entries.forEach((e, idx) => pf.add(e, idx, entries, excluded, claims));
    // Only the span the entries cover is scanned: start-up runs this before
    // the JIT has warmed, where a loop over every port costs milliseconds.
    const lo = Math.max(1, Math.min(...entries.map((e) => e.start)));
    const hi = Math.min(PORTS - 1, Math.max(...entries.map((e) => e.end)));
    for (const fam of FAMILIES) {
      const t = pf.tables[fam.index];
      for (let p = lo; p <= hi; p++) {
        if (t.listening[p] !== 1) continue;
        const bi = t.bindIndex[p] as number;
        pf.listenerList.push({
          family: fam.family,
          port: p,
          target: t.target[p] as number,
          bindAddress: bi === 0 ? null : (pf.addresses[bi - 1] as Uint8Array),
          bindInterface: pf.interfaceOf[fam.index]?.get(p) ?? null,
        });
      }
    }
    return pf;
  }

  private add(e: PortForwardEntry, idx: number, all: readonly PortForwardEntry[], excluded: Uint8Array, claims: readonly [Claims, Claims]): void {
    const name = describe(e);
    checkPort('start', e.start, name);
    checkPort('end', e.end, name);
    if (e.end < e.start) throw new PortForwardError(`port forward ${name}: end ${e.end} is before start ${e.start}`);
    const toStart = e.toStart ?? e.start;
    checkPort('target start', toStart, name);
    const toEnd = toStart + (e.end - e.start);
    if (toEnd > 65535) {
      throw new PortForwardError(`port forward ${name}: target range would end at ${toEnd}, beyond 65535`);
    }
    let fams: readonly AddressFamily[] = FAMILIES;
    let bindIndex = 0;
    if (e.bindAddress !== undefined) {
      const len = e.bindAddress.length;
      if (len !== 4 && len !== 16) {
        throw new PortForwardError(`port forward ${e.start}-${e.end}: bind address must be 4 or 16 bytes, got ${len}`);
      }
      fams = [FAMILIES[len === 4 ? 0 : 1]];
      bindIndex = this.addresses.length + 1;
      this.addresses.push(Uint8Array.from(e.bindAddress));
    }
    for (const fam of fams) {
      const t = this.tables[fam.index];
      const c = claims[fam.index];
      for (let p = e.start; p <= e.end; p++) {
        if (excluded[p] === 1) continue;
        const to = toStart + (p - e.start);
        const prev = (c.port[p] as number) - 1;
        if (prev >= 0) {
          const other = all[prev] as PortForwardEntry;
          const bothExplicit = other.bindAddress !== undefined && e.bindAddress !== undefined;
          const a = other.bindAddress as Uint8Array;
          const b = e.bindAddress as Uint8Array;
          const same = bothExplicit && a.length === b.length && bytesEqual(a, 0, b, 0, a.length);
          if (!bothExplicit || same) {
            throw new PortForwardError(
              `overlapping port forwards: ${describe(other)} and ${name} both listen on IPv${fam.family} port ${p}`,
            );
          }
        }
        const prevT = (c.target[to] as number) - 1;
        if (prevT >= 0 && prevT !== idx) {
          throw new PortForwardError(
            `overlapping port forwards: ${describe(all[prevT] as PortForwardEntry)} and ${name} both deliver to ` +
              `IPv${fam.family} port ${to}, so a reply from it could not be mapped back`,
          );
        }
        c.port[p] = idx + 1;
        c.target[to] = idx + 1;
        t.listening[p] = 1;
        t.target[p] = to;
        t.reverse[to] = p;
        t.bindIndex[p] = bindIndex;
        if (e.bindInterface !== undefined) this.interfaceOf[fam.index].set(p, e.bindInterface);
      }
    }
  }

  /** Whether `port` is a listening port on `family`. */
  isForwarded(family: AddressFamily, port: number): boolean {
    return this.tables[family.index].listening[port] === 1;
  }

  /** The target (delivery) port for listening port `port`; `port` itself when it is not forwarded. */
  targetOf(family: AddressFamily, port: number): number {
    const t = this.tables[family.index];
    return t.listening[port] === 1 ? (t.target[port] as number) : port;
  }

  /** The listening port whose target is `target`, or -1: the reverse delta. */
  listenerFor(family: AddressFamily, target: number): number {
    const r = this.tables[family.index].reverse[target] as number;
    return r === 0 ? -1 : r;
  }

  /** Every socket to open at start-up, in port order, IPv4 first (run-time forwards not included). */
  listeners(): readonly Listener[] {
    return this.listenerList;
  }

  /**
   * Forwards `port` to itself from now on (`-u auto`, `-t auto`): every
   * transport consulting this structure sees it. False, and nothing
   * changed, when the port is already forwarded or is another forward's
   * target (its reverse mapping would become ambiguous).
   */
  addRuntime(family: AddressFamily, port: number): boolean {
    checkPort('port', port, String(port));
    const t = this.tables[family.index];
    if (t.listening[port] === 1 || t.reverse[port] !== 0) return false;
    t.listening[port] = 1;
    t.target[port] = port;
    t.reverse[port] = port;
    t.bindIndex[port] = 0;
    t.runtime[port] = 1;
    return true;
  }

  /** Ends a forward that addRuntime added; configured forwards stay. */
  removeRuntime(family: AddressFamily, port: number): boolean {
    const t = this.tables[family.index];
    if (t.runtime[port] !== 1) return false;
    t.runtime[port] = 0;
    t.listening[port] = 0;
    t.reverse[port] = 0;
    return true;
  }

  /** Whether `port` was forwarded at run time (addRuntime) rather than configured. */
  isRuntime(family: AddressFamily, port: number): boolean {
    return this.tables[family.index].runtime[port] === 1;
  }
}
