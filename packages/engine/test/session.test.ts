import { describe, expect, it } from "vitest";
import { Dhcpv4MessageType } from "@x/l2";
import { GuestSession, Log, defaultMaxBindings, parseOptions, type GuestSink, type NetConfig } from "../src/index.js";
import type { SyscallSockets } from "../src/socket-layer.js";
import { decodeDhcp, dhcpRequestFrame } from "./responders/helpers.js";

/** A sink that records frames; GuestSession only needs these members here. */
function sink(): GuestSink & { sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  return {
    sent,
    onFrame: undefined,
    sendOne: (f) => (sent.push(Uint8Array.from(f)), true),
    sendFrames: () => 0,
  };
}

const fakeSockets = { open: () => 0, recv: () => 0, send: () => 0, watch() {}, unwatch() {}, close() {} } as unknown as SyscallSockets;

const cfg: NetConfig = {
  ourMac: new Uint8Array([0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]),
  mtu: 65520,
  search: [],
  mapGw: true,
  v4: { address: new Uint8Array([203, 0, 113, 2]), prefixLen: 24, gateway: new Uint8Array([203, 0, 113, 1]), dns: [] },
  template: { ifname: "eth0", ifindex: 2, mtu: 1500 },
};

function arpRequest(srcMac: number[], senderMac: number[]): Uint8Array {
  return new Uint8Array([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...srcMac, 0x08, 0x06,
    0, 1, 8, 0, 6, 4, 0, 1, ...senderMac, 203, 0, 113, 2, 0, 0, 0, 0, 0, 0, 203, 0, 113, 1,
  ]);
}

describe("GuestSession learns the guest's MAC only from believable frames", () => {
  it("ignores garbage, then learns from an ARP request, and answers it", () => {
    const s = sink();
    const g = new GuestSession({ config: cfg, sockets: fakeSockets, sink: s, log: new Log("t", "error"), udpIn: { mode: "none", entries: [], exclude: [] }, splice: false, dhcp: true, ndp: true, dhcpv6: true, ra: true });
    const garbage = new Uint8Array(60).fill(0x45);
    garbage.set([0x02, 0, 0, 0, 0, 1], 6);
    garbage.set([0x08, 0x00], 12);
    const good = arpRequest([0x52, 0x54, 0, 0x12, 0x34, 0x56], [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const spoof = arpRequest([0x02, 0, 0, 0, 0, 2], [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const slab = new Uint8Array(256);
    slab.set(garbage, 0);
    slab.set(good, 64);
    slab.set(spoof, 128);
    g.fromGuest(slab, new Uint32Array([0]), new Uint32Array([60]), 1);
    expect(g.link.guestMac ?? null).toBeNull();
    g.fromGuest(slab, new Uint32Array([64, 128]), new Uint32Array([good.length, spoof.length]), 2);
    expect(Array.from(g.link.guestMac as Uint8Array)).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    expect(s.sent.length).toBeGreaterThanOrEqual(1);
    const reply = s.sent[0] as Uint8Array;
    expect(Array.from(reply.subarray(0, 6))).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    expect(Array.from(reply.subarray(6, 12))).toEqual([0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]);
    g.stop();
  });
});

describe("the binding cap", () => {
  it("follows the descriptor limit, leaving room for everything else", () => {
    expect(defaultMaxBindings("Max open files            20000                20000                files\n")).toBe(19488);
    expect(defaultMaxBindings("Max open files            1024                 524288               files\n")).toBe(512);
    expect(defaultMaxBindings("Max open files            unlimited            unlimited            files\n")).toBe(131072);
    expect(defaultMaxBindings("garbage")).toBe(512);
  });
  it("can be set with --max-bindings", () => {
    expect(parseOptions("pasta", ["--max-bindings", "1000"]).maxBindings).toBe(1000);
    expect(() => parseOptions("passt", ["--max-bindings", "3"])).toThrow(/out of range/);
  });
});

describe("what DHCP tells the guest about DNS", () => {
  const withDns: NetConfig = {
    ...cfg,
    search: ["example.org"],
    v4: { ...(cfg.v4 as NonNullable<NetConfig["v4"]>), dns: [new Uint8Array([198, 51, 100, 53])] },
  };
  const offer = (c: NetConfig) => {
    const s = sink();
    const g = new GuestSession({ config: c, sockets: fakeSockets, sink: s, log: new Log("t", "error"), udpIn: { mode: "none", entries: [], exclude: [] }, splice: false, dhcp: true, ndp: true, dhcpv6: true, ra: true });
    const discover = dhcpRequestFrame({ messageType: Dhcpv4MessageType.Discover });
    g.fromGuest(discover, new Uint32Array([0]), new Uint32Array([discover.length]), 1);
    g.stop();
    expect(s.sent).toHaveLength(1);
    return decodeDhcp(s.sent[0] as Uint8Array).dhcp;
  };

  it("passes resolvers and search domains on unless the config says not to (pasta's default)", () => {
    const passed = offer(withDns);
    expect(passed.dnsServers.map((a) => Array.from(a))).toEqual([[198, 51, 100, 53]]);
    expect(passed.domainSearch).toEqual(["example.org"]);
    const withheld = offer({ ...withDns, advertiseDns: false, advertiseSearch: false });
    expect(withheld.dnsServers).toEqual([]);
    expect(withheld.domainSearch).toEqual([]);
    expect(Array.from(withheld.yiaddr)).toEqual([203, 0, 113, 2]);
  });
});
