/**
 * The working part of passt: one process, one listening socket, one guest
 * at a time.
 *
 * Theory of operation
 *
 * Start-up, in this order, so that every mistake is reported before qemu is
 * told where to connect:
 *  1. read the host's template interface and derive what the guest is told
 *     (addresses, gateways, MTU, DNS), as pasta does;
 *  2. open the forwarded ports (-u) on the host: a port that cannot be bound
 *     is fatal, as in the C passt;
 *  3. listen on the UNIX socket (-s, or the first free /tmp/passt_N.socket);
 *  4. write the pid file, print the socket path and the qemu command line,
 *     and say "ready" (the launcher detaches only then).
 *
 * Afterwards everything is driven by readiness callbacks on Node's loop:
 *
 *   listening socket ──accept──> QemuConnection ──frames──> GuestSession
 *                                      ^                       │ ARP, NDP,
 *                                      └──── QemuSink <────────┘ DHCP, UDP
 *
 * The GuestSession (its UDP bindings, forwarded ports, learnt addresses)
 * outlives connections: a guest that reconnects, or a new qemu on the same
 * socket, finds the same passt, as with the C one. While a guest is
 * connected, a second client is accepted and closed at once with a log
 * line; when the guest goes away we simply keep listening, or, with
 * --one-off, stop.
 *
 * With -F/--fd the guest's connection is already open (a parent made a
 * socket pair, say, and handed us one end): there is nothing to listen on,
 * the connection is adopted at once, and passt stops when it closes.
 *
 * SIGTERM and SIGINT stop cleanly: the guest's connection, host sockets and
 * the listening socket are closed, and the socket file and pid file removed.
 *
 * Privileges: none needed. The C passt, started as root, switches to user
 * nobody; we keep the user we were started as (no --runas), so run passt as
 * the user that owns the VM.
 */
import { existsSync, unlinkSync, writeFileSync } from "node:fs";
import { READABLE, Watcher, accept, adoptStreamSocket, close } from "@x/syscalls";
import {
  Cleanups,
  PcapFile,
  SyscallSockets,
  bindFailure,
  countersOnSignal,
  buildNetConfig,
  describeConfig,
  hostTemplate,
  logFor,
  hostSocketPolicy,
  templateIfname,
  checkUser,
  switchUser,
  sessionFor,
  type Options,
} from "@x/engine";
import { QemuConnection, QemuSink } from "./qemu-link.js";
import { listenForQemu } from "./socket-path.js";

export interface RunHooks {
  /** Tells the launcher that start-up is over (or how it failed). */
  ready(err?: string): void;
  /** A start-up line the user must see even when we run detached. */
  tell?(line: string): void;
  /** Detached from the terminal: the log goes to the system logger (without -l). */
  detached?: boolean;
}

/** Runs passt until a signal (or, with --one-off, the end of the first guest). Returns the exit code. */
export async function runPasst(o: Options, hooks: RunHooks): Promise<number> {
  const log = logFor("passt", o, hooks.detached === true);
  const cleanups = new Cleanups(log);
  const cleanup = (): void => cleanups.run();
  const fail = (msg: string): number => {
    log.error(msg);
    hooks.ready(msg);
    cleanup();
    return 1;
  };
  const say = (line: string): void => {
    log.info(line);
    hooks.tell?.(line);
  };
  try {
    if (o.runas) checkUser(o.runas);
    const template = await hostTemplate(templateIfname(o));
    const cfg = buildNetConfig(o, template);
    log.debug(`template interface ${cfg.template.ifname || "(none)"}: ${describeConfig(cfg)}`);

    const pcap = o.pcap ? new PcapFile(o.pcap) : undefined;
    if (pcap) cleanups.push(() => pcap.close());
    const sockets = new SyscallSockets(undefined, hostSocketPolicy(o));
    cleanups.push(() => sockets.closeAll());
    const sink = new QemuSink();
    // --fd: no listening socket, one connection, and passt ends with it.
    // Checked before anything starts, so that a wrong descriptor is the only line.
    const adopted = o.fd;
    const oneOff = o.oneOff || adopted !== undefined;
    if (adopted !== undefined) {
      try {
        adoptStreamSocket(adopted);
      } catch (e) {
        return fail(`--fd ${adopted}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const session = sessionFor(o, { config: cfg, sockets, sink, log, pcap, splice: false });
    cleanups.push(() => session.stop());
    const failure = bindFailure(session.start());
    if (failure) return fail(failure);
    countersOnSignal(session, log, cleanups);

    let stop: (code: number) => void = () => {};
    const stopped = new Promise<number>((resolve) => (stop = resolve));

    let guest: QemuConnection | undefined;
    let served = 0;
    let stopping = false;
    const listening = adopted === undefined ? listenForQemu(o.socket) : undefined;
    if (listening) {
      cleanups.push(() => {
        close(listening.fd);
        if (existsSync(listening.path)) unlinkSync(listening.path);
      });
    }
    const where = listening ? listening.path : `fd ${String(adopted)}`;

    const onGuestClosed = (reason: string): void => {
      sink.detach();
      const g = guest;
      guest = undefined;
      const out = g?.outStats;
      log.info(
        `guest disconnected: ${reason}` +
          (g && out ? ` (frames in ${g.framesIn}, out ${out.frames}, dropped ${out.dropped}, short writes ${out.shortWrites})` : ""),
      );
      if (stopping) return;
      if (oneOff) stop(0);
      else log.info(`listening again on ${where}`);
    };
    const attach = (fd: number): void => {
      served++;
      const conn = new QemuConnection(fd, (slab, offs, lens, n) => session.fromGuest(slab, offs, lens, n), onGuestClosed, log);
      guest = conn;
      sink.attach(conn.stream);
      conn.start();
      log.info(`guest connected on ${where}`);
    };
    const onAcceptable = (l: { fd: number; path: string }): void => {
      // A few per callback: a client storm must not starve the datagram path.
      for (let k = 0; k < 16; k++) {
        let fd: number;
        try {
          fd = accept(l.fd);
        } catch (e) {
          log.warn(`accept on ${l.path} failed: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
        if (fd < 0) return;
        if (guest || (oneOff && served > 0)) {
          log.info("another client connected while a guest is attached: refusing it");
          close(fd);
          continue;
        }
        attach(fd);
      }
    };
    if (listening) {
      const acceptWatch = new Watcher(listening.fd, READABLE, () => onAcceptable(listening));
      cleanups.push(() => acceptWatch.close());
    }
    cleanups.push(() => guest?.close("passt is stopping"));

    if (o.pidFile) {
      writeFileSync(o.pidFile, `${process.pid}\n`);
      const pidFile = o.pidFile;
      cleanups.push(() => existsSync(pidFile) && unlinkSync(pidFile));
    }

    const onSignal = (): void => stop(0);
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    cleanups.push(() => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    });

    if (listening) {
      say(`UNIX domain socket bound at ${listening.path}`);
      say("You can now start qemu (>= 7.2):");
      say(
        `    qemu-system-x86_64 ... -device virtio-net-pci,netdev=s ` +
          `-netdev stream,id=s,server=off,addr.type=unix,addr.path=${listening.path}`,
      );
    }
    if (o.runas) switchUser(o.runas, log);
    hooks.ready();
    if (adopted !== undefined) attach(adopted);

    const code = await stopped;
    stopping = true;
    const c = session.allCounters();
    log.debug(
      `frames from guests ${c.framesIn}, answered ${c.answered}, malformed ${c.malformed}, ` +
        `dropped with no guest ${sink.droppedUnconnected}; udp ${JSON.stringify(c.udp)}`,
    );
    cleanup();
    return code;
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
}
