// Against the real kernel: each test builds its own network namespace, talks
// rtnetlink into it from a socket opened there on a helper thread, and checks
// the result with `ip -j` run inside the same namespace. Only documentation
// addresses are used, and nothing is written to the machine's own namespace.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { close, netnsUdpSocket, openNamespace } from "@x/syscalls";
import { isRoot, Netns, uniqueName } from "@x/harness";
import { isNetlinkError, NetlinkError, Rtnl, wire } from "../src/index.js";
import { NetlinkSocket } from "../src/socket.js";

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
}
interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  address?: string;
  flags: string[];
  addr_info?: IpAddrInfo[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev: string;
  metric?: number;
  protocol?: string;
}

function json<T>(ns: Netns, argv: string[]): T {
  return JSON.parse(ns.sh(argv)) as T;
}

async function rejection(p: Promise<unknown>): Promise<NetlinkError> {
  try {
    await p;
  } catch (e) {
    expect(isNetlinkError(e)).toBe(true);
    return e as NetlinkError;
  }
  throw new Error("expected the promise to reject");
}

/** A namespace with a veth pair (a, b) and an Rtnl opened inside it. */
class World {
  readonly ns = new Netns(uniqueName("nl"));
  readonly nsFd = openNamespace(this.ns.path);
  readonly rtnl = Rtnl.open(this.nsFd);
  readonly a = uniqueName("va");
  readonly b = uniqueName("vb");

  constructor() {
    this.ns.sh(["ip", "link", "add", this.a, "type", "veth", "peer", "name", this.b]);
  }

  async index(name: string): Promise<number> {
    const l = await this.rtnl.linkByName(name);
    if (!l) throw new Error(`no link ${name}`);
    return l.index;
  }

  remove(): void {
    this.rtnl.close();
    close(this.nsFd);
    this.ns.remove();
  }
}

describe("own namespace, read only", () => {
  it("lists the links of Node's own namespace", async () => {
    const r = Rtnl.open();
    try {
      const links = await r.links();
      expect(links.find((l) => l.name === "lo")?.index).toBe(1);
    } finally {
      r.close();
    }
  });
});

