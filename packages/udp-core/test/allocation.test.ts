// The hot paths must not allocate per datagram. V8 gives no allocation
// counter, but it does report garbage collections: a minor GC (scavenge)
// happens every few MiB of new objects, so 100 000 datagrams that each
// allocated even one small object would trigger several. We run each path
// warm, then count minor GCs over 100 000 datagrams with a fake socket layer
// that itself allocates nothing, and check that the heap did not grow.
// A control loop that allocates on purpose proves the counter works.
import { describe, expect, it } from 'vitest';
import {
  ADDR_STRIDE,
  createGuestDatagrams,
  PortForwards,
  UdpEngine,
  type Clock,
  type FrameSink,
  type RecvBatch,
  type SendBatch,
  type SocketHandle,
  type SocketLayer,
  type SocketSpec,
} from '../src/index.js';
import { QemuStreamSink } from '@x/flow';
import { minorGcsDuring } from '@x/harness';
import { ip } from './fakes.js';

const PAYLOAD = new Uint8Array(512).map((_, i) => i);
const REMOTE = ip('203.0.113.7');
const LOOP = ip('127.0.0.1');

/** Delivers `budget` copies of PAYLOAD on whichever socket is read; counts sends. */
class QuietSockets implements SocketLayer {
  budget = 0;
  sent = 0;
  from = REMOTE;
  callbacks = new Map<SocketHandle, () => void>();
  specs = new Map<SocketHandle, SocketSpec>();
  private next = 1;
  open(spec: SocketSpec): SocketHandle {
    const h = this.next++;
    this.specs.set(h, spec);
    return h;
  }
  recv(_h: SocketHandle, b: RecvBatch, max: number): number {
    let n = 0;
    while (n < max && this.budget > 0) {
      b.slab.set(PAYLOAD, n * b.slotSize + b.offset);
      b.lengths[n] = PAYLOAD.length;
      b.families[n] = 4;
      b.ports[n] = 4444;
      for (let k = 0; k < 4; k++) b.addrs[n * ADDR_STRIDE + k] = this.from[k] as number;
      n++;
      this.budget--;
    }
    return n;
  }
  send(_h: SocketHandle, _b: SendBatch, _first: number, count: number): number {
    this.sent += count;
    return count;
  }
  watch(h: SocketHandle, cb: () => void): void {
    this.callbacks.set(h, cb);
  }
  unwatch(h: SocketHandle): void {
    this.callbacks.delete(h);
  }
  close(): void {}
}

class CountingSink implements FrameSink {
  frames = 0;
  sendFrames(_s: Uint8Array, _o: Uint32Array, _l: Uint32Array, count: number): number {
    this.frames += count;
    return count;
  }
}

/** Integer milliseconds: a small integer is never boxed. */
class StepClock implements Clock {
  t = 1000;
  now(): number {
    return this.t;
  }
  every(): { cancel(): void } {
    return { cancel() {} };
  }
}

function engineWith(sockets: QuietSockets, sink: FrameSink, splice = false) {
  const e = new UdpEngine(
    {
      ourMac: Uint8Array.of(2, 0, 0, 0, 0, 1),
      guestMac: Uint8Array.of(2, 0, 0, 0, 0, 2),
      gateway4: ip('198.51.100.1'),
      guestAddress4: ip('198.51.100.2'),
      inbound: PortForwards.from([{ start: 8000, end: 8000 }]),
      ipv6: false,
      splice,
    },
    { sockets, frames: sink, clock: new StepClock(), logger: { debug() {}, info() {}, warn() {} } },
  );
  e.start();
  return e;
}

const N = 100_000;

