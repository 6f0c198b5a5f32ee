/**
 * Theory of operation.
 *
 * Forwarding control: which sockets exist for forwarded ports, opened at
 * start-up from the configured forwards (-u, -U) and added or removed at
 * run time (`-u auto` / `-U auto`). An inbound forward is, in passt, a
 * frame socket on the wildcard (or the given) address; in pasta, also a
 * splice listener on the host's loopback, with the frame socket on the
 * host's own address instead of the wildcard, because loopback belongs to
 * the splice listeners. An outbound forward is a splice listener on the
 * namespace's loopback. The frame socket of a forward is its target port's
 * permanent binding: the guest's replies from that port leave through it,
 * so the remote sees them from the port it talked to.
 *
 * Run-time forwards are recorded in the shared PortForwards structure
 * (`addRuntime`/`removeRuntime`), so that every transport consulting it
 * sees the same set, and here with the handles they opened, so that
 * removing one closes exactly what it added.
 */
import { errorCode, familyOf, type AddressFamily, type SocketHandle } from '@x/flow';
import { BindingTable } from './bindings.js';
import type { UdpState } from './state.js';

/** A port that could not be bound: which family, on which side, and the errno name. */
export interface ForwardFailure {
  port: number;
  family: 4 | 6;
  side: 'host' | 'ns';
  code: string;
}

/**
 * Which way a forward added at run time goes: `inbound` listens on the host
 * and delivers to the guest (-u), `outbound` listens on the namespace's
 * loopback and delivers to the host's (-U, pasta only).
 */
export type ForwardDirection = 'inbound' | 'outbound';

/** What a run-time forward opened, so that removing it closes exactly that. */
interface RuntimeForward {
  readonly fam: AddressFamily;
  /** Binding slot of the permanent frame socket, or -1. */
  readonly slot: number;
  /** Side of the splice listener, or null when none was bound. */
  readonly spliceSide: 'host' | 'ns' | null;
}

/** Drains a host socket towards guest port `guestPort` (to-guest.ts). */
export type Drain = (fam: AddressFamily, guestPort: number, boundPort: number, h: SocketHandle) => void;

export class Forwarding {
  private readonly warnedWildcard = [false, false];
  /** Forwards added by addForward, keyed `${direction}/${family}/${port}`. */
  private readonly runtime = new Map<string, RuntimeForward>();
  readonly permanentHandles: SocketHandle[] = [];

  constructor(
    private readonly s: UdpState,
    private readonly drain: Drain,
  ) {}

  /** Opens the sockets of the configured forwards; the ports that failed are logged and returned. */
  start(): ForwardFailure[] {
    const s = this.s;
    const failures: ForwardFailure[] = [];
    for (const l of s.inbound.listeners()) {
      const fam = familyOf(l.family) as AddressFamily;
      if (s.enabled[fam.index] === 1) this.openInbound(fam, l.port, l.target, l.bindAddress, failures, l.bindInterface);
    }
    if (s.splice) {
      for (const l of s.outbound.listeners()) {
        const fam = familyOf(l.family) as AddressFamily;
        if (s.enabled[fam.index] === 1) this.openSpliceListener(fam, 'ns', l.port, l.target, failures);
      }
    }
    return failures;
  }

  /**
   * Opens the sockets of one inbound forward.
   * @returns the binding slot of the frame socket (-1 if none) and whether a splice listener was bound
   */
  private openInbound(
    fam: AddressFamily,
    port: number,
    target: number,
    bindAddress: Uint8Array | null,
    failures: ForwardFailure[],
    bindInterface: string | null = null,
  ): { slot: number; spliced: boolean } {
    const s = this.s;
    let spliced = false;
    const loopbackOnly = bindAddress !== null && fam.isLoopback(bindAddress, 0);
    // A forward limited to an interface other than the loopback (%IF) has no loopback traffic to splice.
    const onLoopback = bindInterface === null || bindInterface === 'lo';
    if (s.spliceInbound && onLoopback && (bindAddress === null || loopbackOnly)) {
      spliced = this.openSpliceListener(fam, 'host', port, target, failures);
    }
    if (s.spliceInbound && loopbackOnly) return { slot: -1, spliced };
    const address = bindAddress ?? (s.spliceInbound ? (s.hostAddr[fam.index] ?? null) : null);
    if (s.spliceInbound && address === null && !this.warnedWildcard[fam.index]) {
      this.warnedWildcard[fam.index] = true;
      s.log.warn(
        `udp: splice mode without hostAddress${fam.family}: forwarded ports bind the IPv${fam.family} ` +
          'wildcard address, which the kernel may refuse next to the loopback splice listeners',
      );
    }
    try {
      const h = s.sockets.open({ family: fam.family, side: 'host', address, port, v6only: true, ...(bindInterface ? { interface: bindInterface } : {}) });
      const slot = BindingTable.slot(fam, target);
      s.bindings.setPermanent(slot, h, port);
      this.permanentHandles.push(h);
      s.sockets.watch(h, () => this.drain(fam, target, port, h));
      return { slot, spliced };
    } catch (e) {
      failures.push({ port, family: fam.family, side: 'host', code: errorCode(e) });
      s.log.warn(`udp: cannot bind IPv${fam.family} port ${port}: ${errorCode(e)}`);
      return { slot: -1, spliced };
    }
  }