describe.runIf(isRoot())("configuration in a namespace", () => {
  let w: World;
  beforeAll(async () => {
    w = new World();
    const i = await w.index(w.a);
    await w.rtnl.setLinkUp(w.a);
    await w.rtnl.setLinkUp(await w.index(w.b));
    await w.rtnl.setMtu(i, 1400);
    await w.rtnl.setLinkAddress(i, "02:00:5e:00:53:01");
    await w.rtnl.addAddress(i, 4, "203.0.113.2", 24);
    await w.rtnl.addAddress(i, 6, "2001:db8:1::2", 64, { nodad: true });
    await w.rtnl.addRoute(4, { gateway: "203.0.113.1", oif: i });
    await w.rtnl.addRoute(6, { gateway: "2001:db8:1::1", oif: i, metric: 512 });
    await w.rtnl.addRoute(4, { dst: "198.51.100.0", prefixLen: 25, gateway: "203.0.113.254", oif: i, metric: 7 });
  });
  afterAll(() => w?.remove());

  it("the kernel has exactly the link settings we sent", () => {
    const [l] = json<IpLink[]>(w.ns, ["ip", "-j", "link", "show", "dev", w.a]);
    expect(l?.mtu).toBe(1400);
    expect(l?.address).toBe("02:00:5e:00:53:01");
    expect(l?.flags).toContain("UP");
  });

  it("the kernel has exactly the addresses we sent", () => {
    const [l] = json<IpLink[]>(w.ns, ["ip", "-j", "addr", "show", "dev", w.a]);
    const mine = (l?.addr_info ?? []).filter((a) => a.scope === "global").map((a) => [a.family, a.local, a.prefixlen]);
    expect(mine).toEqual([
      ["inet", "203.0.113.2", 24],
      ["inet6", "2001:db8:1::2", 64],
    ]);
  });

  it("the kernel has exactly the routes we sent", () => {
    const r4 = json<IpRoute[]>(w.ns, ["ip", "-j", "route"]);
    expect(r4.filter((r) => r.gateway).map((r) => [r.dst, r.gateway, r.dev, r.metric ?? 0])).toEqual([
      ["default", "203.0.113.1", w.a, 0],
      ["198.51.100.0/25", "203.0.113.254", w.a, 7],
    ]);
    const r6 = json<IpRoute[]>(w.ns, ["ip", "-j", "-6", "route"]);
    expect(r6.filter((r) => r.gateway).map((r) => [r.dst, r.gateway, r.dev, r.metric])).toEqual([["default", "2001:db8:1::1", w.a, 512]]);
  });

  it("links() agrees with ip -j link", async () => {
    const ours = await w.rtnl.links();
    const theirs = json<IpLink[]>(w.ns, ["ip", "-j", "link"]);
    expect(ours.map((l) => [l.index, l.name, l.mtu, l.macText, l.up])).toEqual(
      theirs.map((l) => [l.ifindex, l.ifname, l.mtu, l.address, l.flags.includes("UP")]),
    );
    expect((await w.rtnl.linkByName(w.a))?.kind).toBe("veth");
    expect(await w.rtnl.linkByName("nosuchlink0")).toBeUndefined();
  });

  it("addresses() agrees with ip -j addr", async () => {
    const ours = await w.rtnl.addresses();
    const theirs = json<IpLink[]>(w.ns, ["ip", "-j", "addr"]).flatMap((l) =>
      (l.addr_info ?? []).map((a) => [l.ifindex, a.family === "inet" ? 4 : 6, a.local, a.prefixlen, a.scope]),
    );
    const norm = (rows: (string | number)[][]): (string | number)[][] => [...rows].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    expect(norm(ours.map((a) => [a.ifindex, a.family, a.address.text, a.prefixLen, a.scope === "global" ? "global" : a.scope]))).toEqual(norm(theirs));
    const v6 = await w.rtnl.addresses(6);
    expect(v6.every((a) => a.family === 6)).toBe(true);
    expect(v6.find((a) => a.address.text === "2001:db8:1::2")).toMatchObject({ nodad: true, tentative: false, scope: "global" });
    expect((await w.rtnl.addresses(4)).map((a) => [a.address.text, a.scope])).toEqual([
      ["127.0.0.1", "host"],
      ["203.0.113.2", "global"],
    ]);
  });

  it("routes() agrees with ip -j route, for both families", async () => {
    for (const family of [4, 6] as const) {
      const ours = await w.rtnl.routes(family);
      const theirs = json<IpRoute[]>(w.ns, ["ip", "-j", `-${family}`, "route"]);
      const links = await w.rtnl.links();
      const name = (i: number | undefined): string | undefined => links.find((l) => l.index === i)?.name;
      expect(ours.map((r) => [r.dst ? `${r.dst.text}/${r.prefixLen}` : "default", r.gateway?.text, name(r.oif)])).toEqual(
        theirs.map((r) => [r.dst === "default" || r.dst.includes("/") ? r.dst : `${r.dst}/${family === 4 ? 32 : 128}`, r.gateway, r.dev]),
      );
      if (family === 6) {
        expect(ours.map((r) => r.priority)).toEqual(theirs.map((r) => r.metric ?? 0));
      }
    }
  });

  it("adding an address twice gives EEXIST", async () => {
    const e = await rejection(w.rtnl.addAddress(await w.index(w.a), 4, "203.0.113.2", 24));
    expect(e.code).toBe("EEXIST");
    expect(e.errno).toBe(17);
  });

  it("adding a route twice gives EEXIST", async () => {
    expect((await rejection(w.rtnl.addRoute(4, { gateway: "203.0.113.1", oif: await w.index(w.a) }))).code).toBe("EEXIST");
  });

  it("a missing ifindex gives ENODEV", async () => {
    expect((await rejection(w.rtnl.addAddress(9999, 4, "198.51.100.1", 24))).code).toBe("ENODEV");
    expect((await rejection(w.rtnl.setMtu(9999, 1400))).code).toBe("ENODEV");
    expect((await rejection(w.rtnl.setLinkUp("nosuchlink0"))).code).toBe("ENODEV");
  });

  it("refuses bad arguments with EINVAL before asking the kernel", async () => {
    const i = await w.index(w.a);
    expect((await rejection(w.rtnl.addAddress(i, 4, "2001:db8::1", 24))).code).toBe("EINVAL");
    expect((await rejection(w.rtnl.addAddress(i, 6, "2001:db8::1", 129))).code).toBe("EINVAL");
    expect((await rejection(w.rtnl.setLinkAddress(i, "02:00"))).code).toBe("EINVAL");
    expect((await rejection(w.rtnl.addRoute(4, { prefixLen: 8, oif: i }))).code).toBe("EINVAL");
  });

  it("serves concurrent requests without mixing their replies", async () => {
    const [links, a4, a6, r4, r6] = await Promise.all([
      w.rtnl.links(),
      w.rtnl.addresses(4),
      w.rtnl.addresses(6),
      w.rtnl.routes(4),
      w.rtnl.routes(6),
    ]);
    expect(links.length).toBe(3);
    expect(a4.every((a) => a.family === 4) && a6.every((a) => a.family === 6)).toBe(true);
    expect(r4.every((r) => r.family === 4) && r6.every((r) => r.family === 6)).toBe(true);
  });

  it("adds an onlink gateway outside every prefix, and deletes routes and addresses", async () => {
    const i = await w.index(w.b);
    await w.rtnl.addAddress(i, 4, "198.51.100.9", 32);
    await w.rtnl.addRoute(4, { dst: "198.51.100.128", prefixLen: 25, gateway: "198.51.100.1", oif: i, onlink: true });
    const r = (await w.rtnl.routes(4)).find((x) => x.dst?.text === "198.51.100.128");
    expect(r).toMatchObject({ onlink: true, oif: i, prefixLen: 25 });
    expect(w.ns.sh(["ip", "route", "show", "198.51.100.128/25"])).toMatch(/via 198\.51\.100\.1 dev \S+ onlink/);
    await w.rtnl.deleteRoute(4, { dst: "198.51.100.128", prefixLen: 25, gateway: "198.51.100.1", oif: i });
    await w.rtnl.deleteAddress(i, 4, "198.51.100.9", 32);
    expect(w.ns.sh(["ip", "route", "show", "198.51.100.128/25"]).trim()).toBe("");
    expect(w.ns.sh(["ip", "-4", "addr", "show", "dev", w.b])).not.toMatch(/198\.51\.100\.9/);
  });
});

