/**
 * Theory of operation.
 *
 * tcp-core holds no file descriptor and makes no system call: it asks a
 * `TcpSocketLayer` for stream sockets and pipes and gets opaque numbers
 * back. The embedder (packages/engine) implements the layer with
 * @x/syscalls; the unit tests implement it with fake sockets whose queues
 * and windows the test drives, under fake time.
 *
 * The calls are shaped around how the translation uses the host socket as
 * its only buffer: data toward the guest is peeked over the payload rooms
 * of several frames at once (`peek`, at an offset the kernel remembers
 * where it can), dropped once the guest acknowledges it (`discard`), and
 * the guest's in-order payloads are written in one gather (`send`), all
 * over caller-owned slabs, so nothing on the data path allocates.
 *
 * Errors: `open`, `listen` and `connect` throw an Error carrying an errno
 * name in `code`; the data calls return -1 for "would block" and 0 for the
 * end of the stream, and throw only for real failures (ECONNRESET...),
 * which the connection turns into a RST toward the guest.
 */
import type { Family, Side } from '@x/flow';

export type TcpHandle = number;

/** Readiness bits, as `watch` reports them. */
export const Ready = {
  READABLE: 1,
  WRITABLE: 2,
  /** The peer shut its sending side or went away (POLLRDHUP). */
  HANGUP: 4,
  /** An error is pending on the socket (EPOLLERR: a refused connect, a reset). */
  ERROR: 8,
  /** Both directions are gone (EPOLLHUP). */
  GONE: 16,
  /** Asked for only: report changes, not levels (edge-triggered). */
  EDGE: 32,
} as const;

/** A connection taken from a listener: its peer, filled in place. */
export class AcceptedPeer {
  family: Family = 4;
  /** 16 bytes; IPv4 uses the first 4. */
  readonly addr = new Uint8Array(16);
  port = 0;
  scopeId = 0;
}

/** Where `info` puts each field of TCP_INFO (-1 when the kernel lacks it). */
export const Info = {
  STATE: 0,
  SND_MSS: 1,
  RCV_MSS: 2,
  SND_WSCALE: 3,
  RCV_WSCALE: 4,
  RTT: 5,
  BYTES_ACKED: 9,
  SND_WND: 13,
  COUNT: 16,
} as const;

export interface ListenSpec {
  readonly family: Family;
  readonly side: Side;
  /** Local address (4 or 16 bytes), or null for the wildcard. */
  readonly address: Uint8Array | null;
  readonly port: number;
  /** Only this interface's traffic (SO_BINDTODEVICE), or null. */
  readonly interface?: string | null;
  readonly backlog?: number;
}

/** The stream-socket primitives tcp-core needs; implemented by the embedder. */
export interface TcpSocketLayer {
  /** Whether the kernel keeps a peek offset for TCP (SO_PEEK_OFF, Linux 6.9). */
  readonly peekOffsetSupported: boolean;
  /** A non-blocking TCP socket on the host, or in the guest's namespace (pasta). */
  open(family: Family, side: Side): TcpHandle;
  /** A bound, listening socket (SO_REUSEADDR, IPV6_V6ONLY). Throws with `code`. */
  listen(spec: ListenSpec): TcpHandle;
  /** One waiting connection into `peer`, or -1 when none is waiting. */
  accept(listener: TcpHandle, peer: AcceptedPeer): TcpHandle;
  /**
   * Starts connecting to addr[at..] (4 or 16 bytes): true when already
   * connected, false when in progress (the socket turns writable when it
   * is done). Throws with `code` (ECONNREFUSED, ENETUNREACH...).
   */
  connect(h: TcpHandle, family: Family, addr: Uint8Array, at: number, port: number, scopeId: number): boolean;
  /** SO_ERROR: how a connect in progress ended (null: it worked). */
  error(h: TcpHandle): string | null;
  /**
   * Peeks over the (offset, length) pieces in `desc` of `slab`; `skip`
   * bytes first when the kernel keeps no peek offset. Bytes placed, 0 at
   * the end of the stream, -1 when nothing new is queued.
   */
  peek(h: TcpHandle, slab: Uint8Array, desc: Uint32Array, count: number, skip: number): number;
  /** Drops `n` bytes the guest acknowledged; bytes dropped. */
  discard(h: TcpHandle, n: number): number;
  /** Writes the (offset, length) pieces in `desc` of `slab`; bytes taken, -1 when none. */
  send(h: TcpHandle, slab: Uint8Array, desc: Uint32Array, count: number): number;
  /** shutdown(SHUT_WR): the guest's FIN. */
  shutdownWrite(h: TcpHandle): void;
  /** Where the next peek starts (SO_PEEK_OFF). */
  setPeekOffset(h: TcpHandle, offset: number): void;
  /** TCP_INFO into `out` (see Info). */
  info(h: TcpHandle, out: Float64Array): void;
  /** Bytes written and not yet acknowledged by the peer (SIOCOUTQ). */
  outQueue(h: TcpHandle): number;
  /** SO_SNDBUF as the kernel reports it. */
  sendBuffer(h: TcpHandle): number;
  /** TCP_MAXSEG before connecting: the guest's MSS. */
  setMaxSeg(h: TcpHandle, mss: number): void;
  /** TCP_MAXSEG of a connected socket. */
  maxSeg(h: TcpHandle): number;
  /** TCP_NODELAY (and TCP_QUICKACK) for spliced sockets. */
  setNoDelay(h: TcpHandle): void;
  /** SO_LINGER 0: the coming close sends a RST. */
  resetOnClose(h: TcpHandle): void;
  /**
   * Readiness for `events` (Ready bits; level-triggered unless EDGE);
   * replaces an earlier watch. Callbacks run in batches: after the last
   * one of a wake-up, the function given to `onBatchEnd` runs.
   */
  watch(h: TcpHandle, events: number, cb: (ready: number) => void): void;
  /** What to run after each batch of readiness callbacks. */
  onBatchEnd(fn: () => void): void;
  /** Changes the events watched (0 pauses). */
  rewatch(h: TcpHandle, events: number): void;
  unwatch(h: TcpHandle): void;
  close(h: TcpHandle): void;
  /** A non-blocking pipe raised to `size` bytes where allowed: [read, write]. */
  pipe(size: number, out: Int32Array): void;
  /** splice() from `from` to `to`: bytes moved, 0 at end of input, -1 would block. */
  splice(from: TcpHandle, to: TcpHandle, n: number, more: boolean): number;
}
