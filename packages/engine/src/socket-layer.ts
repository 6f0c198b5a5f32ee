/**
 * The socket layer of the transport cores (@x/flow's SocketLayer), made of
 * real sockets: UDP, and unprivileged ICMP echo ("ping") sockets for the
 * echo handler, which move the same batches.
 *
 * Theory of operation
 *
 * udp-core asks for sockets by (family, side, address, port) and moves
 * datagrams in batches whose metadata lives in parallel typed arrays. The
 * native layer speaks 32-byte records instead. This adapter owns one native
 * RecvBatch/SendBatch pair per slab it has seen, and translates between the
 * two layouts with a loop over the batch: a few typed-array writes per
 * datagram, no allocation, and the payload bytes never move (the native
 * receive lands directly in udp-core's slab).
 *
 * Bursts of equal datagrams to one peer (a guest streaming to one server)
 * go out as one UDP_SEGMENT send when the kernel allows it: the payloads are
 * gathered from the slab by the kernel, cut into datagrams once, and cross
 * the stack as one. Everything else goes out with sendmmsg, in order. A
 * route that refuses segments of some size (its MTU) is remembered, so they
 * are not tried again; a kernel that refuses UDP GSO altogether switches
 * it off.
 *
 * Readiness: every watched socket is in one epoll set of our own, behind
 * one libuv watch (@x/syscalls' EpollSet). A flow's socket then costs one
 * epoll_ctl to watch and one to stop, as in the C implementation, where a
 * libuv poll handle of its own made five and an async context per socket,
 * which made opening a binding three times C's cost. The set is kept only
 * while something is watched, so that, as before, idle sockets alone never
 * keep Node running.
 *
 * Sockets on the "ns" side (pasta's splice into the guest's loopback) are
 * opened on a helper thread that enters the guest's network namespace; the
 * descriptor then works from Node's main thread like any other.
 */
import {
  RecvBatch as NativeRecv,
  SendBatch as NativeSend,
  EpollSet,
  Epoll,
  bind,
  bindToDevice,
  close,
  connect,
  netnsUdpSocket,
  recvmmsg,
  sendmmsg,
  udpSocket,
  formatAddress,
  hasCode,
  pingSocket,
  sendSegments,
  RECORD,
  RecordField,
} from "@x/syscalls";
import type { Family, RecvBatch, SendBatch, SocketHandle, SocketLayer, SocketSpec } from "@x/flow";

const R_LEN = RecordField.LEN;
const R_FAMILY = RecordField.FAMILY;
const R_PORT = RecordField.PORT;
const R_SCOPE = RecordField.SCOPE;
const R_ADDR = RecordField.ADDR;


/** Runs shorter than this go out with sendmmsg: segmenting pays off for bursts. */
const GSO_MIN_RUN = 4;
/** The kernel's limits for one UDP_SEGMENT send. */
const GSO_MAX_SEGMENTS = 64;
const GSO_MAX_BYTES = 65000;

/**
 * How many messages from `i` can go out as one UDP GSO send: the same
 * destination, every one but the last exactly as long as the first, the last
 * no longer, within the kernel's limits. 0 or 1 means "not a run".
 */
function gsoRun(b: SendBatch, i: number, end: number): number {
  const seg = b.lengths[i] as number;
  const fam = b.families[i];
  let bytes = seg;
  let k = i + 1;
  for (; k < end && k - i < GSO_MAX_SEGMENTS; k++) {
    const len = b.lengths[k] as number;
    if (len > seg || bytes + len > GSO_MAX_BYTES) break;
    if (b.families[k] !== fam || b.ports[k] !== b.ports[i] || b.scopeIds[k] !== b.scopeIds[i]) break;
    let same = true;
    for (let a = 0; a < 16 && same; a++) same = b.addrs[k * 16 + a] === b.addrs[i * 16 + a];
    if (!same) break;
    bytes += len;
    if (len < seg) {
      k++;
      break;
    }
  }
  return k - i;
}

/**
 * How host sockets are bound, from the command line: outbound sockets (UDP
 * flows, ICMP echo, TCP connections the guest opens) to -o's address and
 * --outbound-if4/6's interface; forwarded ports with an address, with
 * IP_FREEBIND under --freebind.
 */
export interface HostSocketPolicy {
  outbound4?: Uint8Array;
  outbound6?: Uint8Array;
  outboundIf4?: string;
  outboundIf6?: string;
  freebind?: boolean;
}

