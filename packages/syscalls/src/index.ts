/**
 * @x/syscalls: the Linux system calls passt and pasta need, typed.
 *
 * Theory of operation
 *
 * The Rust crate (crates/syscalls) makes system calls and nothing else; this
 * module gives them TypeScript types and a few reusable objects (batches,
 * watchers) so that callers never handle raw records. Descriptors are plain
 * numbers, as in Node's fs module: whoever opens one closes it.
 *
 * Three conventions hold everywhere:
 * - A failure throws a SyscallError: `code` is the errno name, `syscall` the
 *   call, and the message says on what it failed.
 * - "Would block" is a return value: 0 from batch calls (nothing moved), -1
 *   from byte-count calls (where 0 means end of stream).
 * - Nothing here blocks Node's event loop: sockets are non-blocking, work in
 *   another network namespace runs on a short-lived thread, and waiting for a
 *   child runs on libuv's pool.
 */
import { native } from "./native.js";
import { decorate, guard } from "./errors.js";
import { RECORD, type RecvBatch, type SendBatch, type Family } from "./batch.js";
import type { BindOptions, SocketName, Tap, TapOptions } from "./types.js";

export type { BindOptions, SocketName, Tap, TapOptions } from "./types.js";

export { RecvBatch, SendBatch, formatAddress, MAX_BATCH, RECORD, RecordField, type Family } from "./batch.js";
export { isSyscallError, hasCode, guard, type SyscallError } from "./errors.js";
export { Watcher, READABLE, WRITABLE, HANGUP, type WatchCallback } from "./watcher.js";
export { EpollSet, Epoll, type EpollHandler } from "./epoll.js";
export {
  tcpSocket,
  listen,
  accept4,
  tcpConnect,
  socketError,
  recvPeek,
  recvDiscard,
  sendParts,
  shutdown,
  setPeekOffset,
  peekOffsetSupported,
  setNoDelay,
  setQuickAck,
  getMaxSeg,
  setMaxSeg,
  getRcvBuf,
  getSndBuf,
  setRcvBuf,
  setSndBuf,
  tcpInfo,
  tcpInfoInto,
  TcpInfoSlot,
  recvPeekPieces,
  sendPieces,
  outQueue,
  inQueue,
  setLingerZero,
  setReuseAddr,
  bindToDevice,
  pipe2,
  setPipeSize,
  splice,
  NONE_WAITING,
  TcpState,
  type Accepted,
  type ConnectResult,
  type ShutdownHow,
  type TcpInfo,
} from "./tcp.js";
export {
  spawn,
  waitPid,
  pipe,
  openNamespace,
  namespacePath,
  createNetns,
  netnsOpenTap,
  netnsUdpSocket,
  netnsNetlinkSocket,
  netnsTcpSocket,
  netnsTcpSockets,
  netnsLinkUp,
  netnsWriteFile,
  netnsReadFiles,
  type SpawnOptions,
  type ExitStatus,
  type NamespaceKind,
  type NsUdpOptions,
} from "./namespaces.js";

/** A non-blocking, close-on-exec UDP socket. */
export function udpSocket(family: Family): number {
  return guard(() => native.udpSocket(family));
}

/**
 * A non-blocking, close-on-exec ICMP echo ("ping") socket: SOCK_DGRAM with
 * IPPROTO_ICMP (family 4) or IPPROTO_ICMPV6 (family 6), which needs no
 * privilege but a group in `net.ipv4.ping_group_range` (that one sysctl
 * governs both families, root included); outside it the call throws EACCES,
 * as it does in a new network namespace, whose range is "1 0".
 *
 * The datagram calls work on it as on UDP: `bind`'s port is the echo
 * identifier (0: the kernel picks one, as it does on the first send when
 * unbound) and `getsockname` reports it; `sendmmsg` sends messages that
 * start with the 8-byte echo request header to destination records whose
 * port is 0, and the kernel rewrites the identifier and checksum; `recvmmsg`
 * gives each echo reply's ICMP header and data (no IP header), the source in
 * its record with port 0.
 *
 * Do not count on EADDRINUSE to keep identifiers apart: on Linux 6.18 a
 * second ping socket may bind an identifier another one holds, and the one
 * bound last then receives every reply for it.
 */