describe('no per-datagram allocation', () => {
  it('the measurement notices allocation (control)', async () => {
    const keep: object[] = [];
    const { minor } = await minorGcsDuring(() => {
      for (let i = 0; i < N; i++) keep[i & 1023] = { i, s: [i, i] };
    });
    expect(minor).toBeGreaterThan(0);
  });

  it('guest -> world: 100k datagrams over 4 flows', async () => {
    const sockets = new QuietSockets();
    const engine = engineWith(sockets, new CountingSink());
    const slab = new Uint8Array(64 * 600);
    const b = createGuestDatagrams(64, slab);
    b.count = 64;
    for (let i = 0; i < 64; i++) {
      b.families[i] = 4;
      b.srcAddrs.set(ip('198.51.100.2'), i * ADDR_STRIDE);
      b.dstAddrs.set(i % 2 ? REMOTE : ip('198.51.100.1'), i * ADDR_STRIDE);
      b.srcPorts[i] = 5000 + (i % 4);
      b.dstPorts[i] = 53;
      b.payloadOffsets[i] = i * 600;
      b.payloadLengths[i] = 512;
    }
    for (let r = 0; r < 200; r++) engine.fromGuest(b); // warm up, JIT
    const before = sockets.sent;
    const m = await minorGcsDuring(() => {
      for (let r = 0; r < N / 64; r++) engine.fromGuest(b); // 1563 bursts
    });
    expect(sockets.sent - before).toBe(Math.ceil(N / 64) * 64);
    expect(engine.stats().bindings).toBe(4);
    console.log(`guest->world: ${m.minor} minor GCs, heap growth ${m.heapGrowth} bytes`);
    expect(m.minor).toBeLessThanOrEqual(1);
  });

  it('world -> guest (frames): 100k datagrams with gateway rewriting', async () => {
    const sockets = new QuietSockets();
    const sink = new CountingSink();
    engineWith(sockets, sink);
    const cb = [...sockets.callbacks.values()][0]!;
    const run = (count: number, from: Uint8Array) => {
      sockets.from = from;
      sockets.budget = count;
      while (sockets.budget > 0) cb();
    };
    run(20_000, REMOTE);
    run(20_000, LOOP);
    const m = await minorGcsDuring(() => {
      run(N / 2, REMOTE);
      run(N / 2, LOOP);
    });
    expect(sink.frames).toBe(40_000 + N);
    console.log(`world->guest: ${m.minor} minor GCs, heap growth ${m.heapGrowth} bytes`);
    expect(m.minor).toBeLessThanOrEqual(1);
  });

  it('passt stream output: heap stays bounded (one short-lived view per frame is the known cost)', async () => {
    const sockets = new QuietSockets();
    let written = 0;
    const sink = new QemuStreamSink({
      writev(parts) {
        let n = 0;
        for (const p of parts) n += p.length;
        written += n;
        return n;
      },
    });
    engineWith(sockets, sink);
    const cb = [...sockets.callbacks.values()][0]!;
    const run = (count: number) => {
      sockets.budget = count;
      while (sockets.budget > 0) cb();
    };
    run(20_000);
    const m = await minorGcsDuring(() => run(N));
    expect(sink.stats.frames).toBe(20_000 + N);
    expect(written).toBe((20_000 + N) * (4 + 14 + 20 + 8 + 512));
    console.log(`stream: ${m.minor} minor GCs, heap growth ${m.heapGrowth} bytes`);
    expect(m.heapGrowth).toBeLessThan(16 * 1024 * 1024);
  });

  it('splice: 100k datagrams relayed', async () => {
    const sockets = new QuietSockets();
    sockets.from = LOOP;
    engineWith(sockets, new CountingSink(), true);
    const listener = [...sockets.specs].find(([, s]) => s.address && s.address[0] === 127)![0];
    const cb = sockets.callbacks.get(listener)!;
    const run = (count: number) => {
      sockets.budget = count;
      while (sockets.budget > 0) cb();
    };
    run(20_000);
    const before = sockets.sent;
    const m = await minorGcsDuring(() => run(N));
    expect(sockets.sent - before).toBe(N);
    console.log(`splice: ${m.minor} minor GCs, heap growth ${m.heapGrowth} bytes`);
    expect(m.minor).toBeLessThanOrEqual(1);
  });
});
