import { describe, expect, it } from "vitest";
import { AutoForwarder, mergePortSpecs, parsePortSpec, parseProcNetUdp, parseProcNetTcpListen, type PortSpec } from "../src/index.js";

const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  133: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 19793 2 0000000000000000 0
  198: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 17520 2 0000000000000000 0
  201: 0100007F:1F90 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 88001 2 0000000000000000 0
  202: 0F02000A:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 88002 2 0000000000000000 0
`;

const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   10: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 19794 2 0000000000000000 0
   11: 00000000000000000000000001000000:0223 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 19795 2 0000000000000000 0
   12: 00000000000000000000000001000000:C350 00000000000000000000000001000000:0035 01 00000000:00000000 00:00000000 00000000     0        0 19796 2 0000000000000000 0
`;

describe("parseProcNetUdp", () => {
  it("returns bound, unconnected sockets from /proc/net/udp with their ports and inodes", () => {
    expect(parseProcNetUdp(UDP)).toEqual([
      { port: 5353, inode: 19793 },
      { port: 53, inode: 17520 },
      { port: 68, inode: 88002 },
    ]);
  });

  it("reads /proc/net/udp6 too, and skips connected sockets", () => {
    expect(parseProcNetUdp(UDP6)).toEqual([
      { port: 5353, inode: 19794 },
      { port: 547, inode: 19795 },
    ]);
  });

  it("skips the header, blank and malformed lines, and port 0", () => {
    const text = [
      "garbage",
      "",
      "   1: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 5 2 0 0",
      "   2: 0000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 6 2 0 0",
      "   3: 00000000:0035 00000000:0000 07",
      "   4: 00000000:0035 00000000:0001 07 00000000:00000000 00:00000000 00000000 0 0 7 2 0 0",
      "   5: 00000000:FFFF 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 8 2 0 0",
    ].join("\n");
    expect(parseProcNetUdp(text)).toEqual([{ port: 65535, inode: 8 }]);
    expect(parseProcNetUdp("")).toEqual([]);
  });
});

/** A /proc/net/udp text with unconnected sockets on these (port, inode) pairs. */
function table(...socks: [number, number][]): string {
  const head = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";
  return (
    head +
    socks
      .map(
        ([p, inode], i) =>
          `  ${i}: 00000000:${p.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 ${inode} 2 0000000000000000 0`,
      )
      .join("\n") +
    "\n"
  );
}

function spec(...args: string[]): PortSpec {
  return mergePortSpecs(args.map(parsePortSpec));
}

function rig(udpIn: PortSpec, udpOut: PortSpec) {
  const calls: string[] = [];
  const failing = new Set<string>();
  const state = {
    ns: [table()] as string[] | undefined,
    host: [table()],
    own: new Set<number>(),
    hostThrows: false,
  };
  const engine = {
    addForward: (d: "inbound" | "outbound", p: number) => {
      calls.push(`+${d} ${p}`);
      return failing.has(`${d} ${p}`) ? [{ port: p, family: 4 as const, side: "host" as const, code: "EADDRINUSE" }] : [];
    },
    removeForward: (d: "inbound" | "outbound", p: number) => {
      calls.push(`-${d} ${p}`);
      return true;
    },
  };
  const lines: string[] = [];
  const fwd = new AutoForwarder(engine, {
    udpIn,
    udpOut,
    readNamespace: () => state.ns,
    readHost: () => {
      if (state.hostThrows) throw new Error("EACCES");
      return state.host;
    },
    ownInodes: () => state.own,
    log: { debug: (m) => lines.push(m), info: (m) => lines.push(m) },
  });
  const take = (): string[] => calls.splice(0);
  return { fwd, state, take, failing, lines };
}

