/**
 * Theory of operation.
 *
 * `UdpEngine` composes passt's UDP layer (see udp.md) from parts split by
 * concern, over the state they share (state.ts):
 *
 *   config.ts      what an embedder may set, validated once
 *   forwarding.ts  sockets of forwarded ports, at start-up and at run time
 *   to-host.ts     guest frames -> flows -> one sendmmsg per guest port
 *   to-guest.ts    host sockets -> recvmmsg into the frame slab -> flows
 *                  -> headers in place -> one FrameSink call per batch
 *   splice.ts      pasta's loopback <-> namespace loopback relay
 *
 * Every UDP conversation with the guest is a flow in the shared flow table
 * (@x/flow), translated by the shared NAT rules; a guest port's host
 * socket (its binding) is this package's own resource, opened on first
 * use and capped. Everything a datagram touches is allocated in the
 * constructors; nothing here blocks, and no error escapes into the event
 * loop: socket failures become counted drops and debug log lines.
 *
 * The engine is driven from outside: the embedder hands in each burst of
 * guest datagrams (parsed once by its dispatcher, or raw frames through
 * `fromGuestFrames`), the socket layer calls back when a socket is
 * readable, and the clock's timer runs the aging sweep.
 */
import { familyOf, FlowType, copyBytes, type TimerHandle } from '@x/flow';
import type { FrameHeaders } from '@x/l2';
import { BindingTable } from './bindings.js';
import { settingsOf, type UdpEngineConfig, type UdpEngineDeps } from './config.js';
import type { UdpCounters } from './counters.js';
import { Forwarding, type ForwardDirection, type ForwardFailure } from './forwarding.js';
import { appendParsed, FrameVerdict, type GuestDatagrams } from './guest-input.js';
import { UdpState } from './state.js';
import { HostToGuest } from './to-guest.js';
import { GuestToHost } from './to-host.js';

export type { UdpEngineConfig, UdpEngineDeps } from './config.js';
export type { ForwardDirection, ForwardFailure } from './forwarding.js';

/** Live object counts, for tests and status output. */
export interface UdpEngineStats {
  bindings: number;
  permanentSockets: number;
  spliceFlows: number;
  /** UDP flows in the flow table (tap side; splice flows are `spliceFlows`). */
  udpFlows: number;
}

const PORTS = 65536;

export class UdpEngine {
  readonly counters: UdpCounters;
  private readonly s: UdpState;
  private readonly forwarding: Forwarding;
  private readonly toHost: GuestToHost;
  private readonly toGuest: HostToGuest;
  private timer: TimerHandle | undefined;

  constructor(config: UdpEngineConfig, deps: UdpEngineDeps) {
    const s = new UdpState(config, deps, settingsOf(config));
    this.s = s;
    this.counters = s.counters;
    this.toGuest = new HostToGuest(s, config.ourMac);
    const drain = this.toGuest.drain.bind(this.toGuest);
    this.forwarding = new Forwarding(s, drain);
    this.toHost = new GuestToHost(s, drain);
    if (config.guestMac) this.setGuestMac(config.guestMac);
  }

  /** The guest's MAC, once the embedder has learnt it from the guest's frames. */
  setGuestMac(mac: Uint8Array): void {
    if (mac.length !== 6) throw new RangeError('guest MAC must be 6 bytes');
    copyBytes(this.toGuest.fields.guestMac, 0, mac, 0, 6);
  }

  /** Records an address the guest was seen using (the embedder may call it for non-UDP traffic too). */
  noteGuestAddress(addr: Uint8Array): void {
    const fam = addr.length === 4 ? familyOf(4) : addr.length === 16 ? familyOf(6) : undefined;
    if (fam) this.s.addresses.noteGuestSource(fam, addr, 0);
  }

