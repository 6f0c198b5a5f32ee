/**
 * Theory of operation.
 *
 * A binding is the host socket that stands in for one guest source port:
 * bound to the same port number, so that the remote's reply to that port
 * reaches a socket we read and frame back to the guest. Bindings are keyed
 * by (family, guest port) and created on first use; this table holds their
 * state in flat typed arrays indexed by `slot = family.index * 65536 + port`:
 *
 *   handle[slot]     the socket, or -1
 *   permanent[slot]  1 for the sockets of forwarded ports (-u): opened at
 *                    start-up, never aged or evicted, and used when the
 *                    guest sends from the forward's target port, so its
 *                    replies leave from the port the remote talked to
 *   boundPort[slot]  for a permanent socket, the port it listens on (the
 *                    forward's, which a remap makes differ from the slot's)
 *   guestAddr[slot]  the guest address this port last sent from: a new
 *                    peer's datagrams to it go to exactly that address
 *
 * Dynamic bindings are on an LRU list (aging.ts) that drives both the idle
 * timeout and eviction at the cap. The fixed tables cost about 2.5 MiB and
 * never grow; the number of open sockets is bounded by the cap.
 */
import { ADDR_STRIDE, LruList, type AddressFamily, type SocketHandle } from '@x/flow';

const PORTS = 65536;

export class BindingTable {
  readonly handle = new Int32Array(2 * PORTS).fill(-1);
  readonly permanent = new Uint8Array(2 * PORTS);
  readonly boundPort = new Uint16Array(2 * PORTS);
  readonly guestAddrKnown = new Uint8Array(2 * PORTS);
  readonly guestAddr = new Uint8Array(2 * PORTS * ADDR_STRIDE);
  readonly lru = new LruList(2 * PORTS);

  static slot(fam: AddressFamily, port: number): number {
    return fam.index * PORTS + port;
  }

  static familyIndexOf(slot: number): 0 | 1 {
    return slot >= PORTS ? 1 : 0;
  }

  static portOf(slot: number): number {
    return slot & 0xffff;
  }

  /** Number of dynamic (aged, capped) bindings. */
  get dynamicCount(): number {
    return this.lru.size;
  }

  setPermanent(slot: number, h: SocketHandle, boundPort: number): void {
    this.handle[slot] = h;
    this.permanent[slot] = 1;
    this.boundPort[slot] = boundPort;
  }

  setDynamic(slot: number, h: SocketHandle, now: number): void {
    this.handle[slot] = h;
    this.permanent[slot] = 0;
    this.boundPort[slot] = slot & 0xffff;
    this.lru.touch(slot, now);
  }

  /** Refreshes a dynamic binding's activity time; permanent ones do not age. */
  touch(slot: number, now: number): void {
    if (this.permanent[slot] === 0 && this.handle[slot] !== -1) this.lru.touch(slot, now);
  }

  /** Forgets the slot; returns the socket that was there (to be closed by the caller), or -1. */
  clear(slot: number): SocketHandle {
    const h = this.handle[slot] as number;
    this.handle[slot] = -1;
    this.permanent[slot] = 0;
    this.guestAddrKnown[slot] = 0;
    this.lru.remove(slot);
    return h;
  }
}
