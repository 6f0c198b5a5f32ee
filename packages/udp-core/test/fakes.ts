// Test doubles: a socket layer that keeps datagrams in memory, a clock that
// only moves when told, a logger that records, and frame helpers that lean
// on @x/l2 to build guest frames and to parse ours back (checksums checked).
import {
  EthernetFrame,
  isWireError,
  parseEthernet,
  parseIp,
  parseUdpBytes,
  internetChecksum,
  checksumCombine,
  checksumFinish,
  checksumPartial,
  pseudoHeaderSum,
  set16,
  formatIpAddr,
  parseIpAddr,
  type WireError,
} from '@x/l2';
import {
  ADDR_STRIDE,
  createCounters,
  type Clock,
  type FrameSink,
  type Logger,
  type RecvBatch,
  type SendBatch,
  type SocketHandle,
  type SocketLayer,
  type SocketSpec,
  type TimerHandle,
} from '../src/index.js';

export function ip(text: string): Uint8Array {
  const a = parseIpAddr(text);
  if (isWireError(a)) throw new Error(`bad address ${text}`);
  return a;
}

export interface Datagram {
  data: Uint8Array;
  family: 4 | 6;
  addr: string;
  port: number;
  scopeId: number;
}

export interface FakeSocket {
  handle: SocketHandle;
  spec: SocketSpec;
  localPort: number;
  inbox: Datagram[];
  sent: Datagram[];
  onReadable: (() => void) | undefined;
  closed: boolean;
}

function errno(code: string): Error {
  return Object.assign(new Error(code), { code });
}

export class FakeSockets implements SocketLayer {
  readonly all: FakeSocket[] = [];
  private nextHandle = 100;
  private nextEphemeral = 40000;
  /** Error codes the next open() calls throw, in order. */
  failOpens: string[] = [];
  /** When set, send() accepts at most this many messages per call. */
  sendLimit: number | undefined;
  /** Number of send() calls, to check batching. */
  sendCalls = 0;
  /** The `max` of every recv call, in order. */
  recvAsked: number[] = [];

  open(spec: SocketSpec): SocketHandle {
    const fail = this.failOpens.shift();
    if (fail) throw errno(fail);
    const port = spec.port === 0 ? this.nextEphemeral++ : spec.port;
    const addr = spec.address ? formatIpAddr(spec.address) : '*';
    for (const s of this.live()) {
      if (s.spec.side !== spec.side || s.spec.family !== spec.family || s.localPort !== port) continue;
      const other = s.spec.address ? formatIpAddr(s.spec.address) : '*';
      if (other === '*' || addr === '*' || other === addr) throw errno('EADDRINUSE');
    }
    const s: FakeSocket = {
      handle: this.nextHandle++,
      spec,
      localPort: port,
      inbox: [],
      sent: [],
      onReadable: undefined,
      closed: false,
    };
    this.all.push(s);
    return s.handle;
  }

  live(): FakeSocket[] {
    return this.all.filter((s) => !s.closed);
  }

  get(h: SocketHandle): FakeSocket {
    const s = this.all.find((x) => x.handle === h);
    if (!s || s.closed) throw errno('EBADF');
    return s;
  }

  /** The live socket on (side, family, port), or undefined. */
  find(side: 'host' | 'ns', family: 4 | 6, port: number, address?: string): FakeSocket | undefined {
    return this.live().find(
      (s) =>
        s.spec.side === side &&
        s.spec.family === family &&
        s.localPort === port &&
        (address === undefined || (s.spec.address ? formatIpAddr(s.spec.address) : '*') === address),
    );
  }

  recv(h: SocketHandle, b: RecvBatch, max: number): number {
    const s = this.get(h);
    this.recvAsked.push(max);
    let n = 0;
    while (n < max && n < b.capacity && s.inbox.length > 0) {
      const d = s.inbox.shift() as Datagram;
      const room = b.slotSize - b.offset;
      const len = Math.min(room, d.data.length);
      b.slab.set(d.data.subarray(0, len), n * b.slotSize + b.offset);
      b.lengths[n] = len;
      b.families[n] = d.family;
      b.ports[n] = d.port;
      b.addrs.fill(0, n * ADDR_STRIDE, (n + 1) * ADDR_STRIDE);
      b.addrs.set(ip(d.addr), n * ADDR_STRIDE);
      b.scopeIds[n] = d.scopeId;
      n++;
    }
    return n;
  }