/** The outbound interface and source address of one family under `p`, either absent. */
export function outboundOf(p: HostSocketPolicy, family: Family): { device?: string; source?: Uint8Array } {
  const device = family === 4 ? p.outboundIf4 : p.outboundIf6;
  const source = family === 4 ? p.outbound4 : p.outbound6;
  return { ...(device ? { device } : {}), ...(source ? { source } : {}) };
}

export class SyscallSockets implements SocketLayer {
  /** UDP GSO for bursts to one peer; switched off for good if the kernel refuses it. */
  private gso = true;
  /** Segments larger than this were refused (route MTU); they go out with sendmmsg. */
  private gsoMaxSegment = 65507;
  /** How many UDP_SEGMENT sends went out (for tests and counters). */
  gsoSends = 0;
  private set: EpollSet | undefined;
  private readonly onReadable = new Map<SocketHandle, () => void>();
  private closingSet = false;
  private readonly open_ = new Set<SocketHandle>();
  private readonly recvs = new WeakMap<RecvBatch, { native: NativeRecv; view: DataView }>();
  private readonly sends = new WeakMap<SendBatch, NativeSend>();

  /**
   * `nsFd`: the guest's network namespace, for sockets on the "ns" side
   * (pasta only). `policy`: -o, --outbound-if4/6 and --freebind, for host
   * sockets.
   */
  constructor(
    readonly nsFd?: number,
    readonly policy: HostSocketPolicy = {},
  ) {}

  open(spec: SocketSpec): SocketHandle {
    const address = spec.address ? formatAddress(spec.address) : "";
    if (spec.side === "ns") {
      if (this.nsFd === undefined) throw Object.assign(new Error("no guest namespace for an ns-side socket"), { code: "EINVAL" });
      const fd = netnsUdpSocket(this.nsFd, {
        family: spec.family,
        address,
        port: spec.port,
        v6only: spec.family === 6 ? (spec.v6only ?? true) : undefined,
        scopeId: spec.scopeId,
        connectAddress: spec.connect ? formatAddress(spec.connect.address) : undefined,
        connectPort: spec.connect?.port,
      });
      this.open_.add(fd);
      return fd;
    }
    const ping = spec.protocol === "icmp";
    const fd = ping ? pingSocket(spec.family) : udpSocket(spec.family);
    const p = this.policy;
    try {
      let local = address;
      if (spec.interface) bindToDevice(fd, spec.interface);
      if (spec.outbound) {
        const { device, source } = outboundOf(p, spec.family);
        if (device) bindToDevice(fd, device);
        if (source && local === "") local = formatAddress(source);
      }
      bind(fd, spec.family, local, spec.port, {
        // A ping socket is of one family by its protocol: V6ONLY means nothing there.
        v6only: spec.family === 6 && !ping ? (spec.v6only ?? true) : undefined,
        scopeId: spec.scopeId,
        freebind: p.freebind === true && !spec.outbound && local !== "",
      });
      if (spec.connect) connect(fd, spec.family, formatAddress(spec.connect.address), spec.connect.port, spec.connect.scopeId);
    } catch (e) {
      close(fd);
      throw e;
    }
    this.open_.add(fd);
    return fd;
  }

  recv(handle: SocketHandle, batch: RecvBatch, max: number): number {
    let r = this.recvs.get(batch);
    if (!r) {
      // Same slab, slot size and offset: datagrams land where udp-core wants them.
      const native = new NativeRecv(batch.capacity, batch.slotSize, batch.offset, batch.slab);
      r = { native, view: new DataView(native.records.buffer) };
      this.recvs.set(batch, r);
    }
    const n = recvmmsg(handle, r.native, Math.min(max, batch.capacity));
    const v = r.view;
    const records = r.native.records;
    for (let i = 0; i < n; i++) {
      const at = i * RECORD;
      batch.lengths[i] = v.getUint32(at + R_LEN, true);
      batch.families[i] = v.getUint16(at + R_FAMILY, true);
      batch.ports[i] = v.getUint16(at + R_PORT, true);
      batch.scopeIds[i] = v.getUint32(at + R_SCOPE, true);
      for (let k = 0; k < 16; k++) batch.addrs[i * 16 + k] = records[at + R_ADDR + k] as number;
    }
    return n;
  }

