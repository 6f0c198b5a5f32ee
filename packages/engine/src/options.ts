/**
 * The command line passt and pasta share, with the spellings and defaults
 * of passt(1) and pasta(1).
 *
 * One table lists every option once: its long and short names, whether it
 * takes a value, and which command accepts it. The parser walks argv with
 * getopt's rules (clustered short flags, `-xVALUE`, `--long=VALUE`, `--` to
 * end options) and fills a plain Options object; anything it does not know,
 * or a value that does not parse, is a UsageError with one line naming the
 * option, so the command can print it and exit 1 before starting anything.
 *
 * -t/-T and -u/-U take the same port specs (@x/flow's parsePortSpec);
 * --no-tcp, --no-udp and --no-icmp turn a transport off.
 */
import { isWireError, parseIpv4Addr, parseMac, parseIpAddr, type WireError } from "@x/l2";
import { mergePortSpecs, parsePortSpec, PortSpecError, type PortSpec } from "@x/flow";
import { UsageError } from "./usage-error.js";

export type Mode = "pasta" | "passt";

export interface Options {
  mode: Mode;
  help: boolean;
  version: boolean;
  debug: boolean;
  trace: boolean;
  quiet: boolean;
  logFile?: string;
  foreground: boolean;
  pidFile?: string;
  pcap?: string;
  ipv4: boolean;
  ipv6: boolean;
  address4?: Uint8Array;
  address6?: Uint8Array;
  prefix4?: number;
  gateway4?: Uint8Array;
  gateway6?: Uint8Array;
  mtu?: number;
  ourMac?: Uint8Array;
  ifname?: string;
  mapGw: boolean;
  /** --map-host-loopback per family; null is `none`. */
  mapHostLoopback4?: Uint8Array | null;
  mapHostLoopback6?: Uint8Array | null;
  /** --map-guest-addr per family; null is `none`. */
  mapGuestAddr4?: Uint8Array | null;
  mapGuestAddr6?: Uint8Array | null;
  /** --dns-forward and --dns-host, per family. */
  dnsForward4?: Uint8Array;
  dnsForward6?: Uint8Array;
  dnsHost4?: Uint8Array;
  dnsHost6?: Uint8Array;
  dns: Uint8Array[];
  search: string[];
  dhcp: boolean;
  ndp: boolean;
  dhcpv6: boolean;
  ra: boolean;
  /**
   * Whether DHCP, DHCPv6 and NDP tell the guest its DNS resolvers and search
   * list: passt does by default (--no-dhcp-dns, --no-dhcp-search turn it
   * off), pasta does not (--dhcp-dns, --dhcp-search turn it on), as in C.
   */
  dhcpDns: boolean;
  dhcpSearch: boolean;
  udp: boolean;
  /** TCP (--no-tcp turns it off). */
  tcp: boolean;
  /** -t: host ports forwarded to the guest. */
  tcpIn: PortSpec;
  /** -T: namespace ports forwarded to the host (pasta). */
  tcpOut: PortSpec;
  /** ICMP/ICMPv6 echo (--no-icmp turns it off). */
  icmp: boolean;
  /** -u: host ports forwarded to the guest. */
  udpIn: PortSpec;
  /** -U: namespace ports forwarded to the host (pasta). */
  udpOut: PortSpec;
  // pasta
  netns?: string;
  userns?: string;
  nsIfname?: string;
  configNet?: boolean;
  noNetnsQuit: boolean;
  /** The command to run, or empty. */
  command: string[];
  /** pasta PID: join that process's namespaces. */
  targetPid?: number;
  // passt
  socket?: string;
  oneOff: boolean;
  /** -F: an already connected stream socket to the guest (implies --one-off). */
  fd?: number;
  /** Ours, not in passt(1): most live UDP bindings (guest source ports); default from the descriptor limit. */
  maxBindings?: number;
  /** Ours, not in passt(1): the flow table's cap, for every transport (default 16384). */
  maxFlows?: number;
}

interface Spec {
  long: string;
  short?: string;
  arg: boolean;
  modes?: Mode[];
  apply: (o: Options, value: string, name: string, c: Collect) => void;
}

function need(v: Uint8Array | WireError, name: string, value: string, what: string): Uint8Array {
  if (isWireError(v)) throw new UsageError(`invalid ${what} '${value}' for ${name}`);
  return v;
}

