/**
 * Theory of operation.
 *
 * No transport core holds a file descriptor. Each asks a `SocketLayer`
 * for datagram sockets (UDP, or unprivileged ICMP echo "ping" sockets) and
 * gets back an opaque number; the embedder (packages/engine)
 * implements the layer with @x/syscalls, and the tests implement it with a
 * fake that records what was bound and sent.
 *
 * The layer is shaped around what the kernel does well: batches. Receiving
 * fills a caller-owned `RecvBatch`: one big slab cut into equal slots, each
 * datagram landing at `slot * slotSize + offset` so that headers can later
 * be written in front of it in place, plus parallel typed arrays for the
 * per-message metadata (length, source family/address/port/scope). Sending
 * takes a `SendBatch`: (offset, length) pairs into one slab and, per
 * message, an optional destination. Both containers are allocated once
 * and reused forever; nothing on the datagram path creates objects.
 *
 * Errors: `open` throws an Error carrying an errno name in `code`
 * (EADDRINUSE, EACCES, EMFILE...); `recv` and `send` return counts, 0
 * meaning "would block", and throw only on real failures, which udp-core
 * catches and counts.
 */
import { ADDR_STRIDE, type Family } from './address.js';

/** Which network namespace a socket lives in: the host's (init) or the guest's (pasta only). */
export type Side = 'host' | 'ns';

/** Opaque socket identifier chosen by the SocketLayer. */
export type SocketHandle = number;

/**
 * Which datagram socket: UDP, or an ICMP echo socket (SOCK_DGRAM with
 * IPPROTO_ICMP/ICMPV6), where the port is the echo identifier and each
 * message starts with the 8-byte echo header.
 */
export type SocketProtocol = 'udp' | 'icmp';

/** What to open: a non-blocking datagram socket, bound, and optionally connected. */
export interface SocketSpec {
  /** Default 'udp'. */
  readonly protocol?: SocketProtocol;
  readonly family: Family;
  readonly side: Side;
  /** Local address (4 or 16 bytes); null or absent binds the wildcard address. */
  readonly address?: Uint8Array | null;
  /** Local port; 0 lets the kernel choose. */
  readonly port: number;
  /** Interface index for a link-local IPv6 local address. */
  readonly scopeId?: number;
  /** IPV6_V6ONLY; udp-core always sets it on IPv6 sockets so each family has its own. */
  readonly v6only?: boolean;
  /** connect() to this peer after binding (splice flows use connected sockets). */
  readonly connect?: { readonly address: Uint8Array; readonly port: number; readonly scopeId?: number };
  /**
   * A host socket for traffic the guest starts (UDP flows, ICMP echo), as
   * opposed to a forwarded port's: the socket layer may bind it to the
   * outbound address and interface (-o, --outbound-if4/6).
   */
  readonly outbound?: boolean;
  /** SO_BINDTODEVICE: a forwarded port limited to one interface (`%IF` in a port spec). */
  readonly interface?: string;
}

/**
 * A reusable recvmmsg() target. Datagram i lands in
 * `slab[i * slotSize + offset, i * slotSize + offset + lengths[i])`; at most
 * `slotSize - offset` bytes are received per datagram.
 */
export interface RecvBatch {
  readonly slab: Uint8Array;
  readonly slotSize: number;
  readonly offset: number;
  /** Number of slots: the most datagrams one `recv` may return. */
  readonly capacity: number;
  readonly lengths: Uint32Array;
  /** Source family per message (4 or 6). */
  readonly families: Uint8Array;
  readonly ports: Uint16Array;
  /** Source addresses, 16 bytes per message; IPv4 uses the first 4. */
  readonly addrs: Uint8Array;
  readonly scopeIds: Uint32Array;
}

/**
 * A reusable sendmmsg() descriptor set. Message i is
 * `slab[offsets[i], offsets[i] + lengths[i])`; when `families[i]` is 4 or 6
 * it goes to (addrs[i*16..], ports[i], scopeIds[i]), when it is 0 the
 * socket must be connected. `slab` is reassigned per call by udp-core (the
 * guest's datagrams live in the engine's receive slab).
 */
export interface SendBatch {
  slab: Uint8Array;
  readonly capacity: number;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly families: Uint8Array;
  readonly ports: Uint16Array;
  readonly addrs: Uint8Array;
  readonly scopeIds: Uint32Array;
}

/** The socket primitives udp-core needs; implemented by the embedder. */
export interface SocketLayer {
  /** Opens, binds and optionally connects a non-blocking UDP socket. Throws an Error with `code` on failure. */
  open(spec: SocketSpec): SocketHandle;
  /** recvmmsg() of up to `max` (<= batch.capacity) datagrams; 0 when nothing is queued. */
  recv(handle: SocketHandle, batch: RecvBatch, max: number): number;
  /** sendmmsg() of messages [first, first + count) of `batch`; returns how many went out, 0 if it would block. */
  send(handle: SocketHandle, batch: SendBatch, first: number, count: number): number;
  /** Calls `onReadable` (level-triggered) whenever the socket has datagrams queued. */
  watch(handle: SocketHandle, onReadable: () => void): void;
  unwatch(handle: SocketHandle): void;
  close(handle: SocketHandle): void;
}

/** Allocates a RecvBatch once; `slotSize` must leave room for the largest datagram after `offset`. */
export function createRecvBatch(capacity: number, slotSize: number, offset: number): RecvBatch {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`recv batch capacity must be >= 1, got ${capacity}`);
  if (offset < 0 || offset >= slotSize) throw new RangeError(`recv offset ${offset} outside slot of ${slotSize}`);
  return {
    slab: new Uint8Array(capacity * slotSize),
    slotSize,
    offset,
    capacity,
    lengths: new Uint32Array(capacity),
    families: new Uint8Array(capacity),
    ports: new Uint16Array(capacity),
    addrs: new Uint8Array(capacity * ADDR_STRIDE),
    scopeIds: new Uint32Array(capacity),
  };
}

/** Allocates a SendBatch once; its slab is set by whoever fills it. */
export function createSendBatch(capacity: number, slab: Uint8Array = new Uint8Array(0)): SendBatch {
  return {
    slab,
    capacity,
    offsets: new Uint32Array(capacity),
    lengths: new Uint32Array(capacity),
    families: new Uint8Array(capacity),
    ports: new Uint16Array(capacity),
    addrs: new Uint8Array(capacity * ADDR_STRIDE),
    scopeIds: new Uint32Array(capacity),
  };
}

/** The errno name of a thrown socket error, or 'EUNKNOWN'. */
export function errorCode(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return 'EUNKNOWN';
}