  send(handle: SocketHandle, batch: SendBatch, first: number, count: number): number {
    let s = this.sends.get(batch);
    if (!s) {
      s = new NativeSend(batch.capacity);
      this.sends.set(batch, s);
    }
    const end = first + count;
    let done = 0;
    let i = first;
    while (i < end) {
      const run = this.gso && (batch.lengths[i] as number) <= this.gsoMaxSegment ? Math.min(gsoRun(batch, i, end), s.capacity - 1) : 0;
      if (run >= GSO_MIN_RUN) {
        const sent = this.sendRun(handle, batch, s, i, run);
        if (sent > 0) {
          done += sent;
          i += sent;
          continue;
        }
        if (sent === 0) return done; // would block: the rest is the caller's to count
        // sent < 0: the route refused UDP_SEGMENT; sendmmsg from now on.
      }
      // Everything up to the next run worth segmenting goes out with sendmmsg.
      let j = i + 1;
      while (j < end && !(this.gso && (batch.lengths[j] as number) <= this.gsoMaxSegment && gsoRun(batch, j, end) >= GSO_MIN_RUN)) j++;
      s.clear();
      for (let k = i; k < j; k++) {
        s.push(batch.offsets[k] as number, batch.lengths[k] as number, batch.families[k] as 0 | 4 | 6, batch.addrs, batch.ports[k], batch.scopeIds[k], k * 16);
      }
      const n = done === 0 ? sendmmsg(handle, batch.slab, s) : this.sendmmsgQuiet(handle, batch.slab, s);
      done += n;
      if (n < j - i) return done;
      i = j;
    }
    return done;
  }

  /**
   * One UDP_SEGMENT send of messages [i, i+run): returns `run`, 0 if the
   * socket would block, or -1 (GSO now off) if the kernel refused it.
   */
  private sendRun(handle: SocketHandle, batch: SendBatch, s: NativeSend, i: number, run: number): number {
    s.clear();
    for (let k = i; k < i + run; k++) s.push(batch.offsets[k] as number, batch.lengths[k] as number);
    // The destination record of message i, built in slot `run` of the same batch.
    s.count = run;
    s.push(0, 0, batch.families[i] as 0 | 4 | 6, batch.addrs, batch.ports[i], batch.scopeIds[i], i * 16);
    const dest = batch.families[i] === 0 ? undefined : s.records.subarray(run * RECORD, (run + 1) * RECORD);
    try {
      const r = sendSegments(handle, batch.slab, s.desc, run, batch.lengths[i] as number, dest);
      if (r < 0) return 0;
      this.gsoSends++;
      return run;
    } catch (e) {
      // EINVAL: segments too large for the route's MTU; try smaller ones
      // only. Anything else: this kernel or route will not segment for us.
      if (hasCode(e, "EINVAL")) this.gsoMaxSegment = (batch.lengths[i] as number) - 1;
      else this.gso = false;
      return -1;
    }
  }

  /** sendmmsg after some messages already went out: a failure ends the call without losing the count. */
  private sendmmsgQuiet(handle: SocketHandle, slab: Uint8Array, s: NativeSend): number {
    try {
      return sendmmsg(handle, slab, s);
    } catch {
      return 0;
    }
  }

  watch(handle: SocketHandle, onReadable: () => void): void {
    this.unwatch(handle);
    this.set ??= new EpollSet((token) => this.onReadable.get(token)?.());
    this.set.add(handle, Epoll.IN, handle);
    this.onReadable.set(handle, onReadable);
  }

  unwatch(handle: SocketHandle): void {
    if (!this.onReadable.delete(handle)) return;
    this.set?.remove(handle);
    // The last socket gone: the set goes too, but not from inside its own
    // wake-up (a handler may be closing the socket it was called for).
    if (this.onReadable.size === 0 && !this.closingSet) {
      this.closingSet = true;
      setImmediate(() => {
        this.closingSet = false;
        if (this.onReadable.size === 0 && this.set) {
          this.set.close();
          this.set = undefined;
        }
      });
    }
  }

  close(handle: SocketHandle): void {
    this.unwatch(handle);
    if (this.open_.delete(handle)) close(handle);
  }

  /** Closes every socket still open (shutdown). */
  closeAll(): void {
    for (const h of [...this.open_]) this.close(h);
  }

  get openCount(): number {
    return this.open_.size;
  }
}