describe.runIf(isRoot())("templateInterface()", () => {
  const worlds: World[] = [];
  afterEach(() => {
    while (worlds.length) worlds.pop()?.remove();
  });
  function world(): World {
    const w = new World();
    worlds.push(w);
    return w;
  }
  /** The host of pasta's tests: a veth with addresses and both default routes. */
  function hostLike(w: World, v6gw = "2001:db8:1::1"): void {
    w.ns.sh(["ip", "link", "set", w.a, "mtu", "1400", "address", "02:00:5e:00:53:02"]);
    w.ns.sh(["ip", "link", "set", w.a, "up"]);
    w.ns.sh(["ip", "link", "set", w.b, "up"]);
    w.ns.sh(["ip", "addr", "add", "203.0.113.2/24", "dev", w.a]);
    w.ns.sh(["ip", "addr", "add", "2001:db8:1::2/64", "dev", w.a, "nodad"]);
    w.ns.sh(["ip", "route", "add", "default", "via", "203.0.113.1", "dev", w.a]);
    w.ns.sh(["ip", "-6", "route", "add", "default", "via", v6gw, "dev", w.a]);
  }

  it("finds the interface with the default route and what pasta copies from it", async () => {
    const w = world();
    hostLike(w);
    const t = await w.rtnl.templateInterface();
    expect(t.name).toBe(w.a);
    expect(t.ifindex).toBe(await w.index(w.a));
    expect(t.mtu).toBe(1400);
    expect(t.macText).toBe("02:00:5e:00:53:02");
    expect(Array.from(t.mac ?? [])).toEqual([2, 0, 0x5e, 0, 0x53, 2]);
    expect(t.ip4?.address?.text).toBe("203.0.113.2");
    expect(t.ip4?.prefixLen).toBe(24);
    expect(t.ip4?.gateway?.text).toBe("203.0.113.1");
    expect(t.ip6?.address?.text).toBe("2001:db8:1::2");
    expect(t.ip6?.prefixLen).toBe(64);
    expect(t.ip6?.gateway?.text).toBe("2001:db8:1::1");
    expect(t.ip6?.linkLocal?.text).toMatch(/^fe80::/);
  });

  it("takes the named interface when asked, even without a default route", async () => {
    const w = world();
    hostLike(w);
    w.ns.sh(["ip", "addr", "add", "198.51.100.7/25", "dev", w.b]);
    const t = await w.rtnl.templateInterface({ ifname: w.b });
    expect(t.name).toBe(w.b);
    expect(t.mtu).toBe(1500);
    expect(t.ip4).toEqual({ address: expect.objectContaining({ text: "198.51.100.7" }), prefixLen: 25, gateway: undefined });
    expect(t.ip6).toBeUndefined();
    const e = await rejection(w.rtnl.templateInterface({ ifname: "nosuchlink0" }));
    expect(e.code).toBe("ENODEV");
    expect(e.message).toMatch(/no interface named 'nosuchlink0'/);
  });

  it("accepts a link-local IPv6 gateway", async () => {
    const w = world();
    hostLike(w, "fe80::1");
    const t = await w.rtnl.templateInterface();
    expect(t.ip6?.gateway?.text).toBe("fe80::1");
  });

  it("falls back to the IPv6 default route, and leaves IPv4 out when there is none", async () => {
    const w = world();
    w.ns.sh(["ip", "link", "set", w.a, "up"]);
    w.ns.sh(["ip", "link", "set", w.b, "up"]);
    w.ns.sh(["ip", "addr", "add", "2001:db8:2::5/64", "dev", w.b, "nodad"]);
    w.ns.sh(["ip", "-6", "route", "add", "default", "via", "2001:db8:2::1", "dev", w.b]);
    const t = await w.rtnl.templateInterface();
    expect(t.name).toBe(w.b);
    expect(t.ip4).toBeUndefined();
    expect(t.ip6?.address?.text).toBe("2001:db8:2::5");
    expect(t.ip6?.gateway?.text).toBe("2001:db8:2::1");
  });

  it("says clearly that there is no template interface without a default route", async () => {
    const w = world();
    w.ns.sh(["ip", "link", "set", w.a, "up"]);
    w.ns.sh(["ip", "addr", "add", "203.0.113.2/24", "dev", w.a]);
    const e = await rejection(w.rtnl.templateInterface());
    expect(e.code).toBe("ENODEV");
    expect(e.message).toMatch(/no template interface: there is no IPv4 or IPv6 default route/);
  });
});