export function pingSocket(family: Family): number {
  return guard(() => native.pingSocket(family));
}

/** Binds `fd`; an empty address is the wildcard. */
export function bind(fd: number, family: Family, address: string, port: number, options?: BindOptions): void {
  const o = options ? { v6Only: options.v6only, reuseAddr: options.reuseAddr, scopeId: options.scopeId, freebind: options.freebind } : undefined;
  guard(() => native.bind(fd, family, address, port, o));
}

export function connect(fd: number, family: Family, address: string, port: number, scopeId?: number): void {
  guard(() => native.connect(fd, family, address, port, scopeId));
}

export function getsockname(fd: number): SocketName {
  return guard(() => native.getsockname(fd)) as SocketName;
}

export function setBufferSizes(fd: number, rcvbuf: number, sndbuf: number): void {
  guard(() => native.setBufferSizes(fd, rcvbuf, sndbuf));
}

/**
 * Grows the process's descriptor table to `count` entries at once, so that
 * opening a socket per flow never waits for the kernel to grow a table that
 * Node's threads share (an RCU grace period per doubling). `background`:
 * on a thread of its own, returning at once.
 */
export function reserveDescriptors(count: number, background = true): void {
  guard(() => native.reserveDescriptors(count, background));
}

export function close(fd: number): void {
  guard(() => native.close(fd));
}

/**
 * Receives up to `max` datagrams into `batch` and sets `batch.count`.
 * Returns the count: 0 when nothing is waiting.
 */
export function recvmmsg(fd: number, batch: RecvBatch, max: number = batch.capacity): number {
  let n: number;
  try {
    n = native.recvmmsg(fd, batch.slab, batch.slotSize, batch.offset, Math.min(max, batch.capacity), batch.records);
  } catch (e) {
    throw decorate(e);
  }
  batch.count = n;
  return n;
}

/**
 * Sends messages [from, batch.count) of `batch`, whose offsets point into
 * `slab`. Returns how many went out (0 when the socket would block); throws
 * only when the first of them fails, so a caller can drop that one and go on.
 */
export function sendmmsg(fd: number, slab: Uint8Array, batch: SendBatch, from = 0): number {
  const n = batch.count - from;
  if (n <= 0) return 0;
  const desc = from === 0 ? batch.desc : batch.desc.subarray(2 * from);
  const recs = batch.addressed ? (from === 0 ? batch.records : batch.records.subarray(from * RECORD)) : null;
  try {
    return native.sendmmsg(fd, slab, desc, n, recs);
  } catch (e) {
    throw decorate(e);
  }
}

/**
 * Sends `count` pieces of `slab`, (offset, length) pairs in `desc`, as
 * datagrams of `segment` bytes in one sendmsg() with UDP_SEGMENT (UDP GSO):
 * the kernel gathers the pieces and cuts them, so a burst to one peer
 * crosses the network stack once. All pieces but the last are exactly
 * `segment` bytes; at most 128 pieces and 65000 bytes. `dest` is a 32-byte
 * destination record (see SendBatch), absent on a connected socket.
 * Returns the bytes sent; -1 would block.
 */
export function sendSegments(fd: number, slab: Uint8Array, desc: Uint32Array, count: number, segment: number, dest?: Uint8Array): number {
  try {
    return native.sendSegments(fd, slab, desc, count, segment, dest);
  } catch (e) {
    throw decorate(e);
  }
}

/** Bytes read into buf[offset, offset+length); 0 at end of stream; -1 would block. */
export function read(fd: number, buf: Uint8Array, offset = 0, length = buf.length - offset): number {
  return guard(() => native.read(fd, buf, offset, length));
}

/** Bytes written from buf[offset, offset+length); -1 would block. */
export function write(fd: number, buf: Uint8Array, offset = 0, length = buf.length - offset): number {
  return guard(() => native.write(fd, buf, offset, length));
}

/** One writev() of the parts in order: bytes written; -1 would block. */
export function writev(fd: number, parts: Uint8Array[]): number {
  return guard(() => native.writev(fd, parts));
}

