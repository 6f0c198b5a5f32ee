/**
 * Every option of the C release's man page (passt-2024_12_11 passt.1, which
 * pasta.1 is a copy of), in every spelling getopt_long takes, given to pasta
 * and to passt, with what the C release did with it, and how to run one case
 * without side effects: a namespace of the test's own, an unprivileged user,
 * a command that exits at once (pasta) or a socket that is connected to and
 * closed at once (passt, with -1).
 *
 * The table is written by hand from the man page, not parsed from it. Each
 * row names an option, its short form, a valid sample value and what C did
 * per command (recorded here from /work/shared/oracle/passt-2024_12_11, so
 * that the test still judges ours where the oracle is absent). An option of
 * the other command is given too: C refuses most of them, some it takes
 * (noted where it does).
 *
 * Outcomes:
 *   accept          pasta: exited 0 (the command's status); passt and the
 *                   namespace modes: got ready (listened, configured the
 *                   target namespace) and quit with 0 once done with
 *   refuse          exited 1 before getting ready
 *   exit N          exited N (or by signal N) before getting ready; for passt
 *                   `exit 0` is an option that only prints (--help)
 *   ready, no exit  got ready, and was still running 3 s after it should
 *                   have quit
 *   ready, exit N   got ready, then quit with N
 *   timeout         neither ready nor exited in time
 */
import { spawn, spawnSync } from "node:child_process";
import { connect, type Socket } from "node:net";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HOST4, Netns, ORACLE_DIRS, World, asUnprivileged, childrenOf, uniqueName, until } from "@x/harness";

export type Cmd = "pasta" | "passt";
export type Outcome = string;
/** How a case is run (see `prepare`). */
export type Setup = "cmd" | "socket" | "fd" | "pid" | "attached" | "rootNetns" | "background";

type PerCmd<T> = { pasta?: T; passt?: T };

interface OptionRow {
  long: string;
  short?: string;
  /** A valid sample value; none for a flag. */
  value?: string;
  /** Which command the man page gives it to. */
  takes: Cmd | "both";
  /** What C did, per command: one outcome for every form, or one per form in `forms` order. */
  c: PerCmd<Outcome | Outcome[]>;
  run?: PerCmd<Setup>;
  /** Arguments before and after the option (a --userns the --netns needs, a PID). */
  before?: PerCmd<string[]>;
  after?: PerCmd<string[]>;
  /** Base arguments instead of the setup's own (to leave out -f, -1 or -s). */
  base?: PerCmd<string[]>;
  fd3?: boolean;
  /** Where ours differs from C on purpose (each explained in `note`): what ours must do instead. */
  ours?: PerCmd<Outcome | Outcome[]>;
  note?: string;
}

export interface Case {
  cmd: Cmd;
  option: string;
  form: string;
  args: string[];
  run: Setup;
  base?: string[];
  /** pasta: no `-- /bin/true` after the arguments (a missing argument must be the last one). */
  tail: boolean;
  fd3: boolean;
  c: Outcome;
  /** Where ours differs on purpose: what ours must do instead. */
  ours?: Outcome;
  /** The first line ours must print, after `pasta: ` or `passt: `: getopt's wording (a prefix). */
  says?: string;
  note?: string;
}

const A = "accept";
const R = "refuse";

/* Placeholders, filled in per run: {dir} a directory the user nobody may write, {run}
 * a name unique to the run, {sock} a fresh socket path, {pid} a target
 * process (nobody's `unshare -Urn sleep`), {userns} and {netnspath} its
 * namespaces, {netnsname} a name in /run/netns for a target namespace. */