  /**
   * Adds one forward at run time, on `port` to the same port, with the
   * sockets start() would open for it, for each enabled family of
   * `families`. A family on which the port is already forwarded, or is the
   * target of a configured forward, is left alone. A dynamic binding the
   * guest opened on that port is replaced by the forward's permanent
   * socket. Nothing is recorded for a family where nothing could be bound,
   * so a later call tries again.
   */
  addForward(direction: ForwardDirection, port: number, families: readonly (4 | 6)[]): ForwardFailure[] {
    const s = this.s;
    this.checkRuntime(direction, port);
    const failures: ForwardFailure[] = [];
    for (const fam of s.families) {
      if (!families.includes(fam.family)) continue;
      const key = `${direction}/${fam.family}/${port}`;
      if (this.runtime.has(key)) continue;
      if (direction === 'inbound') {
        const slot = BindingTable.slot(fam, port);
        if (s.inbound.isForwarded(fam, port) || s.bindings.permanent[slot] === 1) continue;
        if (s.bindings.handle[slot] !== -1) {
          s.log.debug(`udp: IPv${fam.family} binding on port ${port} replaced by a forward`);
          s.closeBinding(slot);
        }
        const opened = this.openInbound(fam, port, port, null, failures);
        if (opened.slot >= 0 || opened.spliced) {
          this.runtime.set(key, { fam, slot: opened.slot, spliceSide: opened.spliced ? 'host' : null });
          s.inbound.addRuntime(fam, port);
        }
      } else {
        if (s.outbound.isForwarded(fam, port)) continue;
        if (this.openSpliceListener(fam, 'ns', port, port, failures)) {
          this.runtime.set(key, { fam, slot: -1, spliceSide: 'ns' });
          s.outbound.addRuntime(fam, port);
        }
      }
    }
    return failures;
  }

  /** Removes a forward added by addForward, closing its sockets; configured forwards are never removed. */
  removeForward(direction: ForwardDirection, port: number, families: readonly (4 | 6)[]): boolean {
    const s = this.s;
    this.checkRuntime(direction, port);
    let removed = false;
    for (const family of families) {
      const key = `${direction}/${family}/${port}`;
      const f = this.runtime.get(key);
      if (!f) continue;
      this.runtime.delete(key);
      removed = true;
      (direction === 'inbound' ? s.inbound : s.outbound).removeRuntime(f.fam, port);
      if (f.slot >= 0) {
        const h = s.bindings.handle[f.slot] as number;
        const at = this.permanentHandles.indexOf(h);
        if (at >= 0) this.permanentHandles.splice(at, 1);
        s.closeBinding(f.slot);
      }
      if (f.spliceSide) s.splice?.removeListener(f.fam, f.spliceSide, port);
    }
    return removed;
  }

  /** Ports with a forward added at run time in `direction`, on any family, in order. */
  runtimeForwards(direction: ForwardDirection): number[] {
    const ports = new Set<number>();
    for (const key of this.runtime.keys()) {
      const [d, , p] = key.split('/');
      if (d === direction) ports.add(Number(p));
    }
    return [...ports].sort((a, b) => a - b);
  }

  clear(): void {
    this.runtime.clear();
  }

  private checkRuntime(direction: ForwardDirection, port: number): void {
    const s = this.s;
    if (!s.started || s.stopped) throw new Error('UdpEngine is not running');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port ${port} is not in 1..65535`);
    if (direction === 'outbound' && !s.splice) throw new RangeError('outbound (-U) forwards need splice mode (pasta)');
  }

  /** Binds a splice listener; false (logged, and added to `failures`) when it cannot. */
  private openSpliceListener(
    fam: AddressFamily,
    side: 'host' | 'ns',
    port: number,
    target: number,
    failures: ForwardFailure[],
  ): boolean {
    const s = this.s;
    if (!s.splice) return false;
    try {
      s.splice.addListener(fam, side, port, target);
      return true;
    } catch (e) {
      failures.push({ port, family: fam.family, side, code: errorCode(e) });
      s.log.warn(`udp splice: cannot bind IPv${fam.family} loopback port ${port} (${side}): ${errorCode(e)}`);
      return false;
    }
  }
}