/** One sendmsg() of the parts on a socket, never raising SIGPIPE: bytes sent; -1 would block. */
export function sendmsg(fd: number, parts: Uint8Array[]): number {
  return guard(() => native.sendmsg(fd, parts));
}

/**
 * Reads up to `max` frames (one read() each, as a tap gives them) into slot i
 * of `slab` at `offset`; lengths[i] gets each length. Returns the count.
 * `skip` leading bytes of every frame (a tap's virtio-net header, see
 * TapOptions.vnetHdr) are dropped before the slot; a frame shorter than
 * that reads as length 0.
 */
export function readBatch(
  fd: number,
  slab: Uint8Array,
  slotSize: number,
  offset: number,
  max: number,
  lengths: Uint32Array,
  skip = 0,
): number {
  try {
    return native.readBatch(fd, slab, slotSize, offset, max, lengths, skip);
  } catch (e) {
    throw decorate(e);
  }
}

/**
 * Reads up to `max` frames (one read() each) packed one after another in
 * `slab`: frame i at offsets[i], `headroom` bytes after the previous frame's
 * end rounded up to 64, with lengths[i] its length. Each read is offered
 * `room` bytes, so the batch ends when less than that is left. `skip` is as
 * for readBatch. Returns the count.
 */
export function readPacked(
  fd: number,
  slab: Uint8Array,
  room: number,
  headroom: number,
  max: number,
  offsets: Uint32Array,
  lengths: Uint32Array,
  skip = 0,
): number {
  try {
    return native.readPacked(fd, slab, room, headroom, max, offsets, lengths, skip);
  } catch (e) {
    throw decorate(e);
  }
}

/**
 * Writes `count` frames given as (offset, length) pairs in `desc`. Returns
 * how many went out. With `prefix`, each frame goes out as prefix + frame
 * (a tap's virtio-net header), at most 64 bytes.
 */
export function writeBatch(fd: number, slab: Uint8Array, desc: Uint32Array, count: number, prefix?: Uint8Array): number {
  try {
    return native.writeBatch(fd, slab, desc, count, prefix);
  } catch (e) {
    throw decorate(e);
  }
}

/**
 * One writev() of `prefix` and then the `count` slab ranges in `desc`
 * ((offset, length) pairs, 1 to 1023): a tap with a virtio-net header takes
 * a whole UDP burst this way as one segmentation-offload frame, payloads
 * gathered from where they were received. Bytes written; -1 would block.
 */
export function writeGather(fd: number, prefix: Uint8Array, slab: Uint8Array, desc: Uint32Array, count: number): number {
  try {
    return native.writeGather(fd, prefix, slab, desc, count);
  } catch (e) {
    throw decorate(e);
  }
}

/**
 * Takes over a connected stream socket opened by someone else (passt --fd):
 * throws ENOTSOCK or EPROTOTYPE unless it is one, and makes it non-blocking.
 */
export function adoptStreamSocket(fd: number): void {
  guard(() => native.adoptStreamSocket(fd));
}

/** A listening UNIX stream socket at `path`. */
export function unixListen(path: string, backlog = 1): number {
  return guard(() => native.unixListen(path, backlog));
}

/** A connected UNIX stream socket (non-blocking after the connect). */
export function unixConnect(path: string): number {
  return guard(() => native.unixConnect(path));
}

/** A non-blocking UNIX datagram socket connected to `path` (the system logger's /dev/log). */
export function unixDgramConnect(path: string): number {
  return guard(() => native.unixDgramConnect(path));
}

/** A new connection's fd, or -1 when none is waiting. */
export function accept(fd: number): number {
  return guard(() => native.accept(fd));
}

/** An rtnetlink socket in Node's own network namespace. */
export function netlinkSocket(): number {
  return guard(() => native.netlinkSocket());
}

/** A tap device in Node's own network namespace (root, or pasta's own namespace helper). */
export function openTap(options?: TapOptions): Tap {
  return guard(() => native.openTap(options));
}

export function linkUp(name: string): void {
  guard(() => native.linkUp(name));
}
