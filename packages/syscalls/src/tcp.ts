/**
 * TCP primitives for the TCP translation layer (design/tcp.md).
 *
 * Theory of operation
 *
 * passt carries each guest connection on an ordinary host socket and keeps
 * no buffer of its own: data toward the guest stays queued in the socket
 * until the guest acknowledges it. So the translator needs to peek at a
 * position (MSG_PEEK, with SO_PEEK_OFF where the kernel has it), drop what
 * was acknowledged without copying (MSG_TRUNC), write a batch of segments
 * in one sendmsg(), and read the socket's own view of the connection
 * (TCP_INFO). Connections between two local sockets move through a pipe
 * with splice(). Each function here is one system call; the policy is the
 * caller's.
 *
 * Conventions of the package hold: descriptors are non-blocking and
 * close-on-exec; failures throw a SyscallError; "would block" is a return
 * value (-1 from byte counts, where 0 is end of stream).
 */
import { native } from "./native.js";
import { guard } from "./errors.js";
import type { Family } from "./batch.js";

/** A connection taken from a listening socket, with its peer's address. */
export interface Accepted {
  /** The new descriptor (non-blocking, close-on-exec), -1 when none was waiting. */
  fd: number;
  /** 4 or 6; 0 when none was waiting. */
  family: Family | 0;
  address: string;
  port: number;
  scopeId: number;
}

/** What `accept4` returns when no connection is waiting (shared, frozen). */
export const NONE_WAITING: Readonly<Accepted> = Object.freeze({ fd: -1, family: 0, address: "", port: 0, scopeId: 0 });

/** The result of a non-blocking connect. */
export type ConnectResult = "connected" | "in-progress";

export type ShutdownHow = "read" | "write" | "both";

/** Kernel TCP states as TCP_INFO reports them (include/net/tcp_states.h). */
export const TcpState = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
} as const;

/**
 * The fields of struct tcp_info a translator uses. A field the kernel's
 * struct is too short to hold is undefined (snd_wnd needs Linux 6.2,
 * rcv_wnd 6.8); `length` says how many bytes the kernel filled.
 */
export interface TcpInfo {
  /** See TcpState. */
  state: number;
  sndMss?: number;
  rcvMss?: number;
  sndWscale?: number;
  rcvWscale?: number;
  /** Smoothed round-trip time, microseconds. */
  rtt?: number;
  rttvar?: number;
  /** Congestion window, in segments. */
  sndCwnd?: number;
  /** Segments sent and not yet acknowledged. */
  unacked?: number;
  /** Bytes the peer has acknowledged (a double: exact below 2^53). */
  bytesAcked?: number;
  bytesReceived?: number;
  /** Bytes written to the socket and not yet sent. */
  notsentBytes?: number;
  /** Minimum round-trip time seen, microseconds. */
  minRtt?: number;
  /** The peer's advertised window after scaling, bytes. */
  sndWnd?: number;
  /** Our advertised window after scaling, bytes. */
  rcvWnd?: number;
  length: number;
}

/** A TCP socket, the host side of one translated connection or a listener. */
export function tcpSocket(family: Family): number {
  return guard(() => native.tcpSocket(family));
}

/** Marks a bound TCP socket as listening, for forwarded ports (-t/-T). */
export function listen(fd: number, backlog = 128): void {
  guard(() => native.listen(fd, backlog));
}

/**
 * Takes one waiting connection with the peer's address, which decides how
 * it is carried (spliced when local, through the tap otherwise). Returns
 * NONE_WAITING (fd -1) when nothing is waiting.
 */
export function accept4(fd: number): Accepted {
  const a = guard(() => native.accept4(fd));
  return a ? (a as Accepted) : NONE_WAITING;
}

/**
 * Starts a connection for a guest's SYN without waiting: "in-progress"
 * means the socket turns writable when the handshake ends, and
 * `socketError` then says whether it worked. Other failures throw.
 */
export function tcpConnect(fd: number, family: Family, address: string, port: number, scopeId?: number): ConnectResult {
  return guard(() => native.tcpConnect(fd, family, address, port, scopeId)) as ConnectResult;
}

/**
 * SO_ERROR, which reading also clears: the pending error's errno name
 * ("ECONNREFUSED"...), or null. How a finished non-blocking connect reports.
 */
