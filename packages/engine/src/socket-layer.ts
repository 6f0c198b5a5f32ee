/**
 * The socket layer of @x/udp-core, made of real sockets.
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
 * Sockets on the "ns" side (pasta's splice into the guest's loopback) are
 * opened on a helper thread that enters the guest's network namespace; the
 * descriptor then works from Node's main thread like any other.
 */
import {
  RecvBatch as NativeRecv,
  SendBatch as NativeSend,
  Watcher,
  READABLE,
  bind,
  close,
  connect,
  netnsUdpSocket,
  recvmmsg,
  sendmmsg,
  udpSocket,
  formatAddress,
  RECORD,
} from "@x/syscalls";
import type { RecvBatch, SendBatch, SocketHandle, SocketLayer, SocketSpec } from "@x/udp-core";

const R_LEN = 0;
const R_FAMILY = 4;
const R_PORT = 6;
const R_SCOPE = 8;
const R_ADDR = 12;


export class SyscallSockets implements SocketLayer {
  private readonly watchers = new Map<SocketHandle, Watcher>();
  private readonly open_ = new Set<SocketHandle>();
  private readonly recvs = new WeakMap<RecvBatch, { native: NativeRecv; view: DataView }>();
  private readonly sends = new WeakMap<SendBatch, NativeSend>();

  /** `nsFd`: the guest's network namespace, for sockets on the "ns" side (pasta only). */
  constructor(private readonly nsFd?: number) {}

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
    const fd = udpSocket(spec.family);
    try {
      bind(fd, spec.family, address, spec.port, {
        v6only: spec.family === 6 ? (spec.v6only ?? true) : undefined,
        scopeId: spec.scopeId,
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
    s.clear();
    for (let i = first; i < first + count; i++) {
      const fam = batch.families[i] as 0 | 4 | 6;
      s.push(batch.offsets[i] as number, batch.lengths[i] as number, fam, batch.addrs, batch.ports[i], batch.scopeIds[i], i * 16);
    }
    return sendmmsg(handle, batch.slab, s);
  }

  watch(handle: SocketHandle, onReadable: () => void): void {
    this.unwatch(handle);
    this.watchers.set(handle, new Watcher(handle, READABLE, onReadable));
  }

  unwatch(handle: SocketHandle): void {
    const w = this.watchers.get(handle);
    if (w) {
      w.close();
      this.watchers.delete(handle);
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