/** Options that take one address and keep it per family. */
type PerFamily = "gateway" | "mapHostLoopback" | "mapGuestAddr" | "dnsForward" | "dnsHost";

/**
 * The `apply` of an option taking one IPv4 or IPv6 address, kept per
 * family (the last of each family wins, as in passt); `none`, where the
 * option allows it, runs `none` instead.
 */
function perFamily(field: PerFamily, what: string, none?: (o: Options) => void): Spec["apply"] {
  return (o, v, n) => {
    if (none && v === "none") {
      none(o);
      return;
    }
    const a = need(parseIpAddr(v), n, v, what);
    if (a.length === 4) o[`${field}4`] = a;
    else o[`${field}6`] = a;
  };
}

function integer(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`invalid number '${value}' for ${name}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${name} ${n} out of range ${min}-${max}`);
  return n;
}

/** What several occurrences of one option add up to, while parsing. */
interface Collect {
  udpIn: PortSpec[];
  udpOut: PortSpec[];
  tcpIn: PortSpec[];
  tcpOut: PortSpec[];
}

const SPECS: Spec[] = [
  { long: "help", short: "h", arg: false, apply: (o) => (o.help = true) },
  { long: "version", arg: false, apply: (o) => (o.version = true) },
  { long: "debug", short: "d", arg: false, apply: (o) => (o.debug = true) },
  { long: "trace", arg: false, apply: (o) => ((o.trace = true), (o.debug = true)) },
  { long: "quiet", short: "q", arg: false, apply: (o) => (o.quiet = true) },
  { long: "log-file", short: "l", arg: true, apply: (o, v) => (o.logFile = v) },
  { long: "foreground", short: "f", arg: false, apply: (o) => (o.foreground = true) },
  { long: "pid", short: "P", arg: true, apply: (o, v) => (o.pidFile = v) },
  { long: "pcap", short: "p", arg: true, apply: (o, v) => (o.pcap = v) },
  { long: "ipv4-only", short: "4", arg: false, apply: (o) => ((o.ipv4 = true), (o.ipv6 = false)) },
  { long: "ipv6-only", short: "6", arg: false, apply: (o) => ((o.ipv6 = true), (o.ipv4 = false)) },
  {
    long: "address",
    short: "a",
    arg: true,
    apply: (o, v, n) => {
      const a = need(parseIpAddr(v), n, v, "address");
      if (a.length === 4) o.address4 = a;
      else o.address6 = a;
    },
  },
  {
    long: "netmask",
    short: "n",
    arg: true,
    apply: (o, v, n) => {
      if (/^\d+$/.test(v)) {
        o.prefix4 = integer(v, n, 0, 32);
        return;
      }
      const m = need(parseIpv4Addr(v), n, v, "netmask");
      const bits = (((m[0] ?? 0) << 24) | ((m[1] ?? 0) << 16) | ((m[2] ?? 0) << 8) | (m[3] ?? 0)) >>> 0;
      const len = Math.clz32(~bits >>> 0);
      const want = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      if (bits !== want) throw new UsageError(`invalid netmask '${v}' for ${n}`);
      o.prefix4 = len;
    },
  },
  {
    long: "gateway",
    short: "g",
    arg: true,
    apply: perFamily("gateway", "gateway address"),
  },
  { long: "mtu", short: "m", arg: true, apply: (o, v, n) => (o.mtu = integer(v, n, 68, 65520)) },
  { long: "mac-addr", short: "M", arg: true, apply: (o, v, n) => (o.ourMac = need(parseMac(v), n, v, "MAC address")) },
  { long: "interface", short: "i", arg: true, apply: (o, v) => (o.ifname = v) },
  { long: "no-map-gw", arg: false, apply: (o) => (o.mapGw = false) },
  {
    long: "map-host-loopback",
    arg: true,
    // `none` maps no address for either family, and implies --no-map-gw.
    apply: perFamily("mapHostLoopback", "address", (o) => {
      o.mapHostLoopback4 = null;
      o.mapHostLoopback6 = null;
      o.mapGw = false;
    }),
  },
  {
    long: "map-guest-addr",
    arg: true,
    apply: perFamily("mapGuestAddr", "address", (o) => {
      o.mapGuestAddr4 = null;
      o.mapGuestAddr6 = null;
    }),
  },
  { long: "dns-forward", arg: true, apply: perFamily("dnsForward", "address") },
  { long: "dns-host", arg: true, apply: perFamily("dnsHost", "address") },
  { long: "dns", short: "D", arg: true, apply: (o, v, n) => (v === "none" ? (o.dns = []) : o.dns.push(need(parseIpAddr(v), n, v, "DNS address"))) },
  { long: "search", short: "S", arg: true, apply: (o, v) => (o.search = v === "none" ? [] : v.split(/[ ,]/).filter(Boolean)) },
  { long: "no-dhcp", arg: false, apply: (o) => (o.dhcp = false) },
  { long: "no-ndp", arg: false, apply: (o) => (o.ndp = false) },
  { long: "no-dhcpv6", arg: false, apply: (o) => (o.dhcpv6 = false) },
  { long: "no-ra", arg: false, apply: (o) => (o.ra = false) },
  { long: "no-dhcp-dns", arg: false, modes: ["passt"], apply: (o) => (o.dhcpDns = false) },
  { long: "no-dhcp-search", arg: false, modes: ["passt"], apply: (o) => (o.dhcpSearch = false) },
  { long: "dhcp-dns", arg: false, modes: ["pasta"], apply: (o) => (o.dhcpDns = true) },
  { long: "dhcp-search", arg: false, modes: ["pasta"], apply: (o) => (o.dhcpSearch = true) },
  { long: "no-udp", arg: false, apply: (o) => (o.udp = false) },
  { long: "no-tcp", arg: false, apply: (o) => (o.tcp = false) },
  { long: "no-icmp", arg: false, apply: (o) => (o.icmp = false) },
  { long: "tcp-ports", short: "t", arg: true, apply: (_o, v, _n, c) => void c.tcpIn.push(parsePortSpec(v)) },
  { long: "tcp-ns", short: "T", arg: true, modes: ["pasta"], apply: (_o, v, _n, c) => void c.tcpOut.push(parsePortSpec(v)) },
  { long: "udp-ports", short: "u", arg: true, apply: (_o, v, _n, c) => void c.udpIn.push(parsePortSpec(v)) },
  { long: "udp-ns", short: "U", arg: true, modes: ["pasta"], apply: (_o, v, _n, c) => void c.udpOut.push(parsePortSpec(v)) },
  { long: "max-bindings", arg: true, apply: (o, v, n) => (o.maxBindings = integer(v, n, 16, 1 << 20)) },
  { long: "max-flows", arg: true, apply: (o, v, n) => (o.maxFlows = integer(v, n, 16, 1 << 22)) },
  { long: "netns", arg: true, modes: ["pasta"], apply: (o, v) => (o.netns = v) },
  { long: "userns", arg: true, modes: ["pasta"], apply: (o, v) => (o.userns = v) },
  { long: "ns-ifname", short: "I", arg: true, modes: ["pasta"], apply: (o, v) => (o.nsIfname = v) },
  { long: "config-net", arg: false, modes: ["pasta"], apply: (o) => (o.configNet = true) },
  { long: "no-netns-quit", arg: false, modes: ["pasta"], apply: (o) => (o.noNetnsQuit = true) },
  { long: "socket", short: "s", arg: true, modes: ["passt"], apply: (o, v) => (o.socket = v) },
  { long: "one-off", short: "1", arg: false, modes: ["passt"], apply: (o) => (o.oneOff = true) },
  { long: "fd", short: "F", arg: true, modes: ["passt"], apply: (o, v, n) => (o.fd = integer(v, n, 0, 0x7fffffff)) },
];