  send(h: SocketHandle, b: SendBatch, first: number, count: number): number {
    const s = this.get(h);
    this.sendCalls++;
    const n = this.sendLimit === undefined ? count : Math.min(count, this.sendLimit);
    for (let i = first; i < first + n; i++) {
      const off = b.offsets[i] as number;
      const len = b.lengths[i] as number;
      const fam = b.families[i] as number;
      let addr = '';
      if (fam === 4 || fam === 6) {
        addr = formatIpAddr(b.addrs.slice(i * ADDR_STRIDE, i * ADDR_STRIDE + (fam === 4 ? 4 : 16)));
      } else if (s.spec.connect) {
        addr = formatIpAddr(s.spec.connect.address);
      }
      s.sent.push({
        data: b.slab.slice(off, off + len),
        family: (fam === 0 ? s.spec.family : fam) as 4 | 6,
        addr,
        port: fam === 0 ? (s.spec.connect?.port ?? 0) : (b.ports[i] as number),
        scopeId: b.scopeIds[i] as number,
      });
    }
    return n;
  }

  watch(h: SocketHandle, onReadable: () => void): void {
    this.get(h).onReadable = onReadable;
  }

  unwatch(h: SocketHandle): void {
    this.get(h).onReadable = undefined;
  }

  close(h: SocketHandle): void {
    this.get(h).closed = true;
  }

  /** Queues datagrams on a socket and fires its readiness callback, as the event loop would. */
  deliver(s: FakeSocket, from: string, port: number, ...payloads: (string | Uint8Array)[]): void {
    const a = ip(from);
    for (const p of payloads) {
      const data = typeof p === 'string' ? new TextEncoder().encode(p) : p;
      s.inbox.push({ data, family: a.length === 4 ? 4 : 6, addr: formatIpAddr(a), port, scopeId: 0 });
    }
    while (s.inbox.length > 0 && s.onReadable && !s.closed) {
      const before = s.inbox.length;
      s.onReadable();
      if (s.inbox.length === before) break;
    }
  }
}