describe.runIf(isRoot())("a peer that never answers", () => {
  it("times out with ETIMEDOUT instead of hanging, again on the next request, and EBADF once closed", async () => {
    const ns = new Netns(uniqueName("nl"));
    const nsFd = openNamespace(ns.path);
    try {
      // A UDP socket connected to itself inside the namespace: every request
      // comes back as its own "reply", which is never an ack nor a DONE.
      const port = 40000 + (process.pid % 20000);
      const fd = netnsUdpSocket(nsFd, { family: 4, address: "127.0.0.1", port, connectAddress: "127.0.0.1", connectPort: port });
      const sock = new NetlinkSocket(fd, { timeoutMs: 200 });
      try {
        const b = new wire.MessageBuilder(wire.RTM_GETLINK, 0).bytes(wire.ifinfomsg({}));
        const started = Date.now();
        const e = await rejection(sock.dump(b, "list links"));
        expect(e.code).toBe("ETIMEDOUT");
        expect(e.message).toMatch(/no answer from the kernel within 200 ms/);
        expect(Date.now() - started).toBeLessThan(2000);
        expect((await rejection(sock.request(b, "get link"))).code).toBe("ETIMEDOUT");
      } finally {
        sock.close();
      }
      const closed = await rejection(sock.request(new wire.MessageBuilder(wire.RTM_GETLINK, 0), "after close"));
      expect(closed.code).toBe("EBADF");
    } finally {
      close(nsFd);
      ns.remove();
    }
  });
});