const OPTIONS: OptionRow[] = [
  // Common options, in the man page's order.
  { long: "debug", short: "d", takes: "both", c: { pasta: A, passt: A } },
  { long: "trace", takes: "both", c: { pasta: A, passt: A } },
  { long: "quiet", short: "q", takes: "both", c: { pasta: A, passt: A } },
  { long: "foreground", short: "f", takes: "both", c: { pasta: A, passt: A }, base: { pasta: ["--config-net"], passt: ["-1", "-s", "{sock}"] } },
  { long: "stderr", short: "e", takes: "both", c: { pasta: A, passt: A }, note: "deprecated, no effect" },
  { long: "log-file", short: "l", value: "{dir}/log-{run}", takes: "both", c: { pasta: A, passt: A } },
  // C takes --log-size without -l (and it means nothing then).
  { long: "log-size", value: "100000", takes: "both", c: { pasta: A, passt: A } },
  { long: "runas", value: "65534", takes: "both", c: { pasta: A, passt: A } },
  { long: "help", short: "h", takes: "both", c: { pasta: A, passt: "exit 0" } },
  { long: "version", takes: "both", c: { pasta: A, passt: "exit 0" } },
  { long: "pcap", short: "p", value: "{dir}/pcap-{run}", takes: "both", c: { pasta: A, passt: A } },
  { long: "pid", short: "P", value: "{dir}/pid-{run}", takes: "both", c: { pasta: A, passt: A } },
  { long: "mtu", short: "m", value: "1500", takes: "both", c: { pasta: A, passt: A } },
  { long: "address", short: "a", value: "203.0.113.5", takes: "both", c: { pasta: A, passt: A } },
  { long: "netmask", short: "n", value: "24", takes: "both", c: { pasta: A, passt: A } },
  { long: "mac-addr", short: "M", value: "02:00:00:00:00:01", takes: "both", c: { pasta: A, passt: A } },
  { long: "gateway", short: "g", value: "203.0.113.1", takes: "both", c: { pasta: A, passt: A } },
  { long: "interface", short: "i", value: "eth0", takes: "both", c: { pasta: A, passt: A } },
  { long: "outbound", short: "o", value: "203.0.113.2", takes: "both", c: { pasta: A, passt: A } },
  { long: "outbound-if4", value: "eth0", takes: "both", c: { pasta: A, passt: A } },
  { long: "outbound-if6", value: "eth0", takes: "both", c: { pasta: A, passt: A } },
  { long: "dns", short: "D", value: "203.0.113.53", takes: "both", c: { pasta: A, passt: A } },
  { long: "dns-forward", value: "203.0.113.54", takes: "both", c: { pasta: A, passt: A } },
  { long: "dns-host", value: "203.0.113.53", takes: "both", c: { pasta: A, passt: A } },
  { long: "search", short: "S", value: "example.org", takes: "both", c: { pasta: A, passt: A } },
  { long: "no-dhcp-dns", takes: "passt", c: { pasta: R, passt: A } },
  { long: "dhcp-dns", takes: "pasta", c: { pasta: A, passt: R } },
  { long: "no-dhcp-search", takes: "passt", c: { pasta: R, passt: A } },
  { long: "dhcp-search", takes: "pasta", c: { pasta: A, passt: R } },
  { long: "no-tcp", takes: "both", c: { pasta: A, passt: A } },
  { long: "no-udp", takes: "both", c: { pasta: A, passt: A } },
  { long: "no-icmp", takes: "both", c: { pasta: A, passt: A } },
  { long: "no-dhcp", takes: "both", c: { pasta: A, passt: A } },
  { long: "no-ndp", takes: "both", c: { pasta: A, passt: A } },
  { long: "no-dhcpv6", takes: "both", c: { pasta: A, passt: A } },
  { long: "no-ra", takes: "both", c: { pasta: A, passt: A } },
  { long: "freebind", takes: "both", c: { pasta: A, passt: A } },
  { long: "map-host-loopback", value: "203.0.113.1", takes: "both", c: { pasta: A, passt: A } },
  { long: "no-map-gw", takes: "both", c: { pasta: A, passt: A } },
  { long: "map-guest-addr", value: "203.0.113.9", takes: "both", c: { pasta: A, passt: A } },
  { long: "ipv4-only", short: "4", takes: "both", c: { pasta: A, passt: A } },
  { long: "ipv6-only", short: "6", takes: "both", c: { pasta: A, passt: A } },

  // passt-only options. C's pasta takes --socket and --socket-path (but not
  // -s) and --print-capabilities: its long options are one table for both
  // modes and these have no mode check.
  // Ours refuses, in getopt's words, the options that mean nothing to the command given them.
  { long: "socket-path", short: "s", value: "{sock}", takes: "passt", c: { pasta: [A, A, R, R], passt: A }, ours: { pasta: R }, base: { passt: ["-f", "-1"] }, note: "ours: pasta refuses it" },
  { long: "socket", short: "s", value: "{sock}", takes: "passt", c: { pasta: [A, A, R, R], passt: A }, ours: { pasta: R }, base: { passt: ["-f", "-1"] }, note: "ours: pasta refuses it" },
  { long: "vhost-user", takes: "passt", c: { pasta: R, passt: A }, ours: { passt: R }, note: "ours has no vhost-user: refuses, saying so" },
  { long: "print-capabilities", takes: "passt", c: { pasta: A, passt: "exit 0" }, ours: { pasta: R }, note: "C's pasta prints {} and exits; ours: pasta refuses it" },
  // pasta's usage lists -F too: C's pasta starts (and runs the command) with it.
  { long: "fd", short: "F", value: "3", takes: "passt", c: { pasta: A, passt: A }, ours: { pasta: R }, run: { passt: "fd" }, fd3: true, note: "pasta: fd 3 here is a socket, not a tap: ours refuses it" },
  { long: "one-off", short: "1", takes: "passt", c: { pasta: [R, R], passt: A }, base: { passt: ["-f", "-s", "{sock}"] } },
  { long: "tcp-ports", short: "t", value: "10022", takes: "both", c: { pasta: A, passt: A } },
  { long: "udp-ports", short: "u", value: "10023", takes: "both", c: { pasta: A, passt: A } },

  // pasta-only options. C's passt takes --ns-ifname, --tcp-ns, --udp-ns and
  // --no-splice (not -I, -T, -U): no mode check on these.
  { long: "ns-ifname", short: "I", value: "tapx", takes: "pasta", c: { pasta: A, passt: [A, A, R, R] }, ours: { passt: R }, note: "ours: passt refuses it" },
  { long: "tcp-ns", short: "T", value: "10024", takes: "pasta", c: { pasta: A, passt: [A, A, R, R] }, ours: { passt: R }, note: "ours: passt refuses it" },
  { long: "udp-ns", short: "U", value: "10025", takes: "pasta", c: { pasta: A, passt: [A, A, R, R] }, ours: { passt: R }, note: "ours: passt refuses it" },
  { long: "host-lo-to-ns-lo", takes: "pasta", c: { pasta: A, passt: R }, note: "deprecated" },
  {
    long: "userns",
    value: "{userns}",
    takes: "pasta",
    c: { pasta: A, passt: R },
    run: { pasta: "pid" },
    after: { pasta: ["{pid}"] },
  },
  {
    long: "netns",
    value: "{netnsname}",
    takes: "pasta",
    c: { pasta: A, passt: R },
    run: { pasta: "attached" },
    before: { pasta: ["--userns", "{userns}"] },
    note: "as nobody, a name needs the --userns that owns it",
  },
  { long: "netns-only", takes: "pasta", c: { pasta: A, passt: R }, run: { pasta: "pid" }, after: { pasta: ["{pid}"] } },
  { long: "no-netns-quit", takes: "pasta", c: { pasta: A, passt: R } },
  { long: "config-net", takes: "pasta", c: { pasta: A, passt: R }, base: { pasta: ["-f"] } },
  { long: "no-copy-routes", takes: "pasta", c: { pasta: A, passt: R }, note: "deprecated" },
  { long: "no-copy-addrs", takes: "pasta", c: { pasta: A, passt: R }, note: "deprecated" },
  { long: "ns-mac-addr", value: "02:00:00:00:00:02", takes: "pasta", c: { pasta: A, passt: R } },
  { long: "no-splice", takes: "pasta", c: { pasta: A, passt: A }, ours: { passt: R }, note: "ours: passt refuses it" },
];