  /**
   * Opens the sockets of forwarded ports and starts the aging timer. A port
   * that cannot be bound is logged and skipped, as passt does; the list of
   * failures is returned so the embedder can decide to abort.
   */
  start(): ForwardFailure[] {
    const s = this.s;
    if (s.started) throw new Error('UdpEngine already started');
    s.started = true;
    const failures = this.forwarding.start();
    this.timer = s.clock.every(s.settings.sweepMs, () => this.sweep());
    return failures;
  }

  /** Adds a forward at run time (pasta's `-u auto` / `-U auto`): see Forwarding.addForward. */
  addForward(direction: ForwardDirection, port: number, families: readonly (4 | 6)[] = [4, 6]): ForwardFailure[] {
    return this.forwarding.addForward(direction, port, families);
  }

  /** Removes a forward added at run time, closing its sockets and the splice flows through it. */
  removeForward(direction: ForwardDirection, port: number, families: readonly (4 | 6)[] = [4, 6]): boolean {
    return this.forwarding.removeForward(direction, port, families);
  }

  /** Ports with a forward added at run time in `direction`, on any family, in order. */
  runtimeForwards(direction: ForwardDirection): number[] {
    return this.forwarding.runtimeForwards(direction);
  }

  /** Closes every socket and stops the timer. The engine cannot be restarted. */
  stop(): void {
    const s = this.s;
    s.stopped = true;
    this.forwarding.clear();
    this.timer?.cancel();
    this.timer = undefined;
    for (let slot = 0; slot < 2 * PORTS; slot++) {
      if (s.bindings.handle[slot] !== -1) s.closeBinding(slot);
    }
    s.splice?.close();
  }

  stats(): UdpEngineStats {
    const s = this.s;
    return {
      bindings: s.bindings.dynamicCount,
      permanentSockets: this.forwarding.permanentHandles.length,
      spliceFlows: s.splice?.flowCount ?? 0,
      udpFlows: s.flows.countOf(FlowType.Udp),
    };
  }

  /** Runs the aging sweep now (the timer calls this every sweepIntervalMs). */
  sweep(): void {
    const s = this.s;
    const now = s.clock.now();
    s.bindings.lru.sweep(now, s.settings.idleMs, (slot) => {
      s.log.debug(`udp: IPv${BindingTable.familyIndexOf(slot) === 0 ? 4 : 6} binding on port ${BindingTable.portOf(slot)} idle, closed`);
      s.closeBinding(slot);
      s.counters.events.bindingsAged++;
    });
    // Splice flows age in the table too: its owner sweeps it.
    if (s.ownsFlows) s.flows.sweep(now);
  }

  /**
   * Parses raw guest frames (Ethernet) and sends the UDP ones. Frames that
   * are not UDP are left to the caller; malformed ones are counted in
   * `counters.fromGuest.malformed`.
   * @returns how many frames were UDP and handled here
   */
  fromGuestFrames(slab: Uint8Array, offsets: ArrayLike<number>, lengths: ArrayLike<number>, count: number): number {
    // Both entry points fill the same batch: send what queueParsed left first.
    this.flushGuest();
    return this.toHost.fromGuestFrames(slab, offsets, lengths, count);
  }

  /**
   * Queues one guest frame that the embedder's dispatcher already parsed
   * as UDP (its headers in `h`), to be sent with the rest of the burst at
   * `flushGuest`. The slab must stay untouched until then.
   */
  queueParsed(slab: Uint8Array, h: FrameHeaders): void {
    const b = this.toHost.parsed;
    if (b.count > 0 && b.slab !== slab) this.flushGuest();
    if (b.count === b.capacity) this.flushGuest();
    b.slab = slab;
    if (appendParsed(b, slab, h) === FrameVerdict.Malformed) this.s.counters.fromGuest.malformed++;
  }

  /** Sends what queueParsed gathered. */
  flushGuest(): void {
    const b = this.toHost.parsed;
    if (b.count === 0) return;
    this.toHost.fromGuest(b);
    b.count = 0;
  }

  /** Sends a burst of parsed guest datagrams: grouped by (family, source port), each group through its binding. */
  fromGuest(batch: GuestDatagrams): void {
    this.toHost.fromGuest(batch);
  }
}
