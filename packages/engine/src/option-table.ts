/**
 * Every option of passt and pasta, once: its names, which command takes
 * it, what it means in one line for --help and in a paragraph for the man
 * page, its default, and how it changes the Options being built.
 *
 * The parser (options.ts), `--help` and the man pages (option-docs.ts) all
 * read this one table, so an option cannot be accepted without being
 * documented, or documented without being accepted. The spellings, the
 * defaults and the set of options are those of the 2024_12_11 release of
 * passt(1); the two options of our own (--max-bindings, --max-flows) are
 * marked as such.
 *
 * A text that differs between the commands (the port options forward "to
 * the guest" in passt and "to the namespace" in pasta, with other
 * defaults) is given per mode. What a row is, and the value parsers rows
 * share, are in option-spec.ts; pasta's namespace rows in pasta-options.ts.
 */
import { parseMac, parseIpAddr } from "@x/l2";
import { parsePortSpec } from "@x/flow";
import { UsageError } from "./usage-error.js";
import { LOG_SIZE_MIN, assignable, integer, need, netmask, perFamily, type Spec } from "./option-spec.js";
import { PASTA_NAMESPACE_SPECS } from "./pasta-options.js";

const SPEC_TEXT =
  "SPEC: none; all (passt) or auto (pasta); or a comma-separated list of ports and ranges (22, 22-80), " +
  "each optionally remapped (22:23, 22-80:32-90), optionally for one address (ADDR/22) and interface " +
  "(ADDR%IF/22, %IF/22), with exclusions (~25, 5-25,~10-20)";