export function socketError(fd: number): string | null {
  return guard(() => native.socketError(fd)) ?? null;
}

/**
 * Peeks queued data into buf[offset, offset+length) without consuming it:
 * the socket is the translator's send buffer. With SO_PEEK_OFF set, the
 * kernel starts at its peek offset; without it, pass `peekOffset` (the
 * bytes already in flight) and those are skipped through a scratch area.
 * Returns the bytes placed in `buf`, 0 at end of stream, -1 when it would
 * block. The two ways differ at an end of stream behind in-flight data:
 * at the kernel's peek offset it reads 0, but with `peekOffset` covering
 * everything queued it reads -1 (nothing new), and the end shows only in
 * tcpInfo's state (CLOSE_WAIT) or as a hang-up.
 */
export function recvPeek(fd: number, buf: Uint8Array, offset = 0, length = buf.length - offset, peekOffset?: number): number {
  return guard(() => native.recvPeek(fd, buf, offset, length, peekOffset));
}

/**
 * Drops up to `length` queued bytes without copying them (MSG_TRUNC), once
 * the guest has acknowledged them. Moves SO_PEEK_OFF back by as much.
 * Returns the bytes dropped, 0 at end of stream, -1 when nothing is queued.
 */
export function recvDiscard(fd: number, length: number): number {
  return guard(() => native.recvDiscard(fd, length));
}

/**
 * Writes the in-order payload of a batch of guest segments with one
 * sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT); what the socket does not take is
 * left unacknowledged. Returns bytes sent, -1 when it would block.
 */
export function sendParts(fd: number, parts: Uint8Array[]): number {
  return guard(() => native.sendmsg(fd, parts));
}

/** shutdown(): "write" carries a guest's FIN to the socket. */
export function shutdown(fd: number, how: ShutdownHow): void {
  guard(() => native.shutdown(fd, how));
}

/**
 * SO_PEEK_OFF: where the next peek starts, so the kernel skips data in
 * flight (0 when established and on retransmission; -1 turns it off).
 */
export function setPeekOffset(fd: number, offset: number): void {
  guard(() => native.setPeekOffset(fd, offset));
}

let peekOffsetProbe: boolean | undefined;

/**
 * Whether this kernel takes SO_PEEK_OFF on TCP sockets (Linux 6.9 and
 * later), probed once on a fresh socket and remembered: without it,
 * recvPeek's `peekOffset` does the skipping.
 */
export function peekOffsetSupported(): boolean {
  peekOffsetProbe ??= guard(() => native.peekOffsetSupported());
  return peekOffsetProbe;
}

/** TCP_NODELAY: spliced and interactive connections send at once. */
export function setNoDelay(fd: number, on = true): void {
  guard(() => native.setNoDelay(fd, on));
}

/** TCP_QUICKACK: acknowledge at once (the kernel clears it again by itself). */
export function setQuickAck(fd: number, on = true): void {
  guard(() => native.setQuickAck(fd, on));
}

/** TCP_MAXSEG: the socket's MSS, to offer the guest. */
export function getMaxSeg(fd: number): number {
  return guard(() => native.getMaxSeg(fd));
}

/** TCP_MAXSEG: sets the socket's MSS from the guest's (before connect). */
export function setMaxSeg(fd: number, mss: number): void {
  guard(() => native.setMaxSeg(fd, mss));
}

/** SO_RCVBUF as the kernel reports it (twice what was set, with overhead). */
export function getRcvBuf(fd: number): number {
  return guard(() => native.getRcvBuf(fd));
}

/** SO_SNDBUF as the kernel reports it; bounds the window offered to the guest. */
export function getSndBuf(fd: number): number {
  return guard(() => native.getSndBuf(fd));
}

/** SO_RCVBUF (the kernel doubles it, capped by net.core.rmem_max). */
export function setRcvBuf(fd: number, bytes: number): void {
  guard(() => native.setRcvBuf(fd, bytes));
}

/** SO_SNDBUF (the kernel doubles it, capped by net.core.wmem_max). */
export function setSndBuf(fd: number, bytes: number): void {
  guard(() => native.setSndBuf(fd, bytes));
}

