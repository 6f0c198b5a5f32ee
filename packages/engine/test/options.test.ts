// The shared passt/pasta command line: spellings from passt(1)/pasta(1), getopt's
// rules (clusters, attached values, --name=value, unique prefixes of long names),
// one-line UsageErrors, and the DNS/search advertising defaults of each mode.
import { describe, expect, it } from "vitest";
import { UsageError, buildNetConfig, helpText, manPage, parseOptions, type HostTemplate } from "../src/index.js";

/** A valid value for an option that takes one, for the documentation test. */
function sample(long: string): string {
  const values: Record<string, string> = {
    "log-size": "65536", mtu: "1500", address: "203.0.113.5", netmask: "24", "mac-addr": "02:00:00:00:00:02",
    gateway: "203.0.113.1", outbound: "203.0.113.5", dns: "203.0.113.53", "dns-forward": "169.254.1.1",
    "dns-host": "203.0.113.53", "map-host-loopback": "203.0.113.1", "map-guest-addr": "169.254.1.2",
    "tcp-ports": "22", "udp-ports": "53", "tcp-ns": "22", "udp-ns": "53", fd: "3", "ns-mac-addr": "02:00:00:00:00:03",
    "max-bindings": "100", "max-flows": "100", runas: "nobody",
  };
  return values[long] ?? "x";
}

