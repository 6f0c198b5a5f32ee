/**
 * Theory of operation.
 *
 * Guest to world. A burst of the guest's datagrams (already parsed: see
 * guest-input.ts) is grouped by (family, guest source port), because each
 * guest port has one host socket (its binding, bound to the same port
 * where it is free) and each group leaves through it in one sendmmsg.
 *
 * Within a group each datagram is matched to its flow in the shared flow
 * table by the guest side's tuple; consecutive datagrams to the same
 * destination reuse the previous match, so a stream costs one hash lookup
 * per burst, not per datagram. A known flow gives the real destination
 * directly (its host side's endpoint); a new one is translated once by the
 * NAT rules (@x/flow's AddressMap: the gateway reaches the host's loopback
 * unless --no-map-gw, loopback and unspecified destinations are refused)
 * and recorded, so that the answer finds its way back through the host
 * side's tuple. The binding is opened after the descriptors are filled,
 * because the first datagram decides whether it binds a link-local
 * address, and it is capped: at the cap the least recently used dynamic
 * binding is closed, or the group is dropped and counted.
 */
import {
  ADDR_STRIDE,
  bytesEqual,
  copyBytes,
  createSendBatch,
  DestKind,
  errorCode,
  familyOf,
  RateLimitedLog,
  type AddressFamily,
  type SendBatch,
  type SocketHandle,
} from '@x/flow';
import { BindingTable } from './bindings.js';
import { Grouper } from './grouping.js';
import { appendGuestFrame, createGuestDatagrams, FrameVerdict, type GuestDatagrams } from './guest-input.js';
import type { UdpState } from './state.js';
import type { Drain } from './forwarding.js';

const PORTS = 65536;

export class GuestToHost {
  private readonly guestSend: SendBatch;
  private readonly grouper: Grouper;
  readonly parsed: GuestDatagrams;
  private readonly capLog: RateLimitedLog;

  constructor(
    private readonly s: UdpState,
    private readonly drain: Drain,
  ) {
    const n = s.settings.guestBatch;
    this.guestSend = createSendBatch(n);
    this.grouper = new Grouper(2 * PORTS, n);
    this.parsed = createGuestDatagrams(n);
    this.capLog = new RateLimitedLog(10_000, (m) => s.log.warn(m));
  }

  /**
   * Parses raw guest frames (Ethernet) and sends the UDP ones; frames that
   * are not UDP are left to the caller, malformed ones counted.
   * @returns how many frames were UDP (or malformed) and handled here
   */
  fromGuestFrames(slab: Uint8Array, offsets: ArrayLike<number>, lengths: ArrayLike<number>, count: number): number {
    const b = this.parsed;
    b.slab = slab;
    b.count = 0;
    let udp = 0;
    for (let i = 0; i < count; i++) {
      if (b.count === b.capacity) {
        this.fromGuest(b);
        b.count = 0;
      }
      const v = appendGuestFrame(b, slab, offsets[i] as number, lengths[i] as number);
      if (v === FrameVerdict.Udp) udp++;
      else if (v === FrameVerdict.Malformed) {
        udp++;
        this.s.counters.fromGuest.malformed++;
      }
    }
    if (b.count > 0) this.fromGuest(b);
    b.count = 0;
    return udp;
  }

  /** Sends a burst of parsed guest datagrams: grouped by (family, source port), each group with one sendmmsg. */
  fromGuest(batch: GuestDatagrams): void {
    const s = this.s;
    const c = s.counters.fromGuest;
    const g = this.grouper;
    const slab = batch.slab;
    let count = batch.count;
    if (count > g.capacity) {
      // Only a batch not made by createGuestDatagrams(guestBatch) can be
      // larger; the excess is dropped rather than trusted.
      c.malformed += count - g.capacity;
      count = g.capacity;
    }
    g.reset();
    for (let i = 0; i < count; i++) {
      const fam = familyOf(batch.families[i] as number);
      const srcPort = batch.srcPorts[i] as number;
      const off = batch.payloadOffsets[i] as number;
      const len = batch.payloadLengths[i] as number;
      if (fam === undefined || s.enabled[fam.index] !== 1 || srcPort === 0 || batch.dstPorts[i] === 0 || off + len > slab.length) {
        c.malformed++;
        continue;
      }
      s.addresses.noteGuestSource(fam, batch.srcAddrs, i * ADDR_STRIDE);
      g.add(BindingTable.slot(fam, srcPort), i);
    }
    const now = s.clock.now();
    for (let k = 0; k < g.groups; k++) this.sendGroup(batch, g.heads[k] as number, now);
  }

