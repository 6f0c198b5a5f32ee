// The shared passt/pasta command line: spellings from passt(1)/pasta(1), getopt's
// rules (clusters, attached values, --name=value, unique prefixes of long names),
// one-line UsageErrors, and the DNS/search advertising defaults of each mode.
import { describe, expect, it } from "vitest";
import { UsageError, buildNetConfig, parseOptions, type HostTemplate } from "../src/index.js";

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
    expect(usage("pasta", ["--fd", "3"])).toBe("unrecognized option '--fd'");
  });

  it("says in one line what is wrong", () => {
    expect(usage("passt", ["--bogus"])).toBe("unrecognized option '--bogus'");
    expect(usage("passt", ["-s"])).toBe("option requires an argument -- 's'");
    expect(usage("passt", ["--socket"])).toBe("option '--socket' requires an argument");
    expect(usage("passt", ["--foreground=yes"])).toBe("option '--foreground' doesn't allow an argument");
    expect(usage("passt", ["--netns", "x"])).toBe("unrecognized option '--netns'");
    expect(usage("pasta", ["--one-off"])).toBe("unrecognized option '--one-off'");
    expect(usage("pasta", ["-q", "-d"])).toMatch(/cannot be used together/);
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