const usage = (mode: "pasta" | "passt", argv: string[]): string => {
  try {
    parseOptions(mode, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(" ")}`);
};

describe("command line", () => {
  it("takes the man pages' long names for namespace-side ports, and -U/-T", () => {
    const a = parseOptions("pasta", ["--udp-ns", "5353", "--tcp-ns", "none", "--", "true"]);
    const b = parseOptions("pasta", ["-U", "5353", "-T", "none", "true"]);
    expect(a.udpOut).toEqual(b.udpOut);
    expect(a.udpOut.entries.length).toBe(1);
    expect(a.command).toEqual(["true"]);
  });

  it("takes TCP port specs for -t and -T as -u and -U take them, and --no-tcp", () => {
    const o = parseOptions("pasta", ["-t", "8080:80,9000-9002,~9001", "--tcp-ns=auto", "--", "true"]);
    expect(o.tcp).toBe(true);
    expect(o.tcpIn.mode).toBe("list");
    expect(o.tcpIn.entries.map((e) => [e.start, e.end, e.toStart])).toEqual([
      [8080, 8080, 80],
      [9000, 9002, undefined],
    ]);
    expect(o.tcpIn.exclude).toEqual([{ start: 9001, end: 9001 }]);
    expect(o.tcpOut.mode).toBe("auto");
    expect(parseOptions("passt", ["-t", "all"]).tcpIn.entries).toEqual([{ start: 1, end: 65535 }]);
    expect(parseOptions("passt", ["--no-tcp"]).tcp).toBe(false);
    expect(() => parseOptions("passt", ["-T", "22"])).toThrow(/invalid option -- 'T'/);
    expect(() => parseOptions("pasta", ["-t", "70000"])).toThrow(/70000/);
  });

  it("accepts unique prefixes of long names, as getopt_long does, and refuses ambiguous ones", () => {
    expect(parseOptions("passt", ["--fore", "--sock=/tmp/x.socket"]).foreground).toBe(true);
    expect(parseOptions("passt", ["--sock=/tmp/x.socket"]).socket).toBe("/tmp/x.socket");
    // An exact name wins over the longer names it begins.
    expect(parseOptions("passt", ["--no-dhcp"]).dhcp).toBe(false);
    expect(parseOptions("passt", ["--no-dhcp"]).dhcpDns).toBe(true);
    expect(usage("passt", ["--no-dhcp-"])).toBe("option '--no-dhcp-' is ambiguous; possibilities: '--no-dhcp-dns' '--no-dhcp-search'");
    expect(usage("pasta", ["--d"])).toMatch(/ambiguous/);
    // Prefixes only count among the options of the running mode.
    expect(parseOptions("pasta", ["--udp-n", "53", "true"]).udpOut.entries.length).toBe(1);
    expect(usage("passt", ["--udp-n", "53"])).toBe("unrecognized option '--udp-n'");
  });

  it("clusters short flags and takes attached or separate values", () => {
    const o = parseOptions("passt", ["-fdu5000", "-s", "/tmp/a.socket", "-1"]);
    expect([o.foreground, o.debug, o.oneOff, o.socket]).toEqual([true, true, true, "/tmp/a.socket"]);
    expect(o.udpIn.entries.length).toBe(1);
  });

  it("takes an inherited socket for passt with -F/--fd, not together with a socket path", () => {
    expect(parseOptions("passt", ["-F", "3"]).fd).toBe(3);
    expect(parseOptions("passt", ["--fd=7"]).fd).toBe(7);
    expect(usage("passt", ["--fd", "3", "-s", "/tmp/x.socket"])).toBe("--fd and --socket cannot be used together");
    expect(usage("passt", ["--fd", "-1"])).toMatch(/--fd/);
    // pasta takes -F too: an open tap device.
    expect(parseOptions("pasta", ["--fd", "3", "true"]).fd).toBe(3);
  });

  it("takes every option of the 2024_12_11 man page, in each of getopt's forms", () => {
    const o = parseOptions("pasta", [
      "-e", "--log-size=65536", "--runas", "nobody:nogroup", "-o", "203.0.113.9", "--outbound=2001:db8::9",
      "--outbound-if4", "eth0", "--outbound-if6=eth1", "--freebind", "--host-lo-to-ns-lo", "--netns-only",
      "--no-copy-routes", "--no-copy-addrs", "--ns-mac-addr", "02:00:00:00:00:01", "--no-splice", "-m0", "true",
    ]);
    expect(o).toMatchObject({ logSize: 65536, runas: "nobody:nogroup", outboundIf4: "eth0", outboundIf6: "eth1", freebind: true });
    expect(o).toMatchObject({ hostLoToNsLo: true, netnsOnly: true, noCopyRoutes: true, noCopyAddrs: true, splice: false, advertiseMtu: false });
    expect([...(o.outbound4 ?? [])]).toEqual([203, 0, 113, 9]);
    expect(o.outbound6?.length).toBe(16);
    expect([...(o.nsMac ?? [])]).toEqual([2, 0, 0, 0, 0, 1]);
    const p = parseOptions("passt", ["--socket-path=/tmp/p.socket", "--print-capabilities", "--vhost-user", "-oVALUE".replace("VALUE", "203.0.113.9")]);
    expect(p).toMatchObject({ socket: "/tmp/p.socket", printCapabilities: true, vhostUser: true });
    expect(usage("passt", ["--log-size", "40959"])).toBe("Invalid --log-size: 40959");
    expect(usage("passt", ["-m", "67"])).toBe("Invalid MTU: 67");
    expect(parseOptions("passt", ["-m", "65535"]).mtu).toBe(65520);
    expect(usage("passt", ["--host-lo-to-ns-lo"])).toBe("unrecognized option '--host-lo-to-ns-lo'");
  });

  it("forwards 'auto' in pasta where no spec was given, and nothing in passt, as C does", () => {
    const o = parseOptions("pasta", ["-t", "none", "true"]);
    expect([o.tcpIn.mode, o.tcpOut.mode, o.udpIn.mode, o.udpOut.mode]).toEqual(["none", "auto", "auto", "auto"]);
    const p = parseOptions("passt", []);
    expect([p.tcpIn.mode, p.udpIn.mode]).toEqual(["none", "none"]);
    expect(parseOptions("pasta", ["--netns", "/run/netns/x"]).netnsOnly).toBe(true);
  });

  it("documents every option it accepts, in --help and in the man page", async () => {
    const { SPECS } = await import("../src/option-table.js");
    for (const mode of ["passt", "pasta"] as const) {
      const help = helpText(mode);
      const man = manPage(mode, "0.0.0");
      for (const s of SPECS) {
        if (s.modes && !s.modes.includes(mode)) {
          expect(help).not.toContain(`--${s.long} `);
          continue;
        }
        expect(help).toContain(`--${s.long}`);
        expect(man).toContain(`\\-\\-${s.long.replace(/-/g, "\\-")}`);
        // And the parser takes what is documented.
        const argv = [`--${s.long}`, ...(s.arg ? [sample(s.long)] : []), ...(mode === "pasta" ? ["true"] : [])];
        if (s.long === "netns") argv.pop();
        if (s.long !== "userns") expect(() => parseOptions(mode, argv), argv.join(" ")).not.toThrow();
      }
      expect(man).toMatch(/^\.TH /m);
    }
  });

  it("says in one line what is wrong", () => {
    expect(usage("passt", ["--bogus"])).toBe("unrecognized option '--bogus'");
    expect(usage("passt", ["-s"])).toBe("option requires an argument -- 's'");
    expect(usage("passt", ["--socket"])).toBe("option '--socket' requires an argument");
    expect(usage("passt", ["--foreground=yes"])).toBe("option '--foreground' doesn't allow an argument");
    expect(usage("passt", ["--netns", "x"])).toBe("unrecognized option '--netns'");
    expect(usage("pasta", ["--one-off"])).toBe("unrecognized option '--one-off'");
    // C takes both (and so do we: debug wins); and passt has no auto forwarding.
    expect(parseOptions("pasta", ["-q", "-d", "true"]).debug).toBe(true);
    expect(usage("passt", ["-t", "auto"])).toBe("'auto' port forwarding is only allowed for pasta");
    expect(usage("passt", ["-a", "127.0.0.1"])).toBe("Invalid address: 127.0.0.1");
  });

  it("passes resolvers and search domains by DHCP/NDP in passt and not in pasta, unless told", () => {
    expect(parseOptions("passt", []).dhcpDns).toBe(true);
    expect(parseOptions("passt", ["--no-dhcp-dns", "--no-dhcp-search"])).toMatchObject({ dhcpDns: false, dhcpSearch: false });
    expect(parseOptions("pasta", ["true"])).toMatchObject({ dhcpDns: false, dhcpSearch: false });
    expect(parseOptions("pasta", ["--dhcp-dns", "--dhcp-search", "true"])).toMatchObject({ dhcpDns: true, dhcpSearch: true });
    expect(usage("pasta", ["--no-dhcp-dns"])).toBe("unrecognized option '--no-dhcp-dns'");
    expect(usage("passt", ["--dhcp-search"])).toBe("unrecognized option '--dhcp-search'");

    const t: HostTemplate = {
      ifname: "eth0",
      ifindex: 2,
      mtu: 1500,
      addr4: { address: new Uint8Array([203, 0, 113, 2]), prefixLen: 24 },
      gw4: new Uint8Array([203, 0, 113, 1]),
    };
    const resolv = { nameservers: [new Uint8Array([198, 51, 100, 53])], search: ["example.org"] };
    const passt = buildNetConfig(parseOptions("passt", []), t, resolv);
    expect([passt.advertiseDns, passt.advertiseSearch, passt.v4?.dns.length, passt.search]).toEqual([true, true, 1, ["example.org"]]);
    const pasta = buildNetConfig(parseOptions("pasta", ["true"]), t, resolv);
    expect([pasta.advertiseDns, pasta.advertiseSearch]).toEqual([false, false]);
  });

  it("takes podman's invocation, with the address translations it asks for", () => {
    const argv = ["--config-net", "--dns-forward", "169.254.1.1", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
      "--no-map-gw", "--quiet", "--netns", "/run/netns/x", "--map-guest-addr", "169.254.1.2"];
    const o = parseOptions("pasta", argv);
    expect([...(o.dnsForward4 ?? [])]).toEqual([169, 254, 1, 1]);
    expect([...(o.mapGuestAddr4 ?? [])]).toEqual([169, 254, 1, 2]);
    expect(o.mapGw).toBe(false);
    const t: HostTemplate = {
      ifname: "eth0",
      ifindex: 2,
      mtu: 1500,
      addr4: { address: new Uint8Array([203, 0, 113, 2]), prefixLen: 24 },
      gw4: new Uint8Array([203, 0, 113, 1]),
    };
    const cfg = buildNetConfig(o, t, { nameservers: [new Uint8Array([198, 51, 100, 53])], search: [] });
    // Queries to the forward address reach the host's first nameserver, and the guest is told the forward address.
    expect([...(cfg.v4?.dnsHost ?? [])]).toEqual([198, 51, 100, 53]);
    expect(cfg.v4?.dns.map((d) => [...d])).toEqual([[169, 254, 1, 1]]);
    expect([...(cfg.v4?.mapGuestAddr ?? [])]).toEqual([169, 254, 1, 2]);
    const host = buildNetConfig(parseOptions("pasta", ["--dns-forward", "169.254.1.1", "--dns-host", "203.0.113.53", "true"]), t, { nameservers: [], search: [] });
    expect([...(host.v4?.dnsHost ?? [])]).toEqual([203, 0, 113, 53]);
    const none = parseOptions("pasta", ["--map-host-loopback", "none", "true"]);
    expect([none.mapHostLoopback4, none.mapHostLoopback6, none.mapGw]).toEqual([null, null, false]);
    expect(usage("pasta", ["--dns-forward", "nowhere"])).toMatch(/invalid address 'nowhere' for --dns-forward/);
  });
});