export class FakeClock implements Clock {
  t = 1_000_000;
  private timers: { every: number; due: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  every(ms: number, fn: () => void): TimerHandle {
    const timer = { every: ms, due: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }
  /** Moves time forward, firing timers as they fall due. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live).sort((a, b) => a.due - b.due)[0];
      if (!next || next.due > end) break;
      this.t = next.due;
      next.due += next.every;
      next.fn();
    }
    this.t = end;
  }
}

export class RecordingLogger implements Logger {
  lines: string[] = [];
  debug(m: string): void {
    this.lines.push(`debug: ${m}`);
  }
  info(m: string): void {
    this.lines.push(`info: ${m}`);
  }
  warn(m: string): void {
    this.lines.push(`warn: ${m}`);
  }
}

export interface ParsedFrame {
  dstMac: Uint8Array;
  srcMac: Uint8Array;
  family: 4 | 6;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: string;
  udpChecksum: number;
  frame: Uint8Array;
}

function ok<T>(x: T | WireError, what: string): T {
  if (isWireError(x)) throw new Error(`${what}: ${x.kind}: ${x.what}`);
  return x;
}

/** Takes a frame apart with @x/l2, verifying the IPv4 header and UDP checksums. */
export function parseFrame(frame: Uint8Array): ParsedFrame {
  const eth = ok(parseEthernet(ok(EthernetFrame.checked(frame), 'ethernet')), 'ethernet');
  const ipr = ok(parseIp(eth.payload, true), 'ip');
  if ((ipr.version === 4 ? ipr.protocol : ipr.nextHeader) !== 17) throw new Error('not UDP');
  const udp = ok(parseUdpBytes(ipr.payload, ipr.src, ipr.dst, true), 'udp');
  return {
    dstMac: eth.dst.slice(),
    srcMac: eth.src.slice(),
    family: ipr.version,
    src: formatIpAddr(ipr.src),
    dst: formatIpAddr(ipr.dst),
    srcPort: udp.srcPort,
    dstPort: udp.dstPort,
    payload: new TextDecoder().decode(udp.payload),
    udpChecksum: (ipr.payload[6]! << 8) | ipr.payload[7]!,
    frame: frame.slice(),
  };
}

export class CapturingSink implements FrameSink {
  frames: ParsedFrame[] = [];
  accept = Infinity;
  sendFrames(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    const n = Math.min(count, this.accept);
    for (let i = 0; i < n; i++) {
      const o = offsets[i]!;
      this.frames.push(parseFrame(slab.subarray(o, o + lengths[i]!)));
    }
    return n;
  }
}

/**
 * A sink that can segment, doing in TypeScript what Linux does with a UDP
 * segmentation-offload frame written to a tap: it checks the run's headers
 * (lengths over the whole run, the UDP field holding the pseudo-header sum
 * for the kernel to finish), then cuts one frame per payload with its own
 * lengths, IPv4 identification and checksums, and records them like
 * CapturingSink. `mode` makes it refuse runs or say it cannot segment.
 */
export class SegmentingSink extends CapturingSink {
  runs: number[] = [];
  mode: 'segment' | 'refuse' | 'unsupported' = 'segment';
  sendSegmented(slab: Uint8Array, desc: Uint32Array, count: number, segment: number, ipHeaderLen: number): number {
    if (this.mode === 'unsupported') return -1;
    if (this.mode === 'refuse') return 0;
    const hl = 14 + ipHeaderLen + 8;
    const head = slab.slice(desc[0]!, desc[0]! + hl);
    const payloads = [slab.subarray(desc[0]! + hl, desc[0]! + desc[1]!)];
    for (let k = 1; k < count; k++) payloads.push(slab.subarray(desc[2 * k]!, desc[2 * k]! + desc[2 * k + 1]!));
    const total = payloads.reduce((a, p) => a + p.length, 0);
    payloads.forEach((p, k) => {
      if (k < count - 1 ? p.length !== segment : p.length > segment) throw new Error(`payload ${k} of ${p.length} with segments of ${segment}`);
    });
    const v4 = ipHeaderLen === 20;
    const ip = 14;
    const udp = ip + ipHeaderLen;
    const get = (at: number): number => (head[at]! << 8) | head[at + 1]!;
    if (get(12) !== (v4 ? 0x0800 : 0x86dd)) throw new Error('ethertype');
    if (get(v4 ? ip + 2 : ip + 4) !== (v4 ? 20 : 0) + 8 + total) throw new Error('IP length does not cover the run');
    if (get(udp + 4) !== 8 + total) throw new Error('UDP length does not cover the run');
    const src = head.subarray(v4 ? ip + 12 : ip + 8, v4 ? ip + 16 : ip + 24);
    const dst = head.subarray(v4 ? ip + 16 : ip + 24, v4 ? ip + 20 : ip + 40);
    if (get(udp + 6) !== pseudoHeaderSum(src, dst, 17, 8 + total)) throw new Error('UDP field is not the pseudo-header sum');
    if (v4 && internetChecksum(head, ip, ip + 20) !== 0) throw new Error('IPv4 header checksum of the run');
    payloads.forEach((p, k) => {
      const f = new Uint8Array(hl + p.length);
      f.set(head);
      f.set(p, hl);
      set16(f, udp + 4, 8 + p.length);
      if (v4) {
        set16(f, ip + 2, 28 + p.length);
        set16(f, ip + 4, get(ip + 4) + k);
        set16(f, ip + 10, 0);
        set16(f, ip + 10, internetChecksum(f, ip, ip + 20));
      } else {
        set16(f, ip + 4, 8 + p.length);
      }
      set16(f, udp + 6, 0);
      let c = checksumFinish(checksumCombine(pseudoHeaderSum(src, dst, 17, 8 + p.length), checksumPartial(f, udp)));
      if (c === 0) c = 0xffff;
      set16(f, udp + 6, c);
      this.frames.push(parseFrame(f));
    });
    this.runs.push(count);
    return count;
  }
}

/** Builds an Ethernet + IPv4/IPv6 + UDP frame from the guest (UDP checksum left 0 over IPv4). */
export function guestFrame(src: string, sport: number, dst: string, dport: number, payload: string): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const body = new TextEncoder().encode(payload);
  const v4 = s.length === 4;
  const ipLen = v4 ? 20 : 40;
  const f = new Uint8Array(14 + ipLen + 8 + body.length);
  f.set([0x02, 0, 0, 0, 0, 1], 0); // our MAC
  f.set([0x02, 0, 0, 0, 0, 2], 6); // guest MAC
  set16(f, 12, v4 ? 0x0800 : 0x86dd);
  const ipo = 14;
  if (v4) {
    f[ipo] = 0x45;
    set16(f, ipo + 2, 20 + 8 + body.length);
    f[ipo + 8] = 64;
    f[ipo + 9] = 17;
    f.set(s, ipo + 12);
    f.set(d, ipo + 16);
    set16(f, ipo + 10, internetChecksum(f, ipo, ipo + 20));
  } else {
    f[ipo] = 0x60;
    set16(f, ipo + 4, 8 + body.length);
    f[ipo + 6] = 17;
    f[ipo + 7] = 64;
    f.set(s, ipo + 8);
    f.set(d, ipo + 24);
  }
  const u = ipo + ipLen;
  set16(f, u, sport);
  set16(f, u + 2, dport);
  set16(f, u + 4, 8 + body.length);
  f.set(body, u + 8);
  return f;
}

/** Concatenates frames into one slab, the way the engine's receive buffer would hold them. */
export function slabOf(frames: Uint8Array[]): { slab: Uint8Array; offsets: number[]; lengths: number[] } {
  const total = frames.reduce((a, f) => a + f.length + 2, 0);
  const slab = new Uint8Array(total);
  const offsets: number[] = [];
  const lengths: number[] = [];
  let p = 0;
  for (const f of frames) {
    p += 2; // misalign on purpose
    slab.set(f, p);
    offsets.push(p);
    lengths.push(f.length);
    p += f.length;
  }
  return { slab, offsets, lengths };
}

export const text = (d: Uint8Array): string => new TextDecoder().decode(d);
export { createCounters };
