import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { set16 } from "@x/l2";
import { GuestFrames, type FrameTargets } from "../src/index.js";
import { arpFrame, echoFrame, GUEST_MAC, ipFrame, slabOf, udpFrame } from "./frames-kit.js";

type Seen = { responders: number; udp: number; icmp: number; tcp: number; macs: number; flushes: number };

function dispatcher(respond: ReturnType<FrameTargets["responders"]> = "answered") {
  const seen: Seen = { responders: 0, udp: 0, icmp: 0, tcp: 0, macs: 0, flushes: 0 };
  const d = new GuestFrames({
    responders: () => {
      seen.responders++;
      return respond;
    },
    udp: (_s, h) => {
      expect(h.protocol).toBe(17);
      seen.udp++;
    },
    icmp: (_s, h) => {
      expect([1, 58]).toContain(h.protocol);
      seen.icmp++;
    },
    tcp: (_s, h) => {
      expect(h.protocol).toBe(6);
      seen.tcp++;
    },
    flush: () => void seen.flushes++,
    learnMac: () => void seen.macs++,
  });
  const send = (...frames: Uint8Array[]): void => {
    const { slab, offsets, lengths } = slabOf(frames);
    d.fromGuest(slab, offsets, lengths, frames.length);
  };
  return { d, seen, send };
}

/** Every way a frame can be counted: each frame must land in exactly one. */
function total(d: GuestFrames, seen: Seen): number {
  const c = d.counters;
  const dr = c.dropped;
  return seen.udp + seen.icmp + seen.tcp + c.answered + c.ignored + c.malformed + dr.unknownEtherType + dr.unknownProtocol + dr.fragment + dr.notForUs;
}

describe("GuestFrames: one parse, one destination per frame", () => {
  it("sends each kind of frame to exactly one place", () => {
    const { d, seen, send } = dispatcher();
    send(
      arpFrame(),
      udpFrame("198.51.100.2", 40000, "203.0.113.7", 53),
      udpFrame("2001:db8::2", 40000, "2001:db8:1::7", 53),
      udpFrame("0.0.0.0", 68, "255.255.255.255", 67),
      udpFrame("fe80::2", 546, "ff02::1:2", 547),
      echoFrame("198.51.100.2", "203.0.113.7", 1, 1),
      echoFrame("2001:db8::2", "2001:db8:1::7", 1, 1),
      ipFrame("fe80::2", "ff02::2", 58, Uint8Array.of(133, 0, 0, 0, 0, 0, 0, 0)),
    );
    expect(seen).toEqual({ responders: 4, udp: 2, icmp: 2, tcp: 0, macs: 8, flushes: 1 });
    expect(d.counters.framesIn).toBe(8);
    expect(d.counters.answered).toBe(4);
  });

  it("counts what nobody takes by its reason", () => {
    const { d, seen, send } = dispatcher("pass");
    const lldp = udpFrame("198.51.100.2", 1, "203.0.113.7", 2);
    set16(lldp, 12, 0x88cc);
    const badSum = udpFrame("198.51.100.2", 1, "203.0.113.7", 2);
    badSum[24] = (badSum[24] as number) ^ 1;
    send(
      lldp,
      ipFrame("198.51.100.2", "203.0.113.7", 6, new Uint8Array(20)),
      ipFrame("198.51.100.2", "203.0.113.7", 47, new Uint8Array(8)),
      ipFrame("198.51.100.2", "203.0.113.7", 17, new Uint8Array(16), { fragment: true }),
      badSum,
      new Uint8Array(10),
      arpFrame(),
    );
    expect(d.counters.dropped).toEqual({ unknownEtherType: 1, unknownProtocol: 1, fragment: 1, notForUs: 1 });
    expect(seen.tcp).toBe(1);
    expect(d.counters.malformed).toBe(2);
    expect(seen.udp + seen.icmp).toBe(0);
    expect(total(d, seen)).toBe(d.counters.framesIn);
  });

  it("learns the MAC only from frames whose headers hang together", () => {
    const { seen, send } = dispatcher();
    const bad = udpFrame("198.51.100.2", 1, "203.0.113.7", 2);
    bad[24] = (bad[24] as number) ^ 1;
    send(bad, arpFrame(Uint8Array.of(2, 9, 9, 9, 9, 9)), new Uint8Array(20));
    expect(seen.macs).toBe(0);
    send(arpFrame(GUEST_MAC));
    expect(seen.macs).toBe(1);
  });

  it("counts a responder's silent take as ignored", () => {
    const { d, seen, send } = dispatcher("consumed");
    send(arpFrame(), udpFrame("0.0.0.0", 68, "255.255.255.255", 67));
    expect(d.counters.ignored).toBe(2);
    expect(total(d, seen)).toBe(2);
  });

  it("never throws, and counts every frame exactly once, for random and mutated frames", () => {
    const valid = [
      udpFrame("198.51.100.2", 40000, "203.0.113.7", 53),
      udpFrame("2001:db8::2", 40000, "2001:db8:1::7", 53),
      echoFrame("198.51.100.2", "203.0.113.7", 7, 1),
      echoFrame("2001:db8::2", "2001:db8:1::7", 7, 1),
      arpFrame(),
    ];
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc
              .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }))
              .map(([f, flips]) => {
                const g = Uint8Array.from(f);
                for (const [at, v] of flips) g[at % g.length] = v;
                return g;
              }),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        fc.constantFrom("pass", "answered", "consumed", "malformed") as fc.Arbitrary<ReturnType<FrameTargets["responders"]>>,
        (frames, answer) => {
          const { d, seen, send } = dispatcher(answer);
          send(...frames);
          expect(d.counters.framesIn).toBe(frames.length);
          expect(total(d, seen)).toBe(frames.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
