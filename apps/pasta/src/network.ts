/**
 * The networking process of pasta.
 *
 * Theory of operation
 *
 * Everything here runs with Node's main thread in the host's network
 * namespace. The guest's namespace is made (or joined) by a helper thread
 * and known only by a descriptor; the tap device, the namespace's rtnetlink
 * socket and the splice sockets on its loopback are opened there by helper
 * threads too and then used from the main thread like any descriptor.
 *
 * Order of events, as in the C pasta:
 *  1. read the host's template interface (rtnetlink, host namespace);
 *  2. make or join the guest's network namespace;
 *  3. create the tap inside it, named after the template interface (-I to
 *     choose), and with --config-net (the default when we start the command)
 *     copy addresses, routes and MTU into it and bring it and lo up;
 *  4. bind the forwarded ports, read the tap, answer ARP/NDP/DHCP, translate
 *     UDP (GuestSession);
 *  5. write the pid file, say "ready", start the command; with -t/-T/-u/-U auto,
 *     rescan the bound UDP ports every second (AutoForwarder), the
 *     namespace's through the command's (or the target PID's) /proc entry;
 *  6. when the command ends, or on SIGTERM/SIGINT, close everything, remove
 *     the pid file, and exit with the command's status.
 */
import { existsSync, fstatSync, readFileSync, readlinkSync, statSync, unlinkSync, watch, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { close, createNetns, hasCode, namespacePath, netnsOpenTap, netnsReadFiles, netnsWriteFile, openNamespace, spawn, waitPid } from "@x/syscalls";
import {
  AutoForwarder,
  Cleanups,
  Log,
  PcapFile,
  SyscallSockets,
  TapReader,
  TapSink,
  VNET_HDR_LEN,
  bindFailure,
  countersOnSignal,
  buildNetConfig,
  describeConfig,
  hostTemplate,
  hostSocketPolicy,
  templateIfname,
  logFor,
  checkUser,
  switchUser,
  readTables,
  sessionFor,
  socketInodes,
  type GuestSession,
  type NetConfig,
  type Options,
} from "@x/engine";
import { Rtnl } from "@x/netlink";

/** How often the joined namespace's reference is looked at; its file's folder is also watched (inotify), but an unmount changes no folder. */
const NETNS_WATCH_MS = 250;

function pidGone(pid: number): () => boolean {
  return () => !existsSync(`/proc/${pid}`);
}

/** True once `path` no longer refers to the namespace behind `nsFd` (deleted or unmounted). */
function netnsFileGone(path: string, nsFd: number): () => boolean {
  // fstat, not readlink: a descriptor opened through a bind mount reads back as the path.
  const ino = fstatSync(nsFd).ino;
  return () => {
    try {
      return statSync(path).ino !== ino;
    } catch {
      return true;
    }
  };
}

/** The interface name of tap descriptor `fd` (-F), from its fdinfo; undefined when it is no tap. */
function tapName(fd: number): string | undefined {
  try {
    const st = fstatSync(fd);
    // /dev/net/tun is character device 10:200.
    if (!st.isCharacterDevice() || st.rdev !== ((10 << 8) | 200)) return undefined;
    return /^iff:\s*(\S+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

/** The namespace file for --netns NAME|PATH: a bare name lives in /run/netns. */
function netnsPath(o: Options): string {
  if (o.targetPid !== undefined) return namespacePath(o.targetPid, "net");
  const n = o.netns as string;
  return n.includes("/") ? n : `/run/netns/${n}`;
}

/**
 * A new namespace starts with net.ipv4.ping_group_range "1 0": nobody may
 * open a ping socket, so `ping` inside would fail. Like the C pasta, we
 * open it up in a namespace we created: to every group where the user
 * namespace maps them all (as root), else to the groups it maps (rootless,
 * group 0), since the kernel refuses a range with unmapped groups.
 */
function allowPing(nsFd: number, log: Log): void {
  const path = "/proc/sys/net/ipv4/ping_group_range";
  for (const range of ["0 2147483647", "0 0"]) {
    try {
      netnsWriteFile(nsFd, path, range);
      return;
    } catch (e) {
      if (!hasCode(e, "EINVAL")) {
        log.warn(`cannot allow ping in the namespace (${path}): ${(e as Error).message}`);
        return;
      }
    }
  }
}

async function configureNamespace(nsFd: number, ifname: string, cfg: NetConfig, configNet: boolean, log: Log, mac?: Uint8Array): Promise<void> {
  const nl = Rtnl.open(nsFd);
  try {
    await nl.setLinkUp("lo");
    if (mac) await nl.setLinkAddress(ifname, mac);
    if (!configNet) return;
    const link = await nl.linkByName(ifname);
    if (!link) throw new Error(`tap ${ifname} vanished from the namespace`);
    if (cfg.advertiseMtu !== false) await nl.setMtu(link.index, cfg.mtu);
    if (cfg.v4) await nl.addAddress(link.index, 4, cfg.v4.address, cfg.v4.prefixLen);
    if (cfg.v6) await nl.addAddress(link.index, 6, cfg.v6.address, cfg.v6.prefixLen, { nodad: true });
    await nl.setLinkUp(link.index);
    if (cfg.v4) await nl.addRoute(4, { prefixLen: 0, gateway: cfg.v4.gateway, oif: link.index, onlink: true });
    if (cfg.v6) await nl.addRoute(6, { prefixLen: 0, gateway: cfg.v6.gateway, oif: link.index });
    log.debug(`configured ${ifname}: mtu ${cfg.mtu}`);
  } finally {
    nl.close();
  }
}

/**
 * `-t auto` / `-T auto` / `-u auto` / `-U auto`: rescans the namespace's and the host's TCP or UDP tables
 * every second and forwards what is bound (auto-forward.ts). The
 * namespace's table is read through a process inside it, `nsPid()`, or, when none is known (--netns PATH), by a thread inside it;
 * trusted only while that process is still in our namespace (`nsFd`).
 */
function autoForwarding(o: Options, session: GuestSession, nsFd: number, nsPid: () => number | undefined, log: Log, protocol: "udp" | "tcp"): AutoForwarder {
  const none = { mode: "none" as const, entries: [], exclude: [] };
  const ours = readlinkSync(`/proc/self/fd/${nsFd}`);
  const on = protocol === "tcp" ? o.tcp : o.udp;
  return new AutoForwarder(protocol === "tcp" ? session.tcp : session.udp, {
    protocol,
    udpIn: on ? (protocol === "tcp" ? o.tcpIn : o.udpIn) : none,
    udpOut: on ? (protocol === "tcp" ? o.tcpOut : o.udpOut) : none,
    readNamespace: () => {
      const pid = nsPid();
      if (pid === undefined) {
        // No process of the namespace known (--netns PATH): a thread in it reads its tables.
        const [v4, v6] = netnsReadFiles(nsFd, [`/proc/thread-self/net/${protocol}`, `/proc/thread-self/net/${protocol}6`]);
        return v4 ? [v4, ...(v6 ? [v6] : [])] : undefined;
      }
      if (readlinkSync(`/proc/${pid}/ns/net`) !== ours) return undefined;
      return readTables(`/proc/${pid}/net`, protocol);
    },
    readHost: () => readTables("/proc/net", protocol),
    ownInodes: () => socketInodes(),
    log,
  });
}

export async function runNetwork(o: Options, ready: (err?: string) => void, detached = false): Promise<number> {
  const log = logFor("pasta", o, detached);
  const cleanups = new Cleanups(log);
  const cleanup = (): void => cleanups.run();
  const fail = (msg: string): number => {
    log.error(msg);
    ready(msg);
    cleanup();
    return 1;
  };
  try {
    if (o.runas) checkUser(o.runas);
    const template = await hostTemplate(templateIfname(o));
    const cfg = buildNetConfig(o, template);
    const configNet = o.configNet ?? (o.command.length > 0 || (o.targetPid === undefined && o.netns === undefined));
    const nsFd = o.targetPid !== undefined || o.netns !== undefined ? openNamespace(netnsPath(o), "net") : createNetns();
    cleanups.push(() => close(nsFd));
    const ifname = o.nsIfname ?? (template.ifname || "tap0");
    // A virtio-net header lets bursts for the namespace go in as offload
    // frames (see TapSink). With -F the tap is the caller's, opened without one.
    let tap: { fd: number; name: string };
    if (o.fd !== undefined) {
      const name = tapName(o.fd);
      if (name === undefined) return fail(`--fd ${o.fd}: not an open tap device`);
      tap = { fd: o.fd, name };
    } else {
      tap = netnsOpenTap(nsFd, { name: ifname, up: false, vnetHdr: true });
    }
    const vnetHdr = o.fd !== undefined ? 0 : VNET_HDR_LEN;
    cleanups.push(() => close(tap.fd));
    await configureNamespace(nsFd, tap.name, cfg, configNet, log, o.nsMac);
    if (o.icmp && o.targetPid === undefined && o.netns === undefined) allowPing(nsFd, log);

    const pcap = o.pcap ? new PcapFile(o.pcap) : undefined;
    if (pcap) cleanups.push(() => pcap.close());
    const sockets = new SyscallSockets(nsFd, hostSocketPolicy(o));
    cleanups.push(() => sockets.closeAll());
    const sink = new TapSink(tap.fd, 1024, vnetHdr);
    const session = sessionFor(o, { config: cfg, sockets, sink, log, pcap, splice: true });
    cleanups.push(() => session.stop());
    const failure = bindFailure(session.start());
    if (failure) return fail(failure);
    countersOnSignal(session, log, cleanups);
    const reader = new TapReader(tap.fd, (slab, offs, lens, n) => session.fromGuest(slab, offs, lens, n), 128, 4, vnetHdr);
    reader.start();
    cleanups.push(() => reader.stop());
    if (o.pidFile) {
      writeFileSync(o.pidFile, `${process.pid}\n`);
      const pidFile = o.pidFile;
      cleanups.push(() => existsSync(pidFile) && unlinkSync(pidFile));
    }
    log.info(`namespace ready: ${tap.name}, ${describeConfig(cfg)}`);

    const spawnsCommand = o.command.length > 0 || (o.targetPid === undefined && o.netns === undefined);
    let nsPid: number | undefined = o.targetPid;
    const autos = (["udp", "tcp"] as const).map((p) => autoForwarding(o, session, nsFd, () => nsPid, log, p)).filter((a) => a.active);
    for (const auto of autos) {
      auto.start(1000);
      cleanups.push(() => auto.stop());
    }

    let stop: (code: number) => void = () => {};
    const stopped = new Promise<number>((resolve) => (stop = resolve));
    const onSignal = (): void => stop(0);
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    cleanups.push(() => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    });

    let child: number | undefined;
    if (spawnsCommand) {
      const argv = o.command.length > 0 ? o.command : [process.env.SHELL || "/bin/sh"];
      child = spawn({ argv, netnsFd: nsFd });
      const pid = child;
      nsPid = pid;
      for (const auto of autos) auto.scan();
      waitPid(pid).then((st) => {
        child = undefined;
        log.debug(`command exited: ${st.code ?? `signal ${st.signal}`}`);
        stop(st.code ?? 128 + (st.signal ?? 0));
      });
    } else if (!o.noNetnsQuit) {
      // The joined namespace's reference going away ends us: its process
      // (PID), or its file (--netns: deleted, or no longer the namespace we
      // hold, once unmounted), as the C pasta watches it.
      const gone = o.targetPid !== undefined ? pidGone(o.targetPid) : netnsFileGone(netnsPath(o), nsFd);
      const check = (): void => {
        if (!gone()) return;
        log.info("the namespace is gone: exiting");
        stop(0);
      };
      const t = setInterval(check, NETNS_WATCH_MS);
      cleanups.push(() => clearInterval(t));
      // The file's folder watched too (inotify), so that its removal is seen at once; the poll stays for what inotify misses (unmounts).
      if (o.targetPid === undefined) {
        try {
          const w = watch(dirname(netnsPath(o)), { persistent: false }, check);
          w.on("error", () => w.close());
          cleanups.push(() => w.close());
        } catch {
          /* the poll alone */
        }
      }
    }
    if (o.runas) switchUser(o.runas, log);
    ready();
    const code = await stopped;
    if (child !== undefined) {
      try {
        process.kill(child, "SIGTERM");
      } catch {
        /* gone */
      }
    }
    const c = session.allCounters();
    log.debug(
      `frames from guest ${c.framesIn}, answered ${c.answered}, malformed ${c.malformed}; ` + `udp ${JSON.stringify(c.udp)}`,
    );
    cleanup();
    return code;
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}
