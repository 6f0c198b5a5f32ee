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
import { FrameClass, FrameHeaders, get16, icmpEchoChecksumValid, parseFrameHeaders } from "@x/l2";
import { IcmpEcho } from "../src/index.js";
import { echoFrame, GUEST_MAC, ip, OUR_MAC } from "./frames-kit.js";

interface Sock {
  spec: SocketSpec;
  sent: { data: Uint8Array; to: Uint8Array; family: number }[];
  inbox: { data: Uint8Array; from: Uint8Array; family: 4 | 6 }[];
  onReadable?: () => void;
  closed: boolean;
}

class PingSockets implements SocketLayer {
  readonly all: Sock[] = [];
  failWith: string | undefined;
  open(spec: SocketSpec): SocketHandle {
    if (this.failWith) throw Object.assign(new Error(this.failWith), { code: this.failWith });
    this.all.push({ spec, sent: [], inbox: [], closed: false });
    return this.all.length - 1;
  }
  recv(h: SocketHandle, b: RecvBatch, max: number): number {
    const s = this.all[h] as Sock;
    let n = 0;
    while (n < max && s.inbox.length > 0) {
      const m = s.inbox.shift() as Sock["inbox"][number];
      b.slab.set(m.data, n * b.slotSize + b.offset);
      b.lengths[n] = m.data.length;
      b.families[n] = m.family;
      b.ports[n] = 0;
      b.addrs.fill(0, n * 16, n * 16 + 16);
      b.addrs.set(m.from, n * 16);
      n++;
    }
    return n;
  }
  send(h: SocketHandle, b: SendBatch, first: number, count: number): number {
    const s = this.all[h] as Sock;
    for (let i = first; i < first + count; i++) {
      const o = b.offsets[i] as number;
      const fam = b.families[i] as number;
      s.sent.push({ data: b.slab.slice(o, o + (b.lengths[i] as number)), to: b.addrs.slice(i * 16, i * 16 + (fam === 4 ? 4 : 16)), family: fam });
    }
    return count;
  }
  watch(h: SocketHandle, cb: () => void): void {
    (this.all[h] as Sock).onReadable = cb;
  }
  unwatch(h: SocketHandle): void {
    delete (this.all[h] as Sock).onReadable;
  }
  close(h: SocketHandle): void {
    (this.all[h] as Sock).closed = true;
  }
  live(): Sock[] {
    return this.all.filter((s) => !s.closed);
  }
  /** The kernel's reply to the last request on socket h: same message, type reply, its own identifier. */
  reply(h: SocketHandle, from: string): void {
    const s = this.all[h] as Sock;
    const req = (s.sent[s.sent.length - 1] as Sock["sent"][number]).data;
    const data = Uint8Array.from(req);
    data[0] = s.spec.family === 4 ? 0 : 129;
    data[4] = 0x12;
    data[5] = 0x34;
    s.inbox.push({ data, from: ip(from), family: s.spec.family });
    s.onReadable?.();
  }
}

class Frames implements FrameSink {
  readonly frames: Uint8Array[] = [];
  sendFrames(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    for (let i = 0; i < count; i++) this.frames.push(slab.slice(offsets[i] as number, (offsets[i] as number) + (lengths[i] as number)));
    return count;
  }
}

function world(o: { capacity?: number; enabled?: boolean } = {}) {
  let t = 0;
  const clock: Clock = { now: () => t, every: () => ({ cancel() {} }) };
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) };
  const flows = new FlowTable({ capacity: o.capacity ?? 64, logger });
  const nat = new AddressMap({ gateway4: ip("198.51.100.1"), gateway6: ip("2001:db8::1"), mapGw: true }, 180_000);
  const sockets = new PingSockets();
  const sink = new Frames();
  const icmp = new IcmpEcho({ enabled: o.enabled ?? true, ourMac: OUR_MAC, ipv4: true, ipv6: true }, { sockets, sink, clock, logger, flows, nat });
  icmp.setGuestMac(GUEST_MAC);
  const h = new FrameHeaders();
  const fromGuest = (f: Uint8Array): void => {
    expect(parseFrameHeaders(f, 0, f.length, h)).toBe(FrameClass.Ip);
    icmp.fromGuest(f, h);
  };
  return { icmp, sockets, sink, flows, warnings, fromGuest, advance: (ms: number) => (t += ms), now: () => t };
}