export const SPECS: Spec[] = [
  // Logging and running.
  { long: "debug", short: "d", help: "Log debug messages too", man: "Be verbose: debug messages, and no logging to the system logger.", apply: (o) => (o.debug = true) },
  { long: "trace", help: "Log every packet too (implies --debug)", man: "Be extra verbose, down to single packets. Implies --debug.", apply: (o) => ((o.trace = true), (o.debug = true)) },
  { long: "quiet", short: "q", help: "Log only warnings and errors", apply: (o) => (o.quiet = true) },
  {
    long: "foreground",
    short: "f",
    help: "Stay in the foreground",
    man: "Stay in the foreground instead of detaching once ready.",
    dflt: { passt: "run in background", pasta: "run in background when joining an existing namespace (PID or --netns)" },
    apply: (o) => (o.foreground = true),
  },
  {
    long: "stderr",
    short: "e",
    deprecated: true,
    help: "No effect (kept for old command lines)",
    man: "Has no effect: accepted so that older command lines keep working.",
    apply: () => {},
  },
  {
    long: "log-file",
    short: "l",
    arg: "PATH",
    help: "Log to PATH only",
    man: "Log to the file PATH instead of standard error or the system logger. Given more than once, the last one counts.",
    apply: (o, v) => (o.logFile = v),
  },
  {
    long: "log-size",
    arg: "BYTES",
    help: "Cap the log file at BYTES, dropping its oldest lines",
    man: `Keep the log file within BYTES bytes: when it is full, the oldest lines are dropped to make room. At least ${LOG_SIZE_MIN}.`,
    dflt: "1 MiB",
    apply: (o, v, n) => {
      if (!/^\d+$/.test(v) || Number(v) < LOG_SIZE_MIN) throw new UsageError(`Invalid ${n}: ${v}`);
      o.logSize = Number(v);
    },
  },
  {
    long: "runas",
    arg: "UID|UID:GID",
    help: "Become this user (and group), by number or name, once set up",
    man: "Change to the given user (a number or a login name) and group (the user's own when not given) once set up. Needs root or CAP_SETUID.",
    dflt: "stay the user that started us",
    apply: (o, v, n) => {
      if (!/^[^:]+(:[^:]+)?$/.test(v)) throw new UsageError(`invalid user '${v}' for ${n}`);
      o.runas = v;
    },
  },
  { long: "help", short: "h", help: "Print this help and exit", apply: (o) => (o.help = true) },
  { long: "version", help: "Print the version and exit", apply: (o) => (o.version = true) },
  // passt's socket.
  {
    long: "socket",
    short: "s",
    aliases: ["socket-path"],
    arg: "PATH",
    modes: ["passt"],
    help: "The UNIX domain socket qemu connects to",
    man: "The UNIX domain socket qemu connects to.",
    dflt: "the first free of /tmp/passt_1.socket to /tmp/passt_64.socket",
    apply: (o, v) => (o.socket = v),
  },
  {
    long: "vhost-user",
    modes: ["passt"],
    help: "Be a vhost-user back end (not in this implementation: refused)",
    man: "Serve the guest as a vhost-user back end on --socket. This implementation does not have vhost-user: it refuses to start, saying so.",
    apply: (o) => (o.vhostUser = true),
  },
  {
    long: "print-capabilities",
    modes: ["passt"],
    help: "Print the vhost-user back-end capabilities as JSON and exit",
    apply: (o) => (o.printCapabilities = true),
  },
  {
    long: "fd",
    short: "F",
    arg: "FD",
    help: { passt: "Serve the guest on FD, a connected stream socket", pasta: "Use FD, an open tap device, instead of making one" },
    man: {
      passt: "Serve the guest on FD, an already connected stream socket inherited from the parent; implies --one-off.",
      pasta: "Use FD, an already open tap device inherited from the parent, instead of creating one; pasta ends when it closes.",
    },
    apply: (o, v, n) => (o.fd = integer(v, n, 0, 0x7fffffff)),
  },
  // Capture and pid.
  {
    long: "pcap",
    short: "p",
    arg: "FILE",
    help: "Capture the frames to and from the guest in FILE (pcap)",
    man: "Write every frame between us and the guest (or the namespace) to FILE, in pcap format.",
    apply: (o, v) => (o.pcap = v),
  },
  { long: "pid", short: "P", arg: "FILE", help: "Write our PID to FILE", man: "Write our PID to FILE once ready, before detaching.", apply: (o, v) => (o.pidFile = v) },
  // Addresses and routes.
  {
    long: "mtu",
    short: "m",
    arg: "MTU",
    help: "The MTU told by DHCP and NDP (0: none)",
    man: "The MTU told to the guest by DHCP (option 26) and NDP (option 5), and set on the namespace's tap with --config-net. 0 tells none.",
    dflt: "65520 (the largest 802.3 frame less its header, rounded down to 32-bit words)",
    apply: (o, v, n) => {
      if (!/^\d+$/.test(v)) throw new UsageError(`Invalid MTU: ${v}`);
      const m = Number(v);
      if (m !== 0 && (m < 68 || m > 65535)) throw new UsageError(`Invalid MTU: ${v}`);
      o.mtu = m === 0 ? undefined : Math.min(m, 65520);
      o.advertiseMtu = m !== 0;
      void n;
    },
  },
  {
    long: "address",
    short: "a",
    arg: "ADDR",
    help: "The guest's IPv4 or IPv6 address (once per family)",
    man: "The guest's IPv4 address (DHCP) or IPv6 address (DHCPv6, and the prefix in router advertisements).",
    dflt: "the address of the host interface with the default route",
    apply: (o, v, n) => {
      const a = need(parseIpAddr(v), n, v, "address");
      if (!assignable(a)) throw new UsageError(`Invalid address: ${v}`);
      if (a.length === 4) o.address4 = a;
      else o.address6 = a;
    },
  },
  {
    long: "netmask",
    short: "n",
    arg: "MASK",
    help: "The guest's IPv4 netmask, dotted or a prefix length",
    dflt: "the netmask of the matching host address",
    apply: netmask,
  },
  {
    long: "mac-addr",
    short: "M",
    arg: "ADDR",
    help: "Our MAC address toward the guest",
    man: "The MAC address we use toward the guest.",
    dflt: "9a:55:9a:55:9a:55 (locally administered)",
    apply: (o, v, n) => (o.ourMac = need(parseMac(v), n, v, "MAC address")),
  },
  {
    long: "gateway",
    short: "g",
    arg: "ADDR",
    help: "The guest's IPv4 or IPv6 gateway (once per family)",
    man: "The guest's default gateway (IPv4, DHCP option 3) or the source of router advertisements (IPv6). Packets from the host's loopback reach the guest from this address.",
    dflt: "the gateway of the host's default route",
    apply: perFamily("gateway", "gateway address"),
  },
  {
    long: "interface",
    short: "i",
    arg: "NAME",
    help: "The host interface addresses and routes are taken from",
    dflt: "--outbound-if4/6 when given, else the interface of the first default route",
    apply: (o, v) => (o.ifname = v),
  },
  {
    long: "outbound",
    short: "o",
    arg: "ADDR",
    help: "Source address of outbound sockets (once per family)",
    man: "Bind the host sockets of outbound TCP connections, UDP flows and ICMP requests to ADDR (one IPv4, one IPv6).",
    dflt: "the source address the routing tables choose",
    apply: perFamily("outbound", "address"),
  },
  {
    long: "outbound-if4",
    arg: "NAME",
    help: "Bind IPv4 outbound sockets to interface NAME",
    man: "Bind IPv4 outbound sockets to interface NAME (SO_BINDTODEVICE), and take IPv4 addresses and routes from it unless -i says otherwise.",
    dflt: "the interface of the default route",
    apply: (o, v) => (o.outboundIf4 = v),
  },
  {
    long: "outbound-if6",
    arg: "NAME",
    help: "Bind IPv6 outbound sockets to interface NAME",
    man: "Bind IPv6 outbound sockets to interface NAME (SO_BINDTODEVICE), and take IPv6 addresses and routes from it unless -i says otherwise.",
    dflt: "the interface of the default route",
    apply: (o, v) => (o.outboundIf6 = v),
  },
  // DNS.
  {
    long: "dns",
    short: "D",
    arg: "ADDR",
    help: "A resolver to tell the guest (repeatable; 'none' for none)",
    man: "Tell the guest ADDR as a resolver, as given (no remapping), instead of the host's /etc/resolv.conf. 'none' tells none.",
    dflt: { passt: "the nameservers of the host's /etc/resolv.conf", pasta: "the nameservers of the host's /etc/resolv.conf" },
    apply: (o, v, n) => (v === "none" ? (o.dns = []) : o.dns.push(need(parseIpAddr(v), n, v, "DNS address"))),
  },
  {
    long: "dns-forward",
    arg: "ADDR",
    help: "Send DNS queries for ADDR to the host's resolver (once per family)",
    man: "DNS queries (UDP and TCP, ports 53 and 853) the guest sends to ADDR go to the host's resolver (--dns-host), and the answers come back from ADDR.",
    dflt: "don't forward DNS queries",
    apply: perFamily("dnsForward", "address"),
  },
  {
    long: "dns-host",
    arg: "ADDR",
    help: "The resolver --dns-forward queries go to",
    man: "Where queries to the --dns-forward address go.",
    dflt: "the first nameserver of the host's /etc/resolv.conf",
    apply: perFamily("dnsHost", "address"),
  },
  {
    long: "search",
    short: "S",
    arg: "LIST",
    help: "DNS search domains, space-separated ('none' for none)",
    dflt: "the search list of the host's /etc/resolv.conf",
    apply: (o, v) => (o.search = v === "none" ? [] : v.split(/[ ,]/).filter(Boolean)),
  },
  { long: "no-dhcp-dns", modes: ["passt"], help: "Tell no resolvers by DHCP, DHCPv6 and NDP", apply: (o) => (o.dhcpDns = false) },
  { long: "dhcp-dns", modes: ["pasta"], help: "Tell the resolvers by DHCP, DHCPv6 and NDP", apply: (o) => (o.dhcpDns = true) },
  { long: "no-dhcp-search", modes: ["passt"], help: "Tell no search list by DHCP, DHCPv6 and NDP", apply: (o) => (o.dhcpSearch = false) },
  { long: "dhcp-search", modes: ["pasta"], help: "Tell the search list by DHCP, DHCPv6 and NDP", apply: (o) => (o.dhcpSearch = true) },
  // Address translation.
  {
    long: "map-host-loopback",
    arg: "ADDR",
    help: "ADDR reaches the host's loopback (once per family; 'none')",
    man: "What the guest sends to ADDR reaches the host's loopback, from the host's loopback. 'none' maps nothing and implies --no-map-gw.",
    dflt: "gateway address",
    apply: perFamily("mapHostLoopback", "address", (o) => {
      o.mapHostLoopback4 = null;
      o.mapHostLoopback6 = null;
      o.mapGw = false;
    }),
  },
  {
    long: "map-guest-addr",
    arg: "ADDR",
    help: "ADDR reaches the host at the guest's address (once per family; 'none')",
    man: "What the guest sends to ADDR reaches the host at the guest's own address on the host (-a, or the host's address), so that services on the host's address are reachable although the guest shadows it.",
    dflt: "none",
    apply: perFamily("mapGuestAddr", "address", (o) => {
      o.mapGuestAddr4 = null;
      o.mapGuestAddr6 = null;
    }),
  },
  {
    long: "no-map-gw",
    help: "The gateway address does not reach the host",
    man: "Don't send what the guest sends to its gateway address to the host's loopback.",
    apply: (o) => (o.mapGw = false),
  },
  // Protocols.
  { long: "no-tcp", help: "No TCP", apply: (o) => (o.tcp = false) },
  { long: "no-udp", help: "No UDP", apply: (o) => (o.udp = false) },
  { long: "no-icmp", help: "No ICMP or ICMPv6 echo", apply: (o) => (o.icmp = false) },
  { long: "no-dhcp", help: "No DHCP server", apply: (o) => (o.dhcp = false) },
  { long: "no-ndp", help: "No NDP answers", apply: (o) => (o.ndp = false) },
  { long: "no-dhcpv6", help: "No DHCPv6 server", apply: (o) => (o.dhcpv6 = false) },
  { long: "no-ra", help: "No router advertisements", apply: (o) => (o.ra = false) },
  {
    long: "freebind",
    help: "Let -t and -u bind addresses the host lacks",
    man: "Let -t and -u bind addresses the host does not have (yet), with IP_FREEBIND / IPV6_FREEBIND.",
    apply: (o) => (o.freebind = true),
  },
  { long: "ipv4-only", short: "4", help: "IPv4 only", apply: (o) => ((o.ipv4 = true), (o.ipv6 = false)) },
  { long: "ipv6-only", short: "6", help: "IPv6 only", apply: (o) => ((o.ipv6 = true), (o.ipv4 = false)) },
  {
    long: "one-off",
    short: "1",
    modes: ["passt"],
    help: "Quit when the first guest disconnects",
    apply: (o) => (o.oneOff = true),
  },
  // Port forwarding.
  {
    long: "tcp-ports",
    short: "t",
    arg: "SPEC",
    help: { passt: "Host TCP ports forwarded to the guest", pasta: "Host TCP ports forwarded to the namespace" },
    man: {
      passt: `Forward TCP ports of the host to the guest. ${SPEC_TEXT}.`,
      pasta: `Forward TCP ports of the host to the namespace; 'auto' follows the ports listening in the namespace (/proc/net/tcp and tcp6, every second). ${SPEC_TEXT}.`,
    },
    dflt: { passt: "none", pasta: "auto" },
    apply: (_o, v, _n, c) => void c.tcpIn.push(parsePortSpec(v)),
  },
  {
    long: "udp-ports",
    short: "u",
    arg: "SPEC",
    help: { passt: "Host UDP ports forwarded to the guest", pasta: "Host UDP ports forwarded to the namespace" },
    man: {
      passt: "Forward UDP ports of the host to the guest, SPEC as for -t.",
      pasta: "Forward UDP ports of the host to the namespace, SPEC as for -t; 'auto' follows the ports bound in the namespace.",
    },
    dflt: { passt: "none", pasta: "auto" },
    apply: (_o, v, _n, c) => void c.udpIn.push(parsePortSpec(v)),
  },
  {
    long: "tcp-ns",
    short: "T",
    arg: "SPEC",
    modes: ["pasta"],
    help: "Namespace TCP ports forwarded to the host",
    man: "Forward TCP ports of the namespace's loopback to the host's loopback, SPEC as for -t.",
    dflt: "auto",
    apply: (_o, v, _n, c) => void c.tcpOut.push(parsePortSpec(v)),
  },
  {
    long: "udp-ns",
    short: "U",
    arg: "SPEC",
    modes: ["pasta"],
    help: "Namespace UDP ports forwarded to the host",
    man: "Forward UDP ports of the namespace's loopback to the host's loopback, SPEC as for -t.",
    dflt: "auto",
    apply: (_o, v, _n, c) => void c.udpOut.push(parsePortSpec(v)),
  },
  // pasta's namespace.
  ...PASTA_NAMESPACE_SPECS,
  // Ours.
  {
    long: "max-bindings",
    arg: "N",
    ours: true,
    help: "Most live UDP bindings (guest source ports)",
    dflt: "from the descriptor limit",
    apply: (o, v, n) => (o.maxBindings = integer(v, n, 16, 1 << 20)),
  },
  {
    long: "max-flows",
    arg: "N",
    ours: true,
    help: "Most flows of every transport in the flow table",
    dflt: "16384",
    apply: (o, v, n) => (o.maxFlows = integer(v, n, 16, 1 << 22)),
  },
];
