// Unit tests of the wire format: literal bytes in, typed values or EBADMSG out.
// Integers are written little-endian, the byte order of the machines we run on.
import { describe, expect, it } from "vitest";
import { errnoName, formatIp, isNetlinkError, NetlinkError, parseAddress, parseIp, parseLink, parseRoute, wire } from "../src/index.js";

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function u16(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff];
}
function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
function pad(b: number[]): number[] {
  const out = [...b];
  while (out.length % 4) out.push(0);
  return out;
}
function attr(type: number, value: number[]): number[] {
  return pad([...u16(4 + value.length), ...u16(type), ...value]);
}
function msg(type: number, flags: number, seq: number, payload: number[]): number[] {
  return pad([...u32(16 + payload.length), ...u16(type), ...u16(flags), ...u32(seq), ...u32(0), ...payload]);
}
function bytes(...parts: number[][]): Uint8Array {
  return Uint8Array.from(parts.flat());
}
function cstr(s: string): number[] {
  return [...new TextEncoder().encode(s), 0];
}

/** Runs f and returns the NetlinkError it throws; fails on anything else. */
function netlinkError(f: () => unknown): NetlinkError {
  try {
    f();
  } catch (e) {
    expect(isNetlinkError(e)).toBe(true);
    return e as NetlinkError;
  }
  throw new Error("expected a NetlinkError, nothing was thrown");
}

