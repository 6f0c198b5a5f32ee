/**
 * The command line passt and pasta share, with the spellings and defaults
 * of passt(1) and pasta(1).
 *
 * One table (option-table.ts) lists every option once: its names, whether it
 * takes a value, which command accepts it, and its documentation. The parser walks argv with
 * getopt's rules (clustered short flags, `-xVALUE`, `--long=VALUE`, `--` to
 * end options) and fills a plain Options object; anything it does not know,
 * or a value that does not parse, is a UsageError with one line naming the
 * option, so the command can print it and exit 1 before starting anything.
 *
 * -t/-T and -u/-U take the same port specs (@x/flow's parsePortSpec);
 * --no-tcp, --no-udp and --no-icmp turn a transport off.
 */
import { mergePortSpecs, parsePortSpec, PortSpecError, type PortSpec } from "@x/flow";
import { SPECS } from "./option-table.js";
import type { Collect, Spec } from "./option-spec.js";
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
  /** --log-size: the log file's cap in bytes. */
  logSize: number;
  /** --runas: the user (and group) to become once set up. */
  runas?: string;
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
  /** Whether DHCP and NDP tell the guest an MTU (-m 0 turns it off). */
  advertiseMtu: boolean;
  ourMac?: Uint8Array;
  ifname?: string;
  mapGw: boolean;
  /** -o: the source address of outbound sockets, per family. */
  outbound4?: Uint8Array;
  outbound6?: Uint8Array;
  /** --outbound-if4/6: the device outbound sockets are bound to. */
  outboundIf4?: string;
  outboundIf6?: string;
  /** --freebind: forwarded ports may bind addresses the host lacks. */
  freebind: boolean;
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
  netnsOnly: boolean;
  /** --host-lo-to-ns-lo: loopback forwards land on the namespace's loopback. */
  hostLoToNsLo: boolean;
  /** --no-splice turns off the loopback bypass for inbound traffic. */
  splice: boolean;
  noCopyRoutes: boolean;
  noCopyAddrs: boolean;
  /** --ns-mac-addr: the MAC address of the namespace's tap. */
  nsMac?: Uint8Array;
  /** The command to run, or empty. */
  command: string[];
  /** pasta PID: join that process's namespaces. */
  targetPid?: number;
  // passt
  socket?: string;
  oneOff: boolean;
  /** -F: passt, an already connected stream socket to the guest (implies --one-off); pasta, an open tap. */
  fd?: number;
  vhostUser: boolean;
  printCapabilities: boolean;
  /** Ours, not in passt(1): most live UDP bindings (guest source ports); default from the descriptor limit. */
  maxBindings?: number;
  /** Ours, not in passt(1): the flow table's cap, for every transport (default 16384). */
  maxFlows?: number;
}

function defaults(mode: Mode): Options {
  return {
    mode,
    help: false,
    version: false,
    debug: false,
    trace: false,
    quiet: false,
    logSize: 1 << 20,
    foreground: false,
    advertiseMtu: true,
    freebind: false,
    netnsOnly: false,
    hostLoToNsLo: false,
    splice: true,
    noCopyRoutes: false,
    noCopyAddrs: false,
    vhostUser: false,
    printCapabilities: false,
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
  const byLong = new Map(SPECS.flatMap((s) => [s.long, ...(s.aliases ?? [])].map((n) => [n, s] as const)));
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
    const names = [...byLong].filter(([n, s]) => name.length > 0 && n.startsWith(name) && (!s.modes || s.modes.includes(mode)));
    if (new Set(names.map(([, s]) => s)).size > 1) {
      throw new UsageError(`option '--${name}' is ambiguous; possibilities: ${names.map(([n]) => `'--${n}'`).join(" ")}`);
    }
    return names[0]?.[1];
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
      if (s.arg !== undefined) {
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
        if (s.arg !== undefined) {
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
    // --userns without --netns or a PID: C ignores it (the command gets namespaces of its own), and so do we.
  }
  // pasta forwards 'auto' in each direction it was told nothing about, as the C pasta does.
  const given = (specs: PortSpec[]): PortSpec[] => (specs.length === 0 && mode === "pasta" ? [parsePortSpec("auto")] : specs);
  o.udpIn = mergePortSpecs(given(c.udpIn));
  o.udpOut = mergePortSpecs(given(c.udpOut));
  o.tcpIn = mergePortSpecs(given(c.tcpIn));
  o.tcpOut = mergePortSpecs(given(c.tcpOut));
  if (o.userns === undefined && o.netns !== undefined) o.netnsOnly = true;
  if (o.address4 && !o.ipv4) throw new UsageError("an IPv4 address was given with --ipv6-only");
  if (o.address6 && !o.ipv6) throw new UsageError("an IPv6 address was given with --ipv4-only");
  if (mode === "passt" && [o.tcpIn, o.udpIn].some((p) => p.mode === "auto")) {
    throw new UsageError("'auto' port forwarding is only allowed for pasta");
  }
  if (o.fd !== undefined && o.socket !== undefined) throw new UsageError("--fd and --socket cannot be used together");
  return o;
}

/**
 * Whether pasta runs detached: joining an existing namespace (PID or
 * --netns) without -f, it returns to the caller once the namespace is
 * ready, as the C pasta does and podman expects.
 */
export function pastaDetaches(o: Options): boolean {
  return !o.foreground && o.command.length === 0 && (o.targetPid !== undefined || o.netns !== undefined);
}

export { helpText, manPage } from "./option-docs.js";