interface ExtraRow {
  option: string;
  args: string[];
  c: PerCmd<Outcome>;
  ours?: PerCmd<Outcome>;
  run?: PerCmd<Setup>;
  base?: PerCmd<string[]>;
  tail?: false;
  fd3?: boolean;
  says?: string;
  note?: string;
}

/** Other values, combinations and mistakes. `says` is getopt's wording, checked for ours. */
const EXTRAS: ExtraRow[] = [
  // getopt_long itself.
  { option: "unknown", args: ["--x"], c: { pasta: R, passt: R }, says: "unrecognized option '--x'" },
  { option: "unknown", args: ["-Z"], c: { pasta: R, passt: R }, says: "invalid option -- 'Z'" },
  { option: "--quiet", args: ["--quiet=1"], c: { pasta: R, passt: R }, says: "option '--quiet' doesn't allow an argument" },
  { option: "--mtu", args: ["--mtu"], tail: false, c: { pasta: R, passt: R }, says: "option '--mtu' requires an argument" },
  { option: "-m", args: ["-m"], tail: false, c: { pasta: R, passt: R }, says: "option requires an argument -- 'm'" },
  { option: "--no", args: ["--no"], c: { pasta: R, passt: R }, says: "option '--no' is ambiguous; possibilities:" },
  { option: "--mtu", args: ["--mt", "1500"], c: { pasta: A, passt: A }, note: "a unique prefix" },
  // C takes -q with -d, and -4 with -6: the last one given wins, as the man page's opening rule says.
  { option: "-d -q", args: ["-dq"], c: { pasta: A, passt: A }, note: "clustered flags" },
  { option: "-4 -6", args: ["-4", "-6"], c: { pasta: A, passt: A } },
  // Values.
  // An oddity: C first scans its arguments for -F alone (to keep that descriptor open), and
  // that scan reads an attached argument of another option as more short options: an F in
  // it takes the rest as the descriptor ("Invalid --fd: x/log").
  { option: "--log-file", args: ["-l{dir}/aFx/log"], c: { pasta: R, passt: R }, ours: { pasta: A, passt: A }, note: "C: Invalid --fd: x/log" },
  { option: "--log-size", args: ["-l", "{dir}/log-{run}", "--log-size", "100000"], c: { pasta: A, passt: A } },
  { option: "--log-size", args: ["--log-size", "10"], c: { pasta: R, passt: R } },
  { option: "--log-size", args: ["--log-size", "abc"], c: { pasta: R, passt: R } },
  { option: "--runas", args: ["--runas", "nobody"], c: { pasta: A, passt: A } },
  { option: "--runas", args: ["--runas", "65534:65534"], c: { pasta: A, passt: A } },
  { option: "--runas", args: ["--runas", "nobody:nogroup"], c: { pasta: A, passt: A } },
  { option: "--runas", args: ["--runas", "nosuchuser"], c: { pasta: R, passt: R } },
  { option: "--runas", args: ["--runas", "0"], c: { pasta: R, passt: R }, note: "nobody cannot become root" },
  { option: "--mtu", args: ["-m", "0"], c: { pasta: A, passt: A }, note: "0: no MTU advertised" },
  { option: "--mtu", args: ["-m", "65520"], c: { pasta: A, passt: A } },
  { option: "--mtu", args: ["-m", "12"], c: { pasta: R, passt: R } },
  { option: "--mtu", args: ["-m", "70000"], c: { pasta: R, passt: R } },
  // An oddity: C takes a value that is no number at all for -m and -n (and refuses "12" or "33").
  { option: "--mtu", args: ["-m", "abc"], c: { pasta: A, passt: A }, ours: { pasta: R, passt: R }, note: "C takes a value that is no number; ours refuses it" },
  { option: "--address", args: ["-a", "2001:db8:1::5"], c: { pasta: A, passt: A } },
  { option: "--address", args: ["-a", "203.0.113.5", "-a", "2001:db8:1::5"], c: { pasta: A, passt: A } },
  { option: "--address", args: ["-a", "1.2.3.4.5"], c: { pasta: R, passt: R } },
  { option: "--address", args: ["-a", "foo"], c: { pasta: R, passt: R } },
  { option: "--address", args: ["-a", "127.0.0.1"], c: { pasta: R, passt: R } },
  { option: "--netmask", args: ["-n", "255.255.255.0"], c: { pasta: A, passt: A } },
  { option: "--netmask", args: ["-n", "33"], c: { pasta: R, passt: R } },
  { option: "--netmask", args: ["-n", "foo"], c: { pasta: A, passt: A }, ours: { pasta: R, passt: R }, note: "C takes a value that is no netmask; ours refuses it" },
  { option: "--mac-addr", args: ["-M", "02:00:00"], c: { pasta: R, passt: R } },
  { option: "--mac-addr", args: ["-M", "zz:00:00:00:00:01"], c: { pasta: R, passt: R } },
  { option: "--gateway", args: ["-g", "2001:db8:1::1"], c: { pasta: A, passt: A } },
  { option: "--gateway", args: ["-g", "foo"], c: { pasta: R, passt: R } },
  { option: "--interface", args: ["-i", "nosuch0"], c: { pasta: R, passt: R } },
  { option: "--outbound", args: ["-o", "2001:db8:1::2"], c: { pasta: A, passt: A } },
  { option: "--outbound", args: ["-o", "foo"], c: { pasta: R, passt: R } },
  { option: "--dns", args: ["-D", "none"], c: { pasta: A, passt: A } },
  { option: "--dns", args: ["-D", "2001:db8:1::53", "-D", "203.0.113.53"], c: { pasta: A, passt: A } },
  { option: "--dns", args: ["-D", "foo"], c: { pasta: R, passt: R } },
  { option: "--dns-forward", args: ["--dns-forward", "foo"], c: { pasta: R, passt: R } },
  { option: "--dns-host", args: ["--dns-host", "foo"], c: { pasta: R, passt: R } },
  { option: "--search", args: ["-S", "none"], c: { pasta: A, passt: A } },
  { option: "--search", args: ["-S", "a.example b.example"], c: { pasta: A, passt: A } },
  // An oddity: the man page documents 'none' for both, C 2024_12_11 refuses it ("Invalid address to
  // remap to host: none"). Ours follows the man page, as docs/pasta.md says.
  {
    option: "--map-host-loopback",
    args: ["--map-host-loopback", "none"],
    c: { pasta: R, passt: R },
    ours: { pasta: A, passt: A },
    note: "documented, but C refuses it",
  },
  { option: "--map-host-loopback", args: ["--map-host-loopback", "foo"], c: { pasta: R, passt: R } },
  { option: "--map-guest-addr", args: ["--map-guest-addr", "none"], c: { pasta: R, passt: R }, ours: { pasta: A, passt: A }, note: "documented, but C refuses it" },
  { option: "--map-guest-addr", args: ["--map-guest-addr", "foo"], c: { pasta: R, passt: R } },
  { option: "--tcp-ports", args: ["-t", "none"], c: { pasta: A, passt: A } },
  { option: "--tcp-ports", args: ["-t", "auto"], c: { pasta: A, passt: R } },
  { option: "--tcp-ports", args: ["-t", "10022:10023"], c: { pasta: A, passt: A } },
  { option: "--tcp-ports", args: ["-t", "10022,10026"], c: { pasta: A, passt: A } },
  { option: "--tcp-ports", args: ["-t", "10030-10040:10050-10060"], c: { pasta: A, passt: A } },
  { option: "--tcp-ports", args: ["-t", "10030-10040,~10035"], c: { pasta: A, passt: A } },
  { option: "--tcp-ports", args: ["-t", "203.0.113.2/10027"], c: { pasta: A, passt: A } },
  { option: "--tcp-ports", args: ["-t", "%eth0/10028"], c: { pasta: A, passt: A } },
  { option: "--tcp-ports", args: ["-t", "80000"], c: { pasta: R, passt: R } },
  { option: "--tcp-ports", args: ["-t", "10-5"], c: { pasta: R, passt: R } },
  { option: "--tcp-ports", args: ["-t", "foo"], c: { pasta: R, passt: R } },
  { option: "--tcp-ports", args: ["-t", "10022-10030:10032"], c: { pasta: R, passt: R } },
  { option: "--udp-ports", args: ["-u", "none"], c: { pasta: A, passt: A } },
  { option: "--udp-ports", args: ["-u", "auto"], c: { pasta: A, passt: R } },
  { option: "--udp-ports", args: ["-u", "10022:10023"], c: { pasta: A, passt: A } },
  { option: "--udp-ports", args: ["-u", "70000"], c: { pasta: R, passt: R } },
  { option: "--tcp-ns", args: ["-T", "none"], c: { pasta: A } },
  { option: "--tcp-ns", args: ["-T", "auto"], c: { pasta: A } },
  { option: "--tcp-ns", args: ["-T", "80000"], c: { pasta: R } },
  { option: "--udp-ns", args: ["-U", "none"], c: { pasta: A } },
  { option: "--ns-ifname", args: ["-I", "abcdefghijklmnopq"], c: { pasta: R }, note: "longer than IFNAMSIZ" },
  { option: "--ns-mac-addr", args: ["--ns-mac-addr", "foo"], c: { pasta: R } },
  // passt's socket, descriptor and one-off.
  { option: "--one-off", args: [], base: { passt: ["-f", "-s", "{sock}"] }, c: { passt: "ready, no exit" }, note: "without -1, passt listens again" },
  { option: "--foreground", args: ["-P", "{dir}/pid-{run}"], run: { passt: "background" }, c: { passt: A }, note: "without -f: detaches once listening" },
  // An oddity: with -F and -s, C listens on the socket as well and quits on neither closing.
  { option: "--fd", args: ["-F", "3", "-s", "{sock}"], run: { passt: "fd" }, fd3: true, c: { passt: "ready, no exit" }, ours: { passt: R }, note: "C listens on -s too; ours refuses the pair" },
  // An oddity: C takes a descriptor that is not open and waits on it for ever; ours says so
  // in one line (docs/passt.md).
  { option: "--fd", args: ["-F", "9"], run: { passt: "fd" }, c: { passt: "ready, no exit" }, ours: { passt: R }, note: "C waits on a closed descriptor" },
  { option: "--fd", args: ["-F", "abc"], run: { passt: "fd" }, fd3: true, c: { passt: R } },
  // pasta's namespaces.
  { option: "PID", args: ["{pid}"], run: { pasta: "pid" }, c: { pasta: A } },
  { option: "--foreground", args: ["-q", "-P", "{dir}/pid-{run}", "{pid}"], run: { pasta: "background" }, c: { pasta: A }, note: "without -f: detaches once configured" },
  { option: "--netns", args: ["--userns", "{userns}", "--netns", "{netnspath}"], run: { pasta: "pid" }, c: { pasta: A }, note: "a path" },
  { option: "--netns", args: ["--netns", "{netnspath}"], run: { pasta: "pid" }, c: { pasta: R }, note: "nobody cannot enter a namespace of a child user namespace without it" },
  { option: "--netns", args: ["--runas", "0", "--netns", "{netnsname}"], run: { pasta: "rootNetns" }, c: { pasta: A }, note: "as root" },
  {
    option: "--netns",
    args: ["--netns", "{netnsname}"],
    run: { pasta: "rootNetns" },
    c: { pasta: R },
    ours: { pasta: A },
    note: "as root: C switches to nobody first and then cannot enter it; ours runs as root (docs/passt.md)",
  },
  { option: "--netns", args: ["--netns", "nosuchns"], c: { pasta: R }, tail: false },
  { option: "--netns", args: ["--netns", "{netnspath}", "{pid}"], run: { pasta: "pid" }, c: { pasta: R }, note: "a PID too" },
  { option: "--netns", args: ["--netns", "{netnspath}", "--", "/bin/true"], tail: false, c: { pasta: R }, note: "a command too" },
  { option: "--netns-only", args: ["--netns-only"], c: { pasta: R }, note: "with a command: no user namespace to make one in" },
  // An oddity: C takes --userns with a command (and neither --netns nor a PID), ignores it, and
  // runs the command in namespaces of its own, after "Couldn't write to /proc/self/uid_map".
  {
    option: "--userns",
    args: ["--userns", "{userns}"],
    c: { pasta: A },
    note: "with a command, neither --netns nor a PID: C ignores it and runs the command in namespaces of its own",
  },
  { option: "--no-netns-quit", args: ["--userns", "{userns}", "--netns", "{netnsname}", "--no-netns-quit"], run: { pasta: "attached" }, c: { pasta: "ready, no exit" } },
];

