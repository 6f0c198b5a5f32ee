/**
 * What the guest is told about its network, derived once at start-up.
 *
 * Like the C passt and pasta, we copy the host: the guest gets the address,
 * prefix length, default gateway and MTU of the host's template interface
 * (the one with the default route, or -i), so that from the outside its
 * traffic looks exactly like the host's own. Command-line options (-a, -n,
 * -g, -m, -M, -D, -S) override each piece. DNS servers and search domains
 * come from /etc/resolv.conf; a resolver on the host's loopback (a local
 * stub such as 127.0.0.53) is reached through the gateway address, which
 * gateway mapping sends to the host's loopback, and is left out with
 * --no-map-gw, where it would be unreachable.
 */
import { readFileSync } from "node:fs";
import { isWireError, parseIpAddr, ipv6LinkLocalFromMac } from "@x/l2";
import type { Options } from "./options.js";

export interface HostTemplate {
  ifname: string;
  ifindex: number;
  mtu: number;
  mac?: Uint8Array;
  addr4?: { address: Uint8Array; prefixLen: number };
  addr6?: { address: Uint8Array; prefixLen: number };
  /** The host's IPv6 link-local address on the template interface. */
  linkLocal6?: Uint8Array;
  gw4?: Uint8Array;
  gw6?: Uint8Array;
}

/** The address translations of one family beyond the gateway (see @x/flow's AddressMap). */
export interface FamilyMaps {
  /** --map-host-loopback (null: none; absent: the gateway, unless --no-map-gw). */
  mapHostLoopback?: Uint8Array | null;
  /** --map-guest-addr: reaches the host's own address. */
  mapGuestAddr?: Uint8Array;
  /** --dns-forward and the resolver it reaches (--dns-host, else the host's first nameserver). */
  dnsForward?: Uint8Array;
  dnsHost?: Uint8Array;
}

export interface Family4 extends FamilyMaps {
  address: Uint8Array;
  prefixLen: number;
  gateway: Uint8Array;
  dns: Uint8Array[];
}

export interface Family6 extends FamilyMaps {
  address: Uint8Array;
  prefixLen: number;
  gateway: Uint8Array;
  /** Our link-local address, the source of NDP and DHCPv6. */
  ourLinkLocal: Uint8Array;
  dns: Uint8Array[];
}

export interface NetConfig {
  ourMac: Uint8Array;
  mtu: number;
  /** Whether DHCP and NDP tell the guest the MTU (-m 0: no). */
  advertiseMtu?: boolean;
  v4?: Family4;
  v6?: Family6;
  search: string[];
  mapGw: boolean;
  /**
   * Whether DHCP, DHCPv6 and NDP pass the resolvers and the search list on
   * (absent: yes). pasta leaves them out unless asked: its namespace reads
   * the host's resolv.conf.
   */
  advertiseDns?: boolean;
  advertiseSearch?: boolean;
  /** The host's template interface, for link-local scope ids. */
  template: HostTemplate;
}

/** passt's default MAC for its own side of the link. */
export const DEFAULT_OUR_MAC = new Uint8Array([0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]);
export const DEFAULT_MTU = 65520;

export interface Resolv {
  nameservers: Uint8Array[];
  search: string[];
}

/** Reads nameservers and search domains from a resolv.conf text. */
export function parseResolvConf(text: string): Resolv {
  const out: Resolv = { nameservers: [], search: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*/, "").trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === "nameserver" && rest[0]) {
      const a = parseIpAddr(rest[0].replace(/%.*/, ""));
      if (!isWireError(a)) out.nameservers.push(a);
    } else if ((key === "search" || key === "domain") && rest.length) {
      out.search = rest;
    }
  }
  return out;
}

function isLoopback(a: Uint8Array): boolean {
  if (a.length === 4) return a[0] === 127;
  return a.every((b, i) => (i === 15 ? b === 1 : b === 0));
}

