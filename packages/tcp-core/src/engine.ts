/**
 * Theory of operation.
 *
 * The TCP translation for one guest link, composed of its parts:
 *
 *   from-guest.ts  segments from the guest: handshakes, ACKs, payload
 *                  written to the host socket, FIN and RST
 *   to-guest.ts    the host socket's data peeked into frames for the
 *                  guest, and the end of a connect in progress
 *   inbound.ts     listeners for -t/-T, accepted connections to the tap
 *   splice.ts      connections between the two loopbacks, socket to
 *                  socket through pipes
 *   timers.ts      handshake, acknowledgement and zero-window timers
 *   state.ts       what they share (connection table, frames, counters)
 *
 * There is no TCP stack here: the host kernel does segmentation,
 * retransmission and congestion control toward the real peer, and each
 * connection is translated between the guest's segments and one ordinary
 * socket, whose queues are the only buffers (design/tcp.md).
 *
 * Flows are of type TCP (through the tap) or TCP-splice in the shared flow
 * table; the table's aging closes a connection idle for two hours, and at
 * the cap its eviction resets the least recently used one.
 */
import { FAMILIES, FlowType, type TimerHandle } from '@x/flow';
import type { FrameHeaders } from '@x/l2';
import { Ev, TIMEOUTS } from './conn.js';
import { FromGuest } from './from-guest.js';
import { Inbound, type TcpForwardFailure } from './inbound.js';
import { Resets } from './resets.js';
import { Splice } from './splice.js';
import { TcpState, type TcpDeps, type TcpOptions } from './state.js';
import { TICK_MS, tick } from './timers.js';
import { ToGuest } from './to-guest.js';
import type { TcpCounters } from './counters.js';
import type { Side } from '@x/flow';

export interface TcpStats {
  /** Connections carried through the tap, and spliced ones. */
  tcpConns: number;
  tcpSplices: number;
}

export class TcpEngine {
  private readonly s: TcpState;
  private readonly from: FromGuest;
  private readonly to: ToGuest;
  private readonly splice: Splice;
  private readonly inbound: Inbound;
  private timer: TimerHandle | undefined;

  constructor(o: TcpOptions, d: TcpDeps) {
    const s = new TcpState(o, d);
    this.s = s;
    this.to = new ToGuest(s);
    const onSocket = (f: number, ready: number): void => this.to.event(f, ready);
    this.from = new FromGuest(s, new Resets(s.frames, o.ourMac, s.link.guestMac), onSocket);
    this.splice = new Splice(s);
    this.inbound = new Inbound(s, this.splice, onSocket);
    d.flows.register(FlowType.Tcp, {
      idleMs: TIMEOUTS.idleMs,
      release: (f) => {
        s.counters.flowsEvicted++;
        if (!s.conns.has(f, Ev.CLOSED)) s.close(f, true, true);
      },
    });
    d.sockets.onBatchEnd(() => s.finish());
  }

  get counters(): TcpCounters {
    return this.s.counters;
  }

  /** Opens the configured listeners and starts the timers; returns the ports that could not be bound. */
  start(): TcpForwardFailure[] {
    const failures = this.inbound.start();
    const clock = this.s.d.clock;
    this.timer = clock.every(TICK_MS, () => tick(this.s, clock.now()));
    return failures;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.inbound.stop();
    this.splice.stop();
    const c = this.s.conns;
    for (let f = 0; f < c.capacity; f++) if ((c.sock[f] as number) >= 0) this.s.close(f, true, true);
    this.s.finish();
  }

  setGuestMac(mac: Uint8Array): void {
    this.s.link.guestMac.set(mac);
  }

  /** One TCP segment from the guest, parsed by the dispatcher. */
  fromGuest(slab: Uint8Array, h: FrameHeaders): void {
    this.from.segment(slab, h);
  }

  /** After the last frame of a guest batch: write what was gathered, send what is owed. */
  flushGuest(): void {
    this.from.write();
    this.s.finish();
  }

  /** Runs the timers now (tests with a fake clock). */
  tick(): void {
    tick(this.s, this.s.d.clock.now());
  }

  /**
   * A forward added at run time (-t auto: `inbound`, a listener on the
   * host; -T auto: `outbound`, in the namespace), for both families,
   * recorded in the shared port-forward structure.
   */
  addForward(direction: 'inbound' | 'outbound', port: number): TcpForwardFailure[] {
    const failures: TcpForwardFailure[] = [];
    const forwards = direction === 'inbound' ? this.s.o.inbound : this.s.o.outbound;
    const side: Side = direction === 'inbound' ? 'host' : 'ns';
    for (const fam of FAMILIES) {
      if (this.s.enabled[fam.index] !== 1) continue;
      forwards.addRuntime(fam, port);
      if (!this.inbound.listen(fam.family, side, port, null, failures)) forwards.removeRuntime(fam, port);
    }
    return failures;
  }

  removeForward(direction: 'inbound' | 'outbound', port: number): boolean {
    const forwards = direction === 'inbound' ? this.s.o.inbound : this.s.o.outbound;
    const side: Side = direction === 'inbound' ? 'host' : 'ns';
    let any = false;
    for (const fam of FAMILIES) {
      if (!forwards.removeRuntime(fam, port)) continue;
      this.inbound.unlisten(fam.family, side, port);
      any = true;
    }
    return any;
  }

  isListening(family: 4 | 6, side: Side, port: number): boolean {
    return this.inbound.isListening(family, side, port);
  }

  stats(): TcpStats {
    const flows = this.s.d.flows;
    return { tcpConns: flows.countOf(FlowType.Tcp), tcpSplices: flows.countOf(FlowType.TcpSplice) };
  }
}