/** The forms getopt_long takes for one option. */
function forms(row: OptionRow): { form: string; args: string[] }[] {
  const out: { form: string; args: string[] }[] = [];
  if (row.value === undefined) {
    out.push({ form: `--${row.long}`, args: [`--${row.long}`] });
    if (row.short) out.push({ form: `-${row.short}`, args: [`-${row.short}`] });
    return out;
  }
  out.push({ form: `--${row.long} V`, args: [`--${row.long}`, row.value] });
  out.push({ form: `--${row.long}=V`, args: [`--${row.long}=${row.value}`] });
  if (row.short) {
    out.push({ form: `-${row.short}V`, args: [`-${row.short}${row.value}`] });
    out.push({ form: `-${row.short} V`, args: [`-${row.short}`, row.value] });
  }
  return out;
}

const DEFAULT_RUN: Record<Cmd, Setup> = { pasta: "cmd", passt: "socket" };

export function cases(cmd: Cmd): Case[] {
  const out: Case[] = [];
  for (const row of OPTIONS) {
    const c = row.c[cmd];
    if (c === undefined) continue;
    forms(row).forEach((f, i) => {
      const expect = Array.isArray(c) ? c[i] : c;
      if (expect === undefined) throw new Error(`--${row.long}: no C outcome for ${f.form}`);
      const own = row.ours?.[cmd];
      out.push({
        cmd,
        option: `--${row.long}`,
        form: f.form,
        ...(own !== undefined ? { ours: Array.isArray(own) ? own[i] : own } : {}),
        args: [...(row.before?.[cmd] ?? []), ...f.args, ...(row.after?.[cmd] ?? [])],
        run: row.run?.[cmd] ?? DEFAULT_RUN[cmd],
        base: row.base?.[cmd],
        tail: true,
        fd3: row.fd3 ?? false,
        c: expect,
        note: row.takes === "both" || row.takes === cmd ? row.note : [`${row.takes} only`, row.note].filter(Boolean).join("; "),
      });
    });
  }
  for (const row of EXTRAS) {
    const c = row.c[cmd];
    if (c === undefined) continue;
    out.push({
      cmd,
      option: row.option,
      form: "other",
      args: row.args,
      run: row.run?.[cmd] ?? DEFAULT_RUN[cmd],
      base: row.base?.[cmd],
      tail: row.tail ?? true,
      fd3: row.fd3 ?? false,
      c,
      ours: row.ours?.[cmd],
      says: row.says,
      note: row.note,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Running one case.

const ORACLE_DIR = (ORACLE_DIRS.find((d) => existsSync(`${d}passt`)) ?? (ORACLE_DIRS[0] as string)).replace(/\/$/, "");
export const ORACLE: Record<Cmd, string> = { pasta: `${ORACLE_DIR}/pasta`, passt: `${ORACLE_DIR}/passt` };
export const hasOracle = (cmd: Cmd): boolean => existsSync(ORACLE[cmd]);
const OURS: Record<Cmd, string[]> = {
  pasta: [fileURLToPath(new URL("../bin/pasta", import.meta.url))],
  passt: [fileURLToPath(new URL("../../passt/bin/passt", import.meta.url))],
};

/** Where cases run: a World of the test's own (a host namespace with a template interface) and a directory the user nobody may write. */
export interface Lane {
  world: World;
  dir: string;
}

let lanes = 0;
export function makeLane(prefix: string): Lane {
  const world = new World(prefix);
  // No random name: C reads an F in an attached argument as -F (see EXTRAS).
  const dir = join(tmpdir(), `pasta-cli-${process.pid}-${++lanes}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "aFx"), { recursive: true });
  for (const d of [dir, join(dir, "aFx")]) chmodSync(d, 0o777);
  return { world, dir };
}

export function removeLane(lane: Lane): void {
  lane.world.remove();
  rmSync(lane.dir, { recursive: true, force: true });
}

export interface Result {
  outcome: Outcome;
  /** stderr then stdout, as printed. */
  output: string;
  ms: number;
}

interface Prepared {
  vars: Record<string, string>;
  base: string[];
  root: boolean;
  ready?: () => Promise<boolean>;
  /** The launcher exits 0 once the detached process is running: readiness is still awaited. */
  background: boolean;
  finish: () => void;
  cleanup: () => void;
}

let runs = 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tryConnect(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once("connect", () => resolve(s));
    s.once("error", () => resolve(null));
  });
}

/** nobody's own user and network namespace, as podman makes them: a process to join by PID. */
async function target(lane: Lane): Promise<{ pid: number; kill: () => void }> {
  const child = spawn("ip", ["netns", "exec", lane.world.host.name, ...asUnprivileged(["unshare", "-Urn", "sleep", "30"])], { stdio: "ignore" });
  const pid = child.pid as number;
  const kill = (): void => void child.kill("SIGKILL");
  // ip netns exec, setpriv and unshare each exec the next: the PID is sleep's.
  await until(() => readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "sleep", 5000, "the target namespace");
  return { pid, kill };
}

const hasHost4 = (argv: string[]): boolean => spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8" }).stdout?.includes(`${HOST4}/`) ?? false;

/** The arguments a case's setup puts before the case's own. */
export function baseArgs(c: Case): string[] {
  switch (c.run) {
    case "socket":
      return ["-f", "-1", "-s", "{sock}"];
    case "fd":
      return ["-f"];
    case "background":
      return c.cmd === "passt" ? ["-1", "-s", "{sock}"] : ["--config-net"];
    default:
      return ["-f", "--config-net"];
  }
}

/** A case's whole argv after the command's name, with `vars` filled in. */
export function caseArgs(c: Case, vars: Record<string, string>): string[] {
  const tail = c.cmd === "pasta" && c.run === "cmd" && c.tail ? ["--", "/bin/true"] : [];
  return [...(c.base ?? baseArgs(c)), ...c.args, ...tail].map((a) => fill(a, vars));
}

async function prepare(lane: Lane, c: Case): Promise<Prepared> {
  const run = `${c.cmd}-${++runs}`;
  const vars: Record<string, string> = { dir: lane.dir, run, sock: join(lane.dir, `${run}.sock`) };
  const pidFile = join(lane.dir, `pid-${run}`);
  // A target process for the cases that name one (a PID, its namespaces).
  const t = c.args.some((a) => /\{(pid|userns|netnspath)\}/.test(a)) || c.run === "pid" || c.run === "attached" ? await target(lane) : undefined;
  if (t) Object.assign(vars, { pid: String(t.pid), userns: `/proc/${t.pid}/ns/user`, netnspath: `/proc/${t.pid}/ns/net` });
  const configured = async (): Promise<boolean> => t !== undefined && hasHost4(["nsenter", "-t", String(t.pid), "-n", "ip", "-o", "-4", "addr"]);
  const kill = (): void => t?.kill();
  const common = { vars, root: false, background: false, finish: kill, cleanup: kill };
  const passtSocket = (): Pick<Prepared, "ready" | "finish"> => {
    let conn: Socket | null = null;
    return { ready: async () => (conn = await tryConnect(vars.sock as string)) !== null, finish: () => conn?.destroy() };
  };
  switch (c.run) {
    case "cmd":
      return { ...common, base: baseArgs(c) };
    case "socket":
      return { ...common, base: baseArgs(c), ...passtSocket() };
    case "fd": {
      // Ready: still running a while after starting; the runner then closes its end of fd 3.
      const t0 = Date.now();
      return { ...common, base: baseArgs(c), ready: async () => Date.now() - t0 > 1500 };
    }
    case "background": {
      const cleanup = (): void => (kill(), killPidFile(pidFile));
      if (c.cmd === "passt") return { ...common, base: baseArgs(c), background: true, ...passtSocket(), cleanup };
      return { ...common, base: baseArgs(c), background: true, ready: configured, cleanup };
    }
    case "pid":
      return { ...common, base: baseArgs(c), ready: configured };
    case "attached": {
      // The target's network namespace under a name in /run/netns; deleting the name makes pasta quit.
      const name = uniqueName("cla");
      spawnSync("ip", ["netns", "attach", name, String(t?.pid)]);
      vars.netnsname = name;
      const detach = (): void => void spawnSync("ip", ["netns", "del", name], { stdio: "ignore" });
      return { ...common, base: baseArgs(c), ready: configured, finish: detach, cleanup: () => (detach(), kill()) };
    }
    case "rootNetns": {
      const ns = new Netns(uniqueName("clr"));
      vars.netnsname = ns.name;
      return {
        ...common,
        root: true,
        base: baseArgs(c),
        ready: async () => hasHost4(["ip", "-n", ns.name, "-o", "-4", "addr"]),
        finish: () => void spawnSync("ip", ["netns", "del", ns.name], { stdio: "ignore" }),
        cleanup: () => (ns.remove(), kill()),
      };
    }
  }
}

function killPid(pid: number): void {
  // Never 0 or -1 (a process group, everything): only a process's own PID.
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone */
  }
}

function killPidFile(path: string): void {
  if (existsSync(path)) killPid(Number(readFileSync(path, "utf8").trim()));
}

function descendants(pid: number): number[] {
  return childrenOf(pid).flatMap((c) => [...descendants(c), c]);
}

const fill = (s: string, vars: Record<string, string>): string => s.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);

/** Runs one case with ours or C's binary; never longer than about 12 s. */
export async function runCase(lane: Lane, c: Case, impl: "ours" | "c"): Promise<Result> {
  const p = await prepare(lane, c);
  const bin = impl === "ours" ? OURS[c.cmd] : [ORACLE[c.cmd]];
  const args = caseArgs({ ...c, base: c.base ?? p.base }, p.vars);
  const argv = ["ip", "netns", "exec", lane.world.host.name, ...(p.root ? [...bin, ...args] : asUnprivileged([...bin, ...args]))];
  const t0 = Date.now();
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe", ...(c.fd3 ? ["pipe" as const] : [])] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const fd3 = c.fd3 ? (child.stdio[3] as Socket) : undefined;
  fd3?.on("error", () => {});
  fd3?.on("data", () => {});
  let exit: number | string | undefined;
  const exited = new Promise<void>((resolve) => child.on("exit", (code, signal) => ((exit = code ?? signal ?? "?"), resolve())));
  const waitExit = (ms: number): Promise<void> => Promise.race([exited, sleep(ms)]);
  const early = (e: number | string | undefined): Outcome => (e === undefined ? "timeout" : e === 1 ? R : `exit ${e}`);
  let outcome: Outcome;
  try {
    if (!p.ready) {
      await waitExit(10_000);
      outcome = exit === 0 ? A : early(exit);
    } else {
      let ready = false;
      const deadline = t0 + 8000;
      while (Date.now() < deadline) {
        if (exit !== undefined && !(exit === 0 && p.background)) break;
        if (await p.ready()) {
          ready = true;
          break;
        }
        await sleep(30);
      }
      if (!ready) outcome = early(exit);
      else {
        p.finish();
        fd3?.destroy();
        await waitExit(3000);
        outcome = exit === 0 ? A : exit === undefined ? "ready, no exit" : `ready, exit ${exit}`;
      }
    }
  } finally {
    // Still running: kill it and what it started (our rootless pasta's networking process), by PID.
    if (exit === undefined) for (const pid of [...descendants(child.pid as number), child.pid as number]) killPid(pid);
    fd3?.destroy();
    await waitExit(2000);
    p.cleanup();
  }
  return { outcome, output: `${err}${out}`, ms: Date.now() - t0 };
}

/** The first line a run printed, with C's argv[0] (a full path) cut to the command's name. */
export function firstLine(r: Result, cmd: Cmd): string {
  const line = r.output.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.startsWith(ORACLE_DIR) ? `${cmd}${line.slice(line.indexOf(":"))}` : line;
}

/** Runs `jobs` on `lanes`, one job per lane at a time. */
export async function onLanes<T>(lanes: Lane[], jobs: ((lane: Lane) => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    lanes.map(async (lane) => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await (jobs[i] as (lane: Lane) => Promise<T>)(lane);
      }
    }),
  );
  return results;
}
