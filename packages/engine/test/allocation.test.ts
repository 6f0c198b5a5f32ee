// The engine's own hot path (one parse, dispatch, UDP and ICMP echo) must
// not allocate per frame either. As in udp-core's test of the same name:
// V8 has no allocation counter, but a minor GC (scavenge) comes every few
// MiB of new objects, so 100 000 frames that each allocated even one small
// object would trigger several. Each path is run warm, then minor GCs are
// counted over 100 000 frames with a socket layer that allocates nothing.
import { describe, expect, it } from "vitest";
import {
  AddressMap,
  FlowTable,
  type Clock,
  type FrameSink,
  type RecvBatch,
  type SendBatch,
  type SocketHandle,
  type SocketLayer,
  type SocketSpec,
} from "@x/flow";
import { minorGcsDuring } from "@x/harness";
import { UdpEngine } from "@x/udp-core";
import { GuestFrames, IcmpEcho } from "../src/index.js";
import { echoFrame, GUEST_MAC, ip, OUR_MAC, slabOf, udpFrame } from "./frames-kit.js";

/** Sends nothing anywhere; an ICMP socket's recv hands back `replies` echo replies of `reply`. */
class QuietSockets implements SocketLayer {
  sent = 0;
  replies = 0;
  reply = new Uint8Array(0);
  readonly specs: SocketSpec[] = [];
  readonly callbacks = new Map<SocketHandle, () => void>();
  private readonly from = ip("203.0.113.7");
  open(spec: SocketSpec): SocketHandle {
    this.specs.push(spec);
    return this.specs.length;
  }
  recv(h: SocketHandle, b: RecvBatch, max: number): number {
    if (this.specs[h - 1]?.protocol !== "icmp") return 0;
    let n = 0;
    while (n < max && this.replies > 0) {
      b.slab.set(this.reply, n * b.slotSize + b.offset);
      b.lengths[n] = this.reply.length;
      b.families[n] = 4;
      b.ports[n] = 0;
      for (let k = 0; k < 4; k++) b.addrs[n * 16 + k] = this.from[k] as number;
      n++;
      this.replies--;
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

const clock: Clock = { now: () => 1000, every: () => ({ cancel() {} }) };
const logger = { debug() {}, info() {}, warn() {} };

/** The layers as GuestSession composes them, over the quiet sockets. */
function stack() {
  const sockets = new QuietSockets();
  const sink = new CountingSink();
  const flows = new FlowTable({ capacity: 1024, logger });
  const nat = new AddressMap({ gateway4: ip("198.51.100.1"), guestAddress4: ip("198.51.100.2") }, 180_000);
  const udp = new UdpEngine(
    { ourMac: OUR_MAC, guestMac: GUEST_MAC, gateway4: ip("198.51.100.1"), ipv6: false },
    { sockets, frames: sink, clock, logger, flows, nat },
  );
  udp.start();
  const icmp = new IcmpEcho({ enabled: true, ourMac: OUR_MAC, ipv4: true, ipv6: false }, { sockets, sink, clock, logger, flows, nat });
  icmp.setGuestMac(GUEST_MAC);
  let learnt = 0;
  const frames = new GuestFrames({
    responders: () => "pass",
    udp: (slab, h) => udp.queueParsed(slab, h),
    icmp: (slab, h) => icmp.fromGuest(slab, h),
    tcp: () => {},
    flush: () => udp.flushGuest(),
    learnMac: () => void learnt++,
  });
  return { sockets, sink, frames, udp, icmp };
}

const N = 100_000;

describe("no per-frame allocation in the engine", () => {
  it("the measurement notices allocation (control)", async () => {
    const keep: object[] = [];
    const { minor } = await minorGcsDuring(() => {
      for (let i = 0; i < N; i++) keep[i & 1023] = { i, s: [i, i] };
    });
    expect(minor).toBeGreaterThan(0);
  });

  it("guest frames, parsed once and dispatched: UDP to 4 destinations and ICMP echo to 2, 100k frames", async () => {
    const s = stack();
    const list = [
      udpFrame("198.51.100.2", 5000, "203.0.113.7", 53, 512),
      udpFrame("198.51.100.2", 5001, "203.0.113.8", 53, 512),
      udpFrame("198.51.100.2", 5002, "198.51.100.1", 53, 512),
      udpFrame("198.51.100.2", 5003, "203.0.113.9", 53, 512),
      echoFrame("198.51.100.2", "203.0.113.7", 1, 1),
      echoFrame("198.51.100.2", "198.51.100.1", 2, 1),
    ];
    const frames = Array.from({ length: 60 }, (_, i) => list[i % list.length] as Uint8Array);
    const { slab, offsets, lengths } = slabOf(frames);
    for (let r = 0; r < 300; r++) s.frames.fromGuest(slab, offsets, lengths, frames.length); // warm up, JIT
    const before = s.sockets.sent;
    const { minor } = await minorGcsDuring(() => {
      for (let r = 0; r < N / 60; r++) s.frames.fromGuest(slab, offsets, lengths, frames.length);
    });
    expect(s.sockets.sent - before).toBe(Math.ceil(N / 60) * 60);
    expect(s.frames.counters.malformed).toBe(0);
    console.log(`guest frames -> UDP and ICMP: ${minor} minor GCs`);
    expect(minor).toBeLessThanOrEqual(1);
  });

  it("ICMP echo replies back to the guest, 100k", async () => {
    const s = stack();
    const req = echoFrame("198.51.100.2", "203.0.113.7", 9, 1);
    const { slab, offsets, lengths } = slabOf([req]);
    s.frames.fromGuest(slab, offsets, lengths, 1);
    const h = [...s.sockets.callbacks.keys()].find((k) => s.sockets.specs[k - 1]?.protocol === "icmp") as SocketHandle;
    const reply = req.slice(34);
    reply[0] = 0;
    s.sockets.reply = reply;
    const drain = s.sockets.callbacks.get(h) as () => void;
    for (let r = 0; r < 300; r++) {
      s.sockets.replies = 16;
      drain();
    }
    const before = s.sink.frames;
    const { minor } = await minorGcsDuring(() => {
      for (let r = 0; r < N / 16; r++) {
        s.sockets.replies = 16;
        drain();
      }
    });
    expect(s.sink.frames - before).toBe(Math.ceil(N / 16) * 16);
    console.log(`ICMP replies -> guest: ${minor} minor GCs`);
    expect(minor).toBeLessThanOrEqual(1);
  });
});