  /** Fills one send descriptor per datagram of the group from its flow, then sends them through the binding. */
  private sendGroup(batch: GuestDatagrams, head: number, now: number): void {
    const s = this.s;
    const c = s.counters.fromGuest;
    const fam = familyOf(batch.families[head] as number) as AddressFamily;
    const srcPort = batch.srcPorts[head] as number;
    const slot = BindingTable.slot(fam, srcPort);
    const sb = this.guestSend;
    sb.slab = batch.slab;
    const next = this.grouper.next;
    const flows = s.flows;
    const addrs = batch.dstAddrs;
    const srcs = batch.srcAddrs;
    const alen = fam.addrLen;

    let m = 0;
    let linkLocal = false;
    let last = head;
    let prev = -1;
    let flow = -1;
    let peerSide = 0;
    for (let i = head; i >= 0; i = next[i] as number) {
      const dstPort = batch.dstPorts[i] as number;
      const at = i * ADDR_STRIDE;
      const same =
        prev >= 0 &&
        flow >= 0 &&
        batch.dstPorts[prev] === dstPort &&
        bytesEqual(addrs, at, addrs, prev * ADDR_STRIDE, alen) &&
        bytesEqual(srcs, at, srcs, prev * ADDR_STRIDE, alen);
      if (!same) {
        const hit = s.lookupGuest(fam, srcs, at, srcPort, addrs, at, dstPort);
        if (hit >= 0) {
          flow = hit >> 1;
          peerSide = 1 - (hit & 1);
        } else {
          const kind = s.addresses.mapDestination(fam, addrs, at, dstPort, now, sb.addrs, m * ADDR_STRIDE);
          if (kind === DestKind.Refused) {
            c.malformed++;
            flow = -1;
            prev = -1;
            continue;
          }
          flow = s.guestFlow(fam, srcs, at, srcPort, addrs, at, dstPort, sb.addrs, m * ADDR_STRIDE, now);
          if (flow < 0) {
            c.capReached++;
            prev = -1;
            continue;
          }
          peerSide = 1;
        }
        flows.touch(flow, now);
      }
      prev = i;
      // The destination is the flow's peer, whichever side started it.
      flows.endAddr(flow, peerSide as 0 | 1, sb.addrs, m * ADDR_STRIDE);
      const ll = fam.isLinkLocal(sb.addrs, m * ADDR_STRIDE);
      if (ll && m === 0) linkLocal = true;
      last = i;
      sb.offsets[m] = batch.payloadOffsets[i] as number;
      sb.lengths[m] = batch.payloadLengths[i] as number;
      sb.families[m] = fam.family;
      sb.ports[m] = flows.endPort(flow, peerSide as 0 | 1);
      sb.scopeIds[m] = ll ? s.settings.scopeId6 : 0;
      m++;
    }
    if (m === 0) return;

    let h = s.bindings.handle[slot] as number;
    if (h === -1) {
      h = this.openBinding(fam, srcPort, linkLocal, now, m);
      if (h === -1) return;
    } else {
      s.bindings.touch(slot, now);
    }
    // A new peer's datagrams to this port go to the address it last sent from.
    copyBytes(s.bindings.guestAddr, slot * ADDR_STRIDE, srcs, last * ADDR_STRIDE, alen);
    s.bindings.guestAddrKnown[slot] = 1;

    let sent = 0;
    try {
      sent = s.sockets.send(h, sb, 0, m);
    } catch (e) {
      s.log.debug(`udp: send from IPv${fam.family} port ${srcPort}: ${errorCode(e)}`);
    }
    let bytes = 0;
    for (let k = 0; k < sent; k++) bytes += sb.lengths[k] as number;
    c.datagrams += sent;
    c.bytes += bytes;
    c.sendError += m - sent;
  }

  /** Opens the binding for (fam, port), evicting at the cap; -1 (and counted drops of `m`) on failure. */
  private openBinding(fam: AddressFamily, port: number, linkLocal: boolean, now: number, m: number): SocketHandle {
    const s = this.s;
    const c = s.counters.fromGuest;
    const lru = s.bindings.lru;
    const max = s.settings.maxBindings;
    if (lru.size >= max) {
      const victim = lru.oldest;
      const idle = victim < 0 ? 0 : now - (lru.lastUsed[victim] as number);
      if (victim < 0 || idle < s.settings.evictMinIdleMs) {
        c.capReached += m;
        this.capLog.report(now, () => `udp: ${max} bindings reached, nothing idle to evict; dropping`);
        return -1;
      }
      s.closeBinding(victim);
      s.counters.events.bindingsEvicted++;
      this.capLog.report(
        now,
        () =>
          `udp: ${max} bindings reached, closed the least recently used ` +
          `(IPv${BindingTable.familyIndexOf(victim) === 0 ? 4 : 6} port ${BindingTable.portOf(victim)}, ` +
          `idle ${Math.round(idle / 1000)} s)`,
      );
    }
    const ll6 = s.settings.hostLinkLocal6;
    const ll = linkLocal && fam.family === 6 && ll6 !== null;
    let h: SocketHandle;
    try {
      h = s.sockets.open({
        family: fam.family,
        side: 'host',
        address: ll ? ll6 : null,
        scopeId: ll ? s.settings.scopeId6 : 0,
        port,
        v6only: true,
        outbound: !ll,
      });
    } catch (e) {
      c.noBinding += m;
      s.counters.events.openErrors++;
      s.log.debug(`udp: cannot bind IPv${fam.family} port ${port}: ${errorCode(e)}`);
      return -1;
    }
    const slot = BindingTable.slot(fam, port);
    s.bindings.setDynamic(slot, h, now);
    s.counters.events.bindingsOpened++;
    s.sockets.watch(h, () => this.drain(fam, port, port, h));
    return h;
  }
}