/**
 * TCP_INFO: the socket's state, MSS, window scales, RTT and byte counters,
 * which the translator mirrors toward the guest (acknowledging what the
 * peer acknowledged, advertising the peer's window).
 */
export function tcpInfo(fd: number): TcpInfo {
  return guard(() => native.tcpInfo(fd)) as TcpInfo;
}

/** A non-blocking, close-on-exec pipe for splicing, [read end, write end]. */
export function pipe2(): [number, number] {
  const p = guard(() => native.pipe2());
  return [p[0] as number, p[1] as number];
}

/** F_SETPIPE_SZ: raises a splice pipe's capacity; returns the size set. */
export function setPipeSize(fd: number, bytes: number): number {
  return guard(() => native.setPipeSize(fd, bytes));
}

/**
 * splice() between a socket and a pipe without copying through user space,
 * for local connections carried socket -> pipe -> socket. `more` hints that
 * more data follows (SPLICE_F_MORE). Bytes moved, 0 at end of input, -1
 * when it would block.
 */
export function splice(fdIn: number, fdOut: number, length: number, more = false): number {
  return guard(() => native.splice(fdIn, fdOut, length, more));
}

/**
 * Peeks queued data over `count` (offset, length) pieces of `slab` in one
 * recvmsg: each piece is the payload room of one frame for the guest, so
 * the data lands behind the headers written in front of it afterwards.
 * `skip` bytes are peeked into a scratch area first (no SO_PEEK_OFF: the
 * bytes in flight). Bytes placed in the pieces, 0 at end of stream, -1 when
 * it would block or everything queued lies within `skip`.
 */
export function recvPeekPieces(fd: number, slab: Uint8Array, desc: Uint32Array, count: number, skip = 0): number {
  return guard(() => native.recvPeekPieces(fd, slab, desc, count, skip));
}

/**
 * Writes `count` (offset, length) pieces of `slab` with one sendmsg
 * (MSG_NOSIGNAL | MSG_DONTWAIT): the payloads of a batch of guest segments
 * where they were received. Bytes taken, -1 when it would block.
 */
export function sendPieces(fd: number, slab: Uint8Array, desc: Uint32Array, count: number): number {
  return guard(() => native.sendPieces(fd, slab, desc, count));
}

/**
 * Where `tcpInfoInto` puts each field in its Float64Array (-1: the
 * kernel's struct is too short for it). Kept in step with SLOTS in tcp.rs.
 */
export const TcpInfoSlot = {
  STATE: 0,
  SND_MSS: 1,
  RCV_MSS: 2,
  SND_WSCALE: 3,
  RCV_WSCALE: 4,
  RTT: 5,
  RTTVAR: 6,
  SND_CWND: 7,
  UNACKED: 8,
  BYTES_ACKED: 9,
  BYTES_RECEIVED: 10,
  NOTSENT: 11,
  MIN_RTT: 12,
  SND_WND: 13,
  RCV_WND: 14,
  LENGTH: 15,
  COUNT: 16,
} as const;

/**
 * TCP_INFO into a reusable Float64Array of TcpInfoSlot.COUNT slots, for
 * reads on the data path that must not allocate. Returns the length the
 * kernel filled.
 */
export function tcpInfoInto(fd: number, out: Float64Array): number {
  return guard(() => native.tcpInfoInto(fd, out));
}

/** SIOCOUTQ: bytes written and not yet acknowledged by the peer. */
export function outQueue(fd: number): number {
  return guard(() => native.outQueue(fd));
}

/** SIOCINQ: bytes queued for reading. */
export function inQueue(fd: number): number {
  return guard(() => native.inQueue(fd));
}

/** SO_LINGER 0: close() then sends a RST, which carries a guest's RST to the peer. */
export function setLingerZero(fd: number): void {
  guard(() => native.setLingerZero(fd));
}

/** SO_REUSEADDR, for the listeners of forwarded ports. */
export function setReuseAddr(fd: number, on = true): void {
  guard(() => native.setReuseAddr(fd, on));
}

/** SO_BINDTODEVICE: listen on one interface only (a forward spec's `%IFNAME`). */
export function bindToDevice(fd: number, name: string): void {
  guard(() => native.bindToDevice(fd, name));
}