function defaults(mode: Mode): Options {
  return {
    mode,
    help: false,
    version: false,
    debug: false,
    trace: false,
    quiet: false,
    foreground: false,
    ipv4: true,
    ipv6: true,
    mapGw: true,
    dns: [],
    search: [],
    dhcp: true,
    ndp: true,
    dhcpv6: true,
    ra: true,
    dhcpDns: mode === "passt",
    dhcpSearch: mode === "passt",
    udp: true,
    tcp: true,
    icmp: true,
    tcpIn: { mode: "none", entries: [], exclude: [] },
    tcpOut: { mode: "none", entries: [], exclude: [] },
    udpIn: { mode: "none", entries: [], exclude: [] },
    udpOut: { mode: "none", entries: [], exclude: [] },
    noNetnsQuit: false,
    command: [],
    oneOff: false,
  };
}

/** Parses argv (without the program name). Throws UsageError on any mistake. */
export function parseOptions(mode: Mode, argv: readonly string[]): Options {
  try {
    return parse(mode, argv);
  } catch (e) {
    if (e instanceof PortSpecError) throw new UsageError(e.message);
    throw e;
  }
}

function parse(mode: Mode, argv: readonly string[]): Options {
  const o = defaults(mode);
  const c: Collect = { udpIn: [], udpOut: [], tcpIn: [], tcpOut: [] };
  const byLong = new Map(SPECS.map((s) => [s.long, s]));
  const byShort = new Map(SPECS.filter((s) => s.short).map((s) => [s.short as string, s]));
  // Mistakes are worded as glibc's getopt_long words them, which callers
  // parse (podman retries without an option pasta calls "unrecognized").
  const check = (s: Spec | undefined, name: string): Spec => {
    if (!s || (s.modes && !s.modes.includes(mode))) {
      throw new UsageError(name.startsWith("--") ? `unrecognized option '${name}'` : `invalid option -- '${name.slice(1)}'`);
    }
    return s;
  };
  // getopt_long's rule: an exact name wins, else a prefix of exactly one option.
  const longOption = (name: string): Spec | undefined => {
    const exact = byLong.get(name);
    if (exact && (!exact.modes || exact.modes.includes(mode))) return exact;
    const matches = SPECS.filter((s) => name.length > 0 && s.long.startsWith(name) && (!s.modes || s.modes.includes(mode)));
    if (matches.length > 1) {
      throw new UsageError(`option '--${name}' is ambiguous; possibilities: ${matches.map((m) => `'--${m.long}'`).join(" ")}`);
    }
    return matches[0];
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") {
      i++;
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const s = check(longOption(name), `--${name}`);
      let value = "";
      if (s.arg) {
        if (eq >= 0) value = a.slice(eq + 1);
        else if (i + 1 < argv.length) value = argv[++i] as string;
        else throw new UsageError(`option '--${name}' requires an argument`);
      } else if (eq >= 0) throw new UsageError(`option '--${name}' doesn't allow an argument`);
      s.apply(o, value, `--${name}`, c);
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const ch = a[k] as string;
        const s = check(byShort.get(ch), `-${ch}`);
        if (s.arg) {
          let value = a.slice(k + 1);
          if (value === "") {
            if (i + 1 >= argv.length) throw new UsageError(`option requires an argument -- '${ch}'`);
            value = argv[++i] as string;
          }
          s.apply(o, value, `-${ch}`, c);
          break;
        }
        s.apply(o, "", `-${ch}`, c);
      }
      continue;
    }
    break;
  }
  const rest = argv.slice(i);
  if (mode === "passt" && rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (mode === "pasta") {
    if (rest.length === 1 && /^\d+$/.test(rest[0] as string) && !o.netns) o.targetPid = Number(rest[0]);
    else o.command = [...rest];
    if ((o.netns || o.targetPid) && o.command.length > 0 && o.targetPid === undefined) {
      throw new UsageError("a command cannot be given together with --netns");
    }
    if (o.userns && !o.netns && o.targetPid === undefined) throw new UsageError("--userns needs --netns or a PID");
  }
  o.udpIn = mergePortSpecs(c.udpIn);
  o.udpOut = mergePortSpecs(c.udpOut);
  o.tcpIn = mergePortSpecs(c.tcpIn);
  o.tcpOut = mergePortSpecs(c.tcpOut);
  if (o.address4 && !o.ipv4) throw new UsageError("an IPv4 address was given with --ipv6-only");
  if (o.address6 && !o.ipv6) throw new UsageError("an IPv6 address was given with --ipv4-only");
  if (o.quiet && o.debug) throw new UsageError("--quiet and --debug cannot be used together");
  if (o.fd !== undefined && o.socket !== undefined) throw new UsageError("--fd and --socket cannot be used together");
  return o;
}

export function helpText(mode: Mode): string {
  const lines = [`Usage: ${mode === "pasta" ? "pasta [OPTION]... [COMMAND [ARG]...]\n       pasta [OPTION]... PID\n       pasta [OPTION]... --netns [PATH|NAME]" : "passt [OPTION]..."}`, ""];
  for (const s of SPECS) {
    if (s.modes && !s.modes.includes(mode)) continue;
    lines.push(`  ${s.short ? `-${s.short}, ` : "    "}--${s.long}${s.arg ? " VALUE" : ""}`);
  }
  lines.push("", "See passt(1) and pasta(1) for the meaning of each option.");
  return lines.join("\n");
}
