/**
 * Theory of operation.
 *
 * Connections in: a listening socket per forwarded port and family (-t on
 * the host; -T, pasta only, in the namespace), from the shared
 * port-forward structure, so that `-t auto` adds and removes listeners at
 * run time through the same table every transport reads. An accepted
 * connection goes one of two ways:
 *
 * - spliced (splice.ts), when it is between the two loopbacks: from the
 *   host's loopback to a -t port in pasta, or any -T connection in the
 *   namespace, which goes to the host's loopback;
 * - through the tap otherwise: a new flow whose host side is the accepted
 *   socket and whose guest side is chosen by the address translation (the
 *   source the guest sees, the guest address to deliver to), and a SYN to
 *   the guest; data flows once the guest answers SYN-ACK.
 */
import {
  FlowType,
  INITIATOR,
  Pif,
  TARGET,
  errorCode,
  familyOf,
  type AddressFamily,
  type Side,
} from '@x/flow';
import { IpProtocol, TcpFlag } from '@x/l2';
import { Ev, Timer, TIMEOUTS } from './conn.js';
import { OUR_WINDOW_SCALE, type TcpState } from './state.js';
import { AcceptedPeer, Ready, type TcpHandle } from './sockets.js';
import type { Splice } from './splice.js';

/** A port that could not be bound: which family, on which side, and the errno name. */
export interface TcpForwardFailure {
  port: number;
  family: 4 | 6;
  side: Side;
  code: string;
}

interface Listening {
  readonly handle: TcpHandle;
  readonly fam: AddressFamily;
  readonly side: Side;
  readonly port: number;
}

export class Inbound {
  private readonly peer = new AcceptedPeer();
  private readonly src = new Uint8Array(16);
  private readonly guest = new Uint8Array(16);
  private readonly listening = new Map<string, Listening>();

  constructor(
    private readonly s: TcpState,
    private readonly splice: Splice,
    private readonly onSocket: (f: number, ready: number) => void,
  ) {}

  /** Opens the listeners of the configured forwards. */
  start(): TcpForwardFailure[] {
    const s = this.s;
    const failures: TcpForwardFailure[] = [];
    if (!s.o.enabled) return failures;
    for (const l of s.o.inbound.listeners()) this.listen(l.family, 'host', l.port, l.bindAddress, failures, l.bindInterface);
    if (s.o.splice) for (const l of s.o.outbound.listeners()) this.listen(l.family, 'ns', l.port, l.bindAddress, failures, l.bindInterface);
    return failures;
  }

  /** Listens on `port` on one side (run-time forwards: -t auto). */
  listen(family: 4 | 6, side: Side, port: number, address: Uint8Array | null, failures: TcpForwardFailure[], iface: string | null = null): boolean {
    const s = this.s;
    const fam = familyOf(family) as AddressFamily;
    if (s.enabled[fam.index] !== 1) return false;
    const key = `${side}/${family}/${port}`;
    if (this.listening.has(key)) return true;
    try {
      const handle = s.d.sockets.listen({ family, side, address, port, interface: iface });
      const l: Listening = { handle, fam, side, port };
      this.listening.set(key, l);
      s.d.sockets.watch(handle, Ready.READABLE, () => this.accept(l));
      return true;
    } catch (e) {
      failures.push({ port, family, side, code: errorCode(e) });
      s.d.logger.warn(`tcp: cannot listen on IPv${family} port ${port}${side === 'ns' ? ' in the namespace' : ''}: ${errorCode(e)}`);
      return false;
    }
  }

  /** Stops listening on `port` (a run-time forward that went away). */
  unlisten(family: 4 | 6, side: Side, port: number): void {
    const key = `${side}/${family}/${port}`;
    const l = this.listening.get(key);
    if (!l) return;
    this.listening.delete(key);
    this.s.d.sockets.unwatch(l.handle);
    this.s.d.sockets.close(l.handle);
  }

  isListening(family: 4 | 6, side: Side, port: number): boolean {
    return this.listening.has(`${side}/${family}/${port}`);
  }

  /** Takes every waiting connection of one listener. */
  private accept(l: Listening): void {
    const s = this.s;
    const sk = s.d.sockets;
    const peer = this.peer;
    for (;;) {
      let h: TcpHandle;
      try {
        h = sk.accept(l.handle, peer);
      } catch (e) {
        s.d.logger.debug(`tcp: accept on port ${l.port}: ${errorCode(e)}`);
        return;
      }
      if (h < 0) return;
      const forwards = l.side === 'host' ? s.o.inbound : s.o.outbound;
      const target = forwards.targetOf(l.fam, l.port);
      if (l.side === 'ns') this.splice.start(l.fam, h, peer, l.port, 'host', target);
      else if ((s.o.spliceInbound ?? s.o.splice) && l.fam.isLoopback(peer.addr, 0)) this.splice.start(l.fam, h, peer, l.port, 'ns', target);
      else this.toGuest(l.fam, h, l.port, target);
    }
  }

  /** An accepted connection carried through the tap: a SYN to the guest. */
  private toGuest(fam: AddressFamily, h: TcpHandle, port: number, target: number): void {
    const s = this.s;
    const d = s.d;
    const cn = s.counters;
    const now = d.clock.now();
    const peer = this.peer;
    d.nat.rewriteSource(fam, peer.addr, 0, peer.port, now, this.src, 0);
    if (!d.nat.guestDestination(fam, this.src, 0, this.guest, 0)) {
      d.logger.debug(`tcp: no IPv${fam.family} guest address yet: connection to port ${port} dropped`);
      cn.noConnection++;
      d.sockets.close(h);
      return;
    }
    const f = d.flows.alloc(FlowType.Tcp, IpProtocol.Tcp, fam.family, now);
    if (f < 0) {
      cn.capReached++;
      d.sockets.close(h);
      return;
    }
    const c = s.conns;
    c.reset(f);
    d.flows.setSide(f, INITIATOR, Pif.Host, fam, null, 0, port, peer.addr, 0, peer.port);
    d.flows.setSide(f, TARGET, Pif.Tap, fam, this.src, 0, peer.port, this.guest, 0, target);
    d.flows.hash(f, TARGET);
    c.sock[f] = h;
    c.tapSide[f] = TARGET;
    c.ev[f] = Ev.SOCK_ACCEPTED;
    c.wsToTap[f] = OUR_WINDOW_SCALE;
    c.mss[f] = 536;
    const isn = s.isn.isn(fam.family, this.src, 0, peer.port, this.guest, 0, target, now * 1000);
    c.seqInitToTap[f] = isn;
    c.seqToTap[f] = (isn + 1) >>> 0;
    c.seqHighToTap[f] = c.seqToTap[f] as number;
    c.seqAckFromTap[f] = (isn + 1) >>> 0;
    cn.accepted++;
    d.sockets.watch(h, Ready.READABLE | Ready.HANGUP | Ready.EDGE, (ready) => this.onSocket(f, ready));
    c.interest[f] = Ready.READABLE | Ready.HANGUP | Ready.EDGE;
    s.sendFlags(f, TcpFlag.SYN);
    s.arm(f, Timer.Handshake, TIMEOUTS.handshakeMs);
    s.finish();
  }

  stop(): void {
    for (const l of this.listening.values()) {
      this.s.d.sockets.unwatch(l.handle);
      this.s.d.sockets.close(l.handle);
    }
    this.listening.clear();
  }
}