describe("AutoForwarder", () => {
  it("is inactive without auto, and does nothing then", () => {
    const r = rig(spec("53"), spec("none"));
    expect(r.fwd.active).toBe(false);
    r.state.ns = [table([5000, 1])];
    r.fwd.scan();
    expect(r.take()).toEqual([]);
  });

  it("-u auto: forwards ports bound in the namespace, and removes them when they go", () => {
    const r = rig(spec("auto"), spec("none"));
    r.state.ns = [table([5000, 1]), table([5000, 2], [6000, 3])];
    r.state.host = [table([7000, 4])];
    r.fwd.scan();
    expect(r.take()).toEqual(["+inbound 5000", "+inbound 6000"]);
    r.fwd.scan();
    expect(r.take()).toEqual([]);
    r.state.ns = [table([6000, 3], [6001, 5])];
    r.fwd.scan();
    expect(r.take()).toEqual(["-inbound 5000", "+inbound 6001"]);
    expect(r.fwd.forwarded("inbound")).toEqual([6000, 6001]);
    expect(r.fwd.forwarded("outbound")).toEqual([]);
  });

  it("-U auto: forwards ports bound on the host into the namespace", () => {
    const r = rig(spec("none"), spec("auto"));
    r.state.host = [table([53, 1], [5353, 2])];
    r.fwd.scan();
    expect(r.take()).toEqual(["+outbound 53", "+outbound 5353"]);
    r.state.host = [table([5353, 2])];
    r.fwd.scan();
    expect(r.take()).toEqual(["-outbound 53"]);
  });

  it("ignores our own sockets, and never forwards back a port forwarded the other way", () => {
    const r = rig(spec("auto"), spec("auto"));
    r.state.ns = [table([5000, 1])];
    r.fwd.scan();
    // The -u forward of 5000 now holds the port on the host: ours, and forwarded the other way.
    r.state.host = [table([5000, 100], [68, 101], [9000, 102])];
    r.state.own = new Set([100, 101]);
    r.fwd.scan();
    expect(r.take()).toEqual(["+inbound 5000", "+outbound 9000"]);
    // Same port, not our socket: still not forwarded back while -u holds it.
    r.state.own = new Set();
    r.fwd.scan();
    expect(r.take()).toEqual(["+outbound 68"]);
  });

  it("respects exclusions and listed ports in other -u/-U options, in both directions", () => {
    const r = rig(spec("auto", "~53", "8000:80"), spec("auto", "2222"));
    expect(spec("auto", "~53").entries).toEqual([]);
    r.state.ns = [table([53, 1], [8000, 2], [2222, 3], [5000, 4])];
    r.state.host = [table([53, 5], [8000, 6], [2222, 7], [6000, 8])];
    r.fwd.scan();
    expect(r.take()).toEqual(["+inbound 5000", "+outbound 53", "+outbound 6000"]);
  });

  it("does not retry a port that could not be bound until it goes away and comes back", () => {
    const r = rig(spec("auto"), spec("none"));
    r.failing.add("inbound 5000");
    r.state.ns = [table([5000, 1])];
    r.fwd.scan();
    r.fwd.scan();
    expect(r.take()).toEqual(["+inbound 5000"]);
    r.state.ns = [table()];
    r.fwd.scan();
    r.state.ns = [table([5000, 1])];
    r.fwd.scan();
    expect(r.take()).toEqual(["-inbound 5000", "+inbound 5000"]);
  });

  it("keeps its forwards when a table cannot be read, and skips a namespace it cannot see", () => {
    const r = rig(spec("auto"), spec("auto"));
    r.state.ns = undefined;
    r.state.host = [table([53, 1])];
    r.fwd.scan();
    expect(r.take()).toEqual(["+outbound 53"]);
    r.state.hostThrows = true;
    r.fwd.scan();
    expect(r.take()).toEqual([]);
    expect(r.lines.some((l) => /cannot read the UDP tables: EACCES/.test(l))).toBe(true);
  });

  it("survives an engine that throws (stopped meanwhile)", () => {
    const r = rig(spec("auto"), spec("none"));
    const fwd = new AutoForwarder(
      {
        addForward: () => {
          throw new Error("UdpEngine is not running");
        },
        removeForward: () => false,
      },
      { udpIn: spec("auto"), udpOut: spec("none"), readNamespace: () => [table([1, 1])], readHost: () => [], ownInodes: () => new Set(), log: { debug: (m) => r.lines.push(m), info: () => {} } },
    );
    expect(() => fwd.scan()).not.toThrow();
    expect(r.lines.some((l) => /not running/.test(l))).toBe(true);
  });
});

describe("port specs with auto", () => {
  it("keeps explicit ports and exclusions next to auto, and an exclusion-only list no longer means every port", () => {
    expect(spec("auto", "~53")).toEqual({ mode: "auto", entries: [], exclude: [{ start: 53, end: 53 }] });
    expect(spec("auto", "5000")).toMatchObject({ mode: "auto", entries: [{ start: 5000, end: 5000 }] });
    expect(spec("~53")).toMatchObject({ mode: "list", entries: [{ start: 1, end: 65535 }], exclude: [{ start: 53, end: 53 }] });
    expect(spec("53", "none")).toMatchObject({ mode: "list" });
  });
});

describe("parseProcNetTcpListen", () => {
  it("takes the listening sockets of /proc/net/tcp and tcp6, and nothing else", () => {
    const text = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0",
      "   1: 0100007F:1F91 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 4 30 10 -1",
      "   2: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1",
      "   3: garbage",
    ].join("\n");
    expect(parseProcNetTcpListen(text)).toEqual([
      { port: 8080, inode: 4242 },
      { port: 22, inode: 77 },
    ]);
  });
});