describe("IcmpEcho", () => {
  for (const [name, guest, remote, gw, loop] of [
    ["IPv4", "198.51.100.2", "203.0.113.7", "198.51.100.1", "127.0.0.1"],
    ["IPv6", "2001:db8::2", "2001:db8:1::7", "2001:db8::1", "::1"],
  ] as const) {
    it(`${name}: a request leaves through a ping socket, the reply comes back with the guest's identifier and a valid checksum`, () => {
      const w = world();
      w.fromGuest(echoFrame(guest, remote, 0xbeef, 1));
      expect(w.sockets.live()).toHaveLength(1);
      const s = w.sockets.all[0] as Sock;
      expect(s.spec).toMatchObject({ protocol: "icmp", port: 0, side: "host" });
      expect(s.sent).toHaveLength(1);
      expect([...(s.sent[0] as Sock["sent"][number]).to]).toEqual([...ip(remote)]);
      w.fromGuest(echoFrame(guest, remote, 0xbeef, 2));
      expect(w.sockets.all).toHaveLength(1); // same flow, same socket
      w.sockets.reply(0, remote);
      expect(w.sink.frames).toHaveLength(1);
      const f = w.sink.frames[0] as Uint8Array;
      const h = new FrameHeaders();
      expect(parseFrameHeaders(f, 0, f.length, h)).toBe(FrameClass.Ip);
      expect([...f.subarray(0, 6)]).toEqual([...GUEST_MAC]);
      expect([...f.subarray(h.srcAt, h.srcAt + h.addrLen)]).toEqual([...ip(remote)]);
      expect([...f.subarray(h.dstAt, h.dstAt + h.addrLen)]).toEqual([...ip(guest)]);
      expect(f[h.l4At]).toBe(name === "IPv4" ? 0 : 129);
      expect(get16(f, h.l4At + 4)).toBe(0xbeef);
      expect(get16(f, h.l4At + 6)).toBe(2);
      expect(icmpEchoChecksumValid(f, h.l4At, h.l4End - h.l4At, h.family as 4 | 6, h.srcAt, h.dstAt)).toBe(true);
      expect(w.icmp.counters).toMatchObject({ requests: 2, replies: 1, flowsOpened: 1 });
    });

    it(`${name}: the gateway reaches the host's loopback, and the reply comes from the gateway`, () => {
      const w = world();
      w.fromGuest(echoFrame(guest, gw, 7, 1));
      const s = w.sockets.all[0] as Sock;
      expect([...(s.sent[0] as Sock["sent"][number]).to]).toEqual([...ip(loop)]);
      w.sockets.reply(0, loop);
      const f = w.sink.frames[0] as Uint8Array;
      const h = new FrameHeaders();
      parseFrameHeaders(f, 0, f.length, h);
      expect([...f.subarray(h.srcAt, h.srcAt + h.addrLen)]).toEqual([...ip(gw)]);
    });
  }

  it("keeps guests' identifiers apart: one flow and one socket per (destination, identifier)", () => {
    const w = world();
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", 1, 1));
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", 2, 1));
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.8", 1, 1));
    expect(w.sockets.live()).toHaveLength(3);
    expect(w.icmp.flowCount).toBe(3);
  });

  it("counts malformed and non-echo messages and forwards none of them", () => {
    const w = world();
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", 1, 1, { badChecksum: true }));
    w.fromGuest(echoFrame("2001:db8::2", "2001:db8:1::7", 1, 1, { badChecksum: true }));
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", 1, 1, { type: 13 })); // timestamp request
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", 1, 1, { type: 0 })); // a reply
    w.fromGuest(echoFrame("2001:db8::2", "2001:db8:1::7", 1, 1, { type: 129 }));
    const short = echoFrame("198.51.100.2", "203.0.113.7", 1, 1, { data: 0 });
    const h = new FrameHeaders();
    parseFrameHeaders(short, 0, short.length, h);
    h.l4End = h.l4At + 4; // an echo header cut short
    w.icmp.fromGuest(short, h);
    w.fromGuest(echoFrame("198.51.100.2", "127.0.0.1", 1, 1));
    expect(w.icmp.counters).toMatchObject({ malformed: 3, notEcho: 3, refused: 1, requests: 0 });
    expect(w.sockets.all).toHaveLength(0);
  });

  it("with echo off, counts requests as disabled and opens nothing", () => {
    const w = world({ enabled: false });
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", 1, 1));
    expect(w.icmp.counters.disabled).toBe(1);
    expect(w.sockets.all).toHaveLength(0);
  });

  it("says once that the host refuses ping sockets, and counts every refused request", () => {
    const w = world();
    w.sockets.failWith = "EACCES";
    for (let id = 0; id < 100; id++) w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", id, 1));
    expect(w.icmp.counters.noSocket).toBe(100);
    expect(w.warnings.filter((m) => m.includes("ping_group_range"))).toHaveLength(1);
    expect(w.flows.size).toBe(0);
  });

  it("ages a flow out after 60 s and closes its socket", () => {
    const w = world();
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", 1, 1));
    w.advance(59_000);
    w.flows.sweep(w.now());
    expect(w.sockets.live()).toHaveLength(1);
    w.advance(2_000);
    w.flows.sweep(w.now());
    expect(w.sockets.live()).toHaveLength(0);
    expect(w.icmp.counters.flowsAged).toBe(1);
    expect(w.icmp.flowCount).toBe(0);
  });

  it("1000 identifiers in a burst cost at most the cap in sockets; the newest still get answered", () => {
    const w = world({ capacity: 16 });
    for (let id = 0; id < 1000; id++) {
      w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", id, 1));
      w.advance(1);
    }
    expect(w.sockets.live().length).toBeLessThanOrEqual(16);
    expect(w.icmp.counters.flowsEvicted).toBe(1000 - 16);
    expect(w.icmp.counters.requests).toBe(1000);
    const last = w.sockets.all.length - 1;
    w.sockets.reply(last, "203.0.113.7");
    expect(w.icmp.counters.replies).toBe(1);
    expect(w.warnings.length).toBeLessThan(5); // rate-limited
  });
});

describe("IcmpEcho at start-up", () => {
  it("names a host that refuses ping sockets in one line before any request, and opens nothing for good", () => {
    const w = world();
    w.sockets.failWith = "EACCES";
    expect(w.icmp.probe()).toEqual([4, 6]);
    expect(w.warnings).toHaveLength(1);
    expect(w.warnings[0]).toMatch(/ping_group_range.*ICMP and ICMPv6/);
    w.fromGuest(echoFrame("198.51.100.2", "203.0.113.7", 1, 1));
    expect(w.warnings).toHaveLength(1);
    expect(w.icmp.counters.noSocket).toBe(1);
  });

  it("says nothing where ping sockets open, and leaves none open", () => {
    const w = world();
    expect(w.icmp.probe()).toEqual([]);
    expect(w.warnings).toHaveLength(0);
    expect(w.sockets.live()).toHaveLength(0);
  });
});