export function readResolvConf(path = "/etc/resolv.conf"): Resolv {
  try {
    return parseResolvConf(readFileSync(path, "utf8"));
  } catch {
    return { nameservers: [], search: [] };
  }
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Combines the template, the options and resolv.conf into what the guest is told. */
export function buildNetConfig(o: Options, t: HostTemplate, resolv: Resolv = readResolvConf()): NetConfig {
  const ourMac = o.ourMac ?? DEFAULT_OUR_MAC;
  const cfg: NetConfig = {
    ourMac,
    mtu: o.mtu ?? DEFAULT_MTU,
    advertiseMtu: o.advertiseMtu,
    search: o.search.length ? o.search : resolv.search,
    mapGw: o.mapGw,
    advertiseDns: o.dhcpDns,
    advertiseSearch: o.dhcpSearch,
    template: t,
  };
  const dnsFor = (len: 4 | 16, gw: Uint8Array): Uint8Array[] => {
    const given = o.dns.filter((d) => d.length === len);
    if (given.length || o.dns.length) return given;
    const out: Uint8Array[] = [];
    for (const d of resolv.nameservers.filter((n) => n.length === len)) {
      if (!isLoopback(d)) out.push(d);
      else if (o.mapGw && !out.some((x) => x.every((b, i) => b === gw[i]))) out.push(gw);
    }
    return out;
  };
  /** The translations of one family, and the resolvers DHCP, DHCPv6 and NDP advertise for it. */
  const mapsFor = (len: 4 | 16, gw: Uint8Array): { maps: FamilyMaps; dns: Uint8Array[] } => {
    const v4 = len === 4;
    const maps: FamilyMaps = {};
    const mhl = v4 ? o.mapHostLoopback4 : o.mapHostLoopback6;
    if (mhl !== undefined) maps.mapHostLoopback = mhl;
    const mga = v4 ? o.mapGuestAddr4 : o.mapGuestAddr6;
    if (mga) maps.mapGuestAddr = mga;
    const fwd = v4 ? o.dnsForward4 : o.dnsForward6;
    const host = (v4 ? o.dnsHost4 : o.dnsHost6) ?? resolv.nameservers.find((n) => n.length === len);
    if (fwd) maps.dnsForward = fwd;
    if (fwd && host) maps.dnsHost = host;
    // The guest is told the forward address: its queries there reach the host's resolver.
    return { maps, dns: fwd && !o.dns.some((d) => d.length === len) ? [fwd] : dnsFor(len, gw) };
  };
  if (o.ipv4) {
    const address = o.address4 ?? t.addr4?.address;
    const gateway = o.gateway4 ?? t.gw4;
    if (address && gateway) {
      const m = mapsFor(4, gateway);
      cfg.v4 = { address, prefixLen: o.prefix4 ?? t.addr4?.prefixLen ?? 24, gateway, dns: m.dns, ...m.maps };
    } else if (o.address4 || o.gateway4) {
      throw new ConfigError("IPv4 needs both an address and a gateway (give -a and -g, or use a host with an IPv4 default route)");
    }
  }
  if (o.ipv6) {
    const address = o.address6 ?? t.addr6?.address;
    const gateway = o.gateway6 ?? t.gw6;
    if (address && gateway) {
      const m = mapsFor(16, gateway);
      cfg.v6 = {
        address,
        prefixLen: t.addr6?.prefixLen ?? 64,
        gateway,
        ourLinkLocal: ipv6LinkLocalFromMac(ourMac),
        dns: m.dns,
        ...m.maps,
      };
    } else if (o.address6 || o.gateway6) {
      throw new ConfigError("IPv6 needs both an address and a gateway (give -a and -g, or use a host with an IPv6 default route)");
    }
  }
  if (!cfg.v4 && !cfg.v6) {
    throw new ConfigError(`no usable IPv4 or IPv6 configuration on template interface ${t.ifname || "(none)"}: give -a and -g`);
  }
  return cfg;
}