describe.runIf(LE)("messages", () => {
  it("splits a datagram into messages, honouring padding", () => {
    const d = bytes(msg(wire.NLMSG_NOOP, 0, 7, [1, 2, 3]), msg(wire.NLMSG_DONE, wire.NLM_F_MULTI, 8, u32(0)));
    const ms = wire.parseMessages(d);
    expect(ms.map((m) => [m.type, m.flags, m.seq, m.payload.length])).toEqual([
      [wire.NLMSG_NOOP, 0, 7, 3],
      [wire.NLMSG_DONE, wire.NLM_F_MULTI, 8, 4],
    ]);
    expect(Array.from(ms[0]!.payload)).toEqual([1, 2, 3]);
  });

  it("accepts a last message without its trailing padding", () => {
    const d = bytes(msg(wire.NLMSG_NOOP, 0, 1, [9])).subarray(0, 17);
    expect(wire.parseMessages(d)).toHaveLength(1);
  });

  it("rejects truncated headers and lengths past the buffer with EBADMSG", () => {
    const good = bytes(msg(wire.NLMSG_DONE, 0, 1, u32(0)));
    expect(netlinkError(() => wire.parseMessages(good.subarray(0, 10))).code).toBe("EBADMSG");
    expect(netlinkError(() => wire.parseMessages(good.subarray(0, 19))).message).toMatch(/claims length 20 but only 19/);
    const short = good.slice();
    short.set(u32(8), 0);
    expect(netlinkError(() => wire.parseMessages(short)).message).toMatch(/less than its header/);
    expect(netlinkError(() => wire.parseMessages(bytes([...good], [1, 2]))).code).toBe("EBADMSG");
  });

  it("parses attributes and flags nested ones", () => {
    const area = bytes(attr(3, cstr("eth0")), attr(0x8000 | 18, attr(1, cstr("veth"))), attr(4, u32(1400)));
    const as = wire.parseAttrs(area);
    expect(as.map((a) => [a.type, a.nested, a.value.length])).toEqual([
      [3, false, 5],
      [18, true, 12],
      [4, false, 4],
    ]);
    expect(wire.attrString(as[0]!)).toBe("eth0");
    expect(wire.attrU32(as[2]!, "mtu")).toBe(1400);
  });

  it("rejects truncated attributes", () => {
    const area = bytes(attr(4, u32(1400)));
    expect(netlinkError(() => wire.parseAttrs(area.subarray(0, 6))).message).toMatch(/claims length 8 but only 6/);
    expect(netlinkError(() => wire.parseAttrs(area.subarray(0, 3))).message).toMatch(/stray bytes/);
    expect(netlinkError(() => wire.parseAttrs(bytes([2, 0, 4, 0]))).message).toMatch(/less than its header/);
    expect(netlinkError(() => wire.attrU32({ type: 4, nested: false, value: new Uint8Array(2) }, "IFLA_MTU")).code).toBe("EBADMSG");
  });

  it("builds a request whose bytes parse back", () => {
    const b = new wire.MessageBuilder(wire.RTM_NEWLINK, wire.NLM_F_CREATE)
      .bytes(wire.ifinfomsg({ index: 5, flags: wire.IFF_UP, change: wire.IFF_UP }))
      .u32(wire.IFLA_MTU, 1280)
      .string(wire.IFLA_IFNAME, "abc");
    const d = b.finish(42, wire.NLM_F_REQUEST | wire.NLM_F_ACK);
    expect(d.length % 4).toBe(0);
    const [m] = wire.parseMessages(d);
    expect(m!.type).toBe(wire.RTM_NEWLINK);
    expect(m!.flags).toBe(wire.NLM_F_CREATE | wire.NLM_F_REQUEST | wire.NLM_F_ACK);
    expect(m!.seq).toBe(42);
    const info = wire.parseIfinfomsg(m!.payload);
    expect([info.index, info.flags, info.change]).toEqual([5, 1, 1]);
    expect(info.attrs.map((a) => a.type)).toEqual([wire.IFLA_MTU, wire.IFLA_IFNAME]);
  });

  it("reads acks and errors, including an extended-ack message", () => {
    const echoed = msg(wire.RTM_NEWADDR, 5, 99, []);
    const ack = wire.parseMessages(bytes(msg(wire.NLMSG_ERROR, 0, 99, [...u32(0), ...echoed])))[0]!;
    expect(wire.parseError(ack)).toEqual({ errno: 0, requestSeq: 99, message: undefined });
    const eexist = wire.parseMessages(
      bytes(
        msg(wire.NLMSG_ERROR, wire.NLM_F_CAPPED | wire.NLM_F_ACK_TLVS, 99, [
          ...u32(-17 >>> 0),
          ...echoed,
          ...attr(wire.NLMSGERR_ATTR_MSG, cstr("Address already assigned")),
        ]),
      ),
    )[0]!;
    expect(wire.parseError(eexist)).toEqual({ errno: 17, requestSeq: 99, message: "Address already assigned" });
    const tiny = wire.parseMessages(bytes(msg(wire.NLMSG_ERROR, 0, 1, [1, 2])))[0]!;
    expect(netlinkError(() => wire.parseError(tiny)).code).toBe("EBADMSG");
  });

  it("decodes a link message", () => {
    const payload = [
      ...[0, 0],
      ...u16(1),
      ...u32(7),
      ...u32(wire.IFF_UP | wire.IFF_RUNNING),
      ...u32(0),
      ...attr(wire.IFLA_IFNAME, cstr("veth0")),
      ...attr(wire.IFLA_MTU, u32(1400)),
      ...attr(wire.IFLA_ADDRESS, [2, 0, 0, 0, 0, 1]),
    ];
    const link = parseLink(wire.parseMessages(bytes(msg(wire.RTM_NEWLINK, 0, 1, payload)))[0]!);
    expect(link).toMatchObject({ index: 7, name: "veth0", up: true, running: true, mtu: 1400, macText: "02:00:00:00:00:01", type: 1 });
  });

  it("decodes an IPv6 address message with 32-bit IFA_FLAGS", () => {
    const a6 = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const payload = [wire.AF_INET6, 64, 0, 0, ...u32(3), ...attr(wire.IFA_ADDRESS, a6), ...attr(wire.IFA_FLAGS, u32(0x40 | 0x80 | 0x200))];
    const a = parseAddress(wire.parseMessages(bytes(msg(wire.RTM_NEWADDR, 0, 1, payload)))[0]!)!;
    expect(a).toMatchObject({ ifindex: 3, family: 6, prefixLen: 64, scope: "global", tentative: true, permanent: true });
    expect(a.address.text).toBe("2001:db8:1::2");
    expect(a.flags & wire.IFA_F_NOPREFIXROUTE).toBeTruthy();
  });

  it("rejects an address attribute of the wrong size", () => {
    const payload = [wire.AF_INET, 24, 0, 0, ...u32(3), ...attr(wire.IFA_LOCAL, [203, 0, 113])];
    const m = wire.parseMessages(bytes(msg(wire.RTM_NEWADDR, 0, 1, payload)))[0]!;
    expect(netlinkError(() => parseAddress(m)).message).toMatch(/3-byte address, want 4/);
  });

  it("decodes a default route and a multipath route", () => {
    const head = [wire.AF_INET, 0, 0, 0, wire.RT_TABLE_MAIN, wire.RTPROT_BOOT, 0, wire.RTN_UNICAST, ...u32(0)];
    const r = parseRoute(
      wire.parseMessages(
        bytes(msg(wire.RTM_NEWROUTE, 0, 1, [...head, ...attr(wire.RTA_GATEWAY, [203, 0, 113, 1]), ...attr(wire.RTA_OIF, u32(3)), ...attr(wire.RTA_TABLE, u32(254))])),
      )[0]!,
    )!;
    expect(r).toMatchObject({ family: 4, dst: undefined, prefixLen: 0, oif: 3, table: 254, priority: 0 });
    expect(r.gateway?.text).toBe("203.0.113.1");

    const hop = (ifindex: number, gw: number[]): number[] => {
      const a = attr(wire.RTA_GATEWAY, gw);
      return [...u16(8 + a.length), 0, 0, ...u32(ifindex), ...a];
    };
    const mp = [...hop(3, [203, 0, 113, 1]), ...hop(4, [198, 51, 100, 1])];
    const r2 = parseRoute(wire.parseMessages(bytes(msg(wire.RTM_NEWROUTE, 0, 1, [...head, ...attr(wire.RTA_MULTIPATH, mp)])))[0]!)!;
    expect(r2.oif).toBeUndefined();
    expect(r2.nextHops.map((h) => [h.oif, h.gateway?.text])).toEqual([
      [3, "203.0.113.1"],
      [4, "198.51.100.1"],
    ]);
    const broken = [...u16(40), 0, 0, ...u32(3)];
    const m3 = wire.parseMessages(bytes(msg(wire.RTM_NEWROUTE, 0, 1, [...head, ...attr(wire.RTA_MULTIPATH, broken)])))[0]!;
    expect(netlinkError(() => parseRoute(m3)).code).toBe("EBADMSG");
  });

  it("rejects family headers that are too short", () => {
    for (const [type, parse] of [
      [wire.RTM_NEWLINK, parseLink],
      [wire.RTM_NEWADDR, parseAddress],
      [wire.RTM_NEWROUTE, parseRoute],
    ] as const) {
      const m = wire.parseMessages(bytes(msg(type, 0, 1, [2, 0, 0])))[0]!;
      expect(netlinkError(() => parse(m)).message).toMatch(/shorter than/);
    }
  });

  it("never throws anything but NetlinkError on garbage", () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const samples: Uint8Array[] = [];
    // Random bytes, and valid messages with random corruption and truncation.
    const valid = bytes(
      msg(wire.RTM_NEWLINK, 0, 1, [0, 0, ...u16(1), ...u32(2), ...u32(1), ...u32(0), ...attr(wire.IFLA_IFNAME, cstr("x")), ...attr(0x8000 | 18, attr(1, cstr("veth")))]),
      msg(wire.RTM_NEWADDR, 0, 1, [wire.AF_INET6, 64, 0, 0, ...u32(2), ...attr(wire.IFA_ADDRESS, new Array<number>(16).fill(1))]),
      msg(wire.RTM_NEWROUTE, 0, 1, [wire.AF_INET, 0, 0, 0, 254, 3, 0, 1, ...u32(0), ...attr(wire.RTA_MULTIPATH, [...u16(8), 0, 0, ...u32(2)])]),
      msg(wire.NLMSG_ERROR, wire.NLM_F_ACK_TLVS, 1, [...u32(0), ...msg(20, 5, 1, [])]),
    );
    for (let i = 0; i < 3000; i++) {
      if (i % 3 === 0) {
        samples.push(Uint8Array.from({ length: rand() % 96 }, () => rand() & 0xff));
      } else {
        const c = valid.slice(0, rand() % (valid.length + 1));
        for (let k = 0; k < 1 + (rand() % 4) && c.length > 0; k++) c[rand() % c.length] = rand() & 0xff;
        samples.push(c);
      }
    }
    let parsed = 0;
    let rejected = 0;
    for (const s of samples) {
      try {
        for (const m of wire.parseMessages(s)) {
          if (m.type === wire.RTM_NEWLINK) parseLink(m);
          else if (m.type === wire.RTM_NEWADDR) parseAddress(m);
          else if (m.type === wire.RTM_NEWROUTE) parseRoute(m);
          else if (m.type === wire.NLMSG_ERROR) wire.parseError(m);
          else if (m.type === wire.NLMSG_DONE) wire.parseDone(m);
        }
        parsed++;
      } catch (e) {
        if (!(e instanceof NetlinkError)) throw e;
        expect(e.code).toBe("EBADMSG");
        rejected++;
      }
    }
    expect(parsed).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});

describe("addresses as text", () => {
  it("formats IPv6 the RFC 5952 way", () => {
    const t = (s: string): string => formatIp(parseIp(s)!.bytes);
    expect(t("2001:0db8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(t("2001:db8:0:1:0:0:0:1")).toBe("2001:db8:0:1::1");
    expect(t("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(t("::")).toBe("::");
    expect(t("::1")).toBe("::1");
    expect(t("fe80::")).toBe("fe80::");
    expect(t("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2:3:4:5:6");
    expect(t("::ffff:203.0.113.2")).toBe("::ffff:cb00:7102");
    expect(t("203.0.113.2")).toBe("203.0.113.2");
  });

  it("rejects malformed text", () => {
    for (const s of ["", "1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "::g", "1:2:3:4:5:6:7::8"]) {
      expect(parseIp(s), s).toBeUndefined();
    }
  });
});

describe("errno names", () => {
  it("names kernel errnos as the kernel headers do", () => {
    expect([17, 19, 22, 95, 11, 1].map(errnoName)).toEqual(["EEXIST", "ENODEV", "EINVAL", "EOPNOTSUPP", "EAGAIN", "EPERM"]);
    expect(errnoName(4000)).toBe("ERRNO4000");
  });
});
