/**
 * The engine under test, as a process of its own.
 *
 * The integration tests (udp.integration.test.ts) start this script with
 * `ip netns exec HOSTNS node fixture.mjs ...`, so that every socket it opens
 * on the "host" side lives in a throwaway namespace and never in the
 * machine's own. It composes the built @x/engine, @x/syscalls and
 * @x/udp-core the way apps/pasta/src/network.ts does, without pasta's
 * command, launcher or netlink configuration:
 *
 *   - opens the guest namespace (/run/netns/GUEST) and a tap inside it, left
 *     down: the test addresses it and brings it up with `ip -n GUEST`;
 *   - builds a NetConfig from a HostTemplate given on the command line;
 *   - runs a GuestSession over SyscallSockets(guestNsFd), a TapSink and a
 *     TapReader, with the -u / -U forwards given;
 *   - prints `ready {...}` once everything is bound, then runs;
 *   - on SIGUSR2 prints `snapshot {counters}` and goes on (not SIGUSR1,
 *     which Node reserves for its inspector);
 *   - on SIGTERM prints the counters (session.allCounters()) as one JSON
 *     line and exits 0. It also exits by itself after --max-seconds, so a
 *     test runner that died cannot leave it behind for long.
 *
 * Arguments:
 *   --guest NAME        guest namespace (a name in /run/netns)
 *   --tap NAME          tap device name (default tap0)
 *   --ifname NAME       host template interface name (default eth0)
 *   --ifindex N         host template interface index
 *   --addr4 A/LEN --gw4 A --addr6 A/LEN --gw6 A   host template addresses
 *   -u SPEC, -U SPEC    UDP forwards, as pasta spells them (repeatable)
 *   --max-seconds N     lifetime bound (default 120)
 *   --debug             debug log lines on stderr
 */
import { close, netnsOpenTap, openNamespace } from "@x/syscalls";
import {
  GuestSession,
  Log,
  SyscallSockets,
  TapReader,
  TapSink,
  buildNetConfig,
  mergePortSpecs,
  parseOptions,
  parsePortSpec,
} from "@x/engine";
import { isWireError, parseIpAddr } from "@x/l2";

function parseArgs(argv) {
  const a = { tap: "tap0", ifname: "eth0", ifindex: 0, udpIn: [], udpOut: [], maxSeconds: 120, debug: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    switch (k) {
      case "--guest": a.guest = v(); break;
      case "--tap": a.tap = v(); break;
      case "--ifname": a.ifname = v(); break;
      case "--ifindex": a.ifindex = Number(v()); break;
      case "--addr4": a.addr4 = v(); break;
      case "--gw4": a.gw4 = v(); break;
      case "--addr6": a.addr6 = v(); break;
      case "--gw6": a.gw6 = v(); break;
      case "-u": a.udpIn.push(parsePortSpec(v())); break;
      case "-U": a.udpOut.push(parsePortSpec(v())); break;
      case "--max-seconds": a.maxSeconds = Number(v()); break;
      case "--debug": a.debug = true; break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.guest) throw new Error("--guest NAME is required");
  return a;
}

function address(text, what) {
  const b = parseIpAddr(text);
  if (isWireError(b)) throw new Error(`invalid ${what} '${text}'`);
  return b;
}

function withPrefix(text, what) {
  const [addr, len] = text.split("/");
  return { address: address(addr, what), prefixLen: Number(len) };
}

/** The host's template interface, as hostTemplate() would read it, but given by hand. */
function templateOf(a) {
  const t = { ifname: a.ifname, ifindex: a.ifindex, mtu: 1500 };
  if (a.addr4) t.addr4 = withPrefix(a.addr4, "--addr4");
  if (a.gw4) t.gw4 = address(a.gw4, "--gw4");
  if (a.addr6) t.addr6 = withPrefix(a.addr6, "--addr6");
  if (a.gw6) t.gw6 = address(a.gw6, "--gw6");
  return t;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const log = new Log("fixture", args.debug ? "debug" : "warn");
  const cleanups = [];
  const cleanup = () => {
    while (cleanups.length) {
      try {
        cleanups.pop()();
      } catch (e) {
        log.warn(`cleanup: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  try {
    // Defaults of pasta's command line (v4 and v6, gateway mapping, our MAC
    // 9a:55:9a:55:9a:55, MTU 65520), no DNS from this machine's resolv.conf.
    const cfg = buildNetConfig(parseOptions("pasta", []), templateOf(args), { nameservers: [], search: [] });
    const nsFd = openNamespace(`/run/netns/${args.guest}`, "net");
    cleanups.push(() => close(nsFd));
    const tap = netnsOpenTap(nsFd, { name: args.tap, up: false });
    cleanups.push(() => close(tap.fd));

    const sockets = new SyscallSockets(nsFd);
    cleanups.push(() => sockets.closeAll());
    const sink = new TapSink(tap.fd);
    const session = new GuestSession({
      config: cfg,
      sockets,
      sink,
      log,
      udpIn: mergePortSpecs(args.udpIn),
      udpOut: mergePortSpecs(args.udpOut),
      splice: true,
      // The splice scenarios talk to echo servers on the guest's loopback (--host-lo-to-ns-lo).
      hostLoToNsLo: true,
      dhcp: false,
      ndp: true,
      dhcpv6: false,
      ra: false,
    });
    cleanups.push(() => session.stop());
    const failures = session.start();
    if (failures.length > 0) throw new Error(`forwards not bound: ${JSON.stringify(failures)}`);
    const reader = new TapReader(tap.fd, (slab, offs, lens, n) => session.fromGuest(slab, offs, lens, n));
    reader.start();
    cleanups.push(() => reader.stop());

    const lifetime = setTimeout(() => {
      log.warn(`lifetime of ${args.maxSeconds} s reached, exiting`);
      cleanup();
      process.exit(3);
    }, args.maxSeconds * 1000);

    process.on("SIGUSR2", () => {
      process.stdout.write(`snapshot ${JSON.stringify(session.allCounters())}\n`);
    });
    process.on("SIGTERM", () => {
      clearTimeout(lifetime);
      const counters = JSON.stringify(session.allCounters());
      const frames = { tapRead: reader.frames, tapReadErrors: reader.errors, tapWritten: sink.frames, tapDropped: sink.dropped };
      cleanup();
      process.stdout.write(`${counters}\n`, () => {
        process.stderr.write(`fixture: tap ${JSON.stringify(frames)}\n`);
        process.exit(0);
      });
    });
    process.stdout.write(`ready ${JSON.stringify({ tap: tap.name, pid: process.pid })}\n`);
  } catch (e) {
    cleanup();
    process.stderr.write(`fixture: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(2);
  }
}

main();
