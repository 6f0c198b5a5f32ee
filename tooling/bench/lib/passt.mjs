// passt through qemu 7.2 as a pure L2 bridge: a guest namespace whose tap
// qemu joins to passt's UNIX socket, passt (as nobody) in a world's host
// namespace. No guest OS: the guest namespace's own kernel stack is the
// guest, configured statically with what passt's DHCP would hand out (the
// host's address and its gateway).
//
//   guest ns                          host ns                   remote ns
//   tap0 <-> qemu ══unix socket══> passt (nobody) ──veth──> 198.51.100.1
//
//   ours  node apps/passt/dist/cli.js -f -t none -s SOCKET -u 5001,11111
//   c     /usr/bin/passt (or --c's) -f -t none -s SOCKET -u 5001,11111
//
// qemu 7.2 can abort (iov_copy: Assertion 'offset == 0') when its own
// writes to the socket are cut short under floods; a measurement during
// which qemu or passt died is a failed measurement with the reason, and the
// next measurement gets a fresh instance.
import fs from "node:fs";
import path from "node:path";
import { Netns, HOST4, GW4, REMOTE4, asUnprivileged, uniqueName } from "@x/harness";
import { C_BIN, OURS_PASST_BIN, PORTS, buildProbe, makeWorld, tmp } from "./impls.mjs";
import { startProc, run, until, onCleanup } from "./proc.mjs";

export const TAP = "tap0";
export const PASST_IN_PORTS = [PORTS.iperf.in, PORTS.sockperf.in];
const QEMU = "qemu-system-x86_64";

/** A passt world: the harness's World (host, remote) plus a guest namespace with a tap. */
export async function makePasstWorld(prefix) {
  const world = await makeWorld(prefix);
  let guest;
  try {
    guest = new Netns(uniqueName(`${prefix}g`));
  } catch (e) {
    world.remove();
    throw e;
  }
  const off = onCleanup(() => guest.remove());
  guest.sh(["ip", "tuntap", "add", TAP, "mode", "tap"]);
  guest.sh(["ip", "link", "set", TAP, "mtu", "65520"]);
  // IPv4 only: no router solicitations or DAD in the way of the measurements.
  guest.sh(["sysctl", "-qw", `net.ipv6.conf.${TAP}.disable_ipv6=1`]);
  // qemu 7.2's tap + hub + stream bridge breaks on its own short writes under
  // bulk TCP from the guest (ARCHITECTURE.md, facts): a capped send buffer keeps it sound.
  guest.sh(["sysctl", "-qw", "net.ipv4.tcp_wmem=4096 16384 131072"]);
  guest.sh(["ip", "link", "set", TAP, "up"]);
  guest.sh(["ip", "link", "set", "lo", "up"]);
  guest.sh(["ip", "addr", "add", `${HOST4}/24`, "dev", TAP]);
  guest.sh(["ip", "route", "add", "default", "via", GW4, "dev", TAP]);
  const inGuest = (argv) => ["ip", "netns", "exec", guest.name, ...argv];
  return {
    ...world,
    guest,
    inGuest,
    remove: () => {
      guest.remove();
      off();
      world.remove();
    },
  };
}

const tapCarrier = async (pw) => !(await run(pw.inGuest(["ip", "-o", "link", "show", "dev", TAP]), 5000)).out.includes("NO-CARRIER");

/**
 * Starts passt (`id` ours or c) and qemu in passt world `pw`; resolves once
 * a datagram from the guest came back from the remote's echo peer.
 * Returns { id, passt: true, world: pw, netPid, inNs (the guest), startupMs, alive(), why(), stop() }.
 */
export async function startPasst(id, pw, { extraArgs = [] } = {}) {
  const probe = await buildProbe();
  const dir = fs.mkdtempSync(path.join(tmp(), `passt-${id}-`));
  fs.chmodSync(dir, 0o777);
  const sock = path.join(dir, "passt.socket");
  const ready = path.join(dir, "ready");
  const bin = id === "ours" ? [OURS_PASST_BIN] : id === "c" ? [C_BIN.passt] : null;
  if (!bin) throw new Error(`no passt for ${id}`);
  const args = ["-f", "-t", "none", "-s", sock, "-u", PASST_IN_PORTS.join(","), ...extraArgs];
  const t0 = process.hrtime.bigint();
  const passt = startProc(pw.inHost(asUnprivileged([...bin, ...args])));
  let qemu = null;
  let ping = null;
  const stop = async () => {
    ping?.kill("SIGKILL");
    if (qemu) await qemu.stop(1000);
    await passt.stop(2000);
    fs.rmSync(sock, { force: true });
  };
  try {
    // Start-up to listening: the socket's file appears at bind(), and both
    // implementations listen() right after; polled every millisecond.
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(sock) && passt.alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    const listenMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!passt.alive()) throw new Error(`${id} passt exited early: ${passt.err.trim().slice(-500)}`);
    if (!fs.existsSync(sock)) throw new Error(`${id} passt: no socket after 10 s`);
    await until(async () => !(await tapCarrier(pw)), 5000, "the tap without carrier");
    qemu = startProc(
      pw.inGuest([
        QEMU, "-M", "none", "-nographic", "-nodefaults", "-display", "none",
        "-netdev", `tap,id=t0,ifname=${TAP},script=no,downscript=no`,
        "-netdev", `stream,id=s0,server=off,addr.type=unix,addr.path=${sock}`,
        "-netdev", "hubport,id=h0,hubid=0,netdev=t0",
        "-netdev", "hubport,id=h1,hubid=0,netdev=s0",
      ]),
    );
    await until(async () => !qemu.alive() || (await tapCarrier(pw)), 10_000, "qemu on the tap");
    if (!qemu.alive()) throw new Error(`qemu exited: ${qemu.err.trim().slice(-500)}`);
    // The first frame from the guest also teaches passt the guest's MAC.
    // 32 bytes, not the default 4: Debian's passt (2023.03) forwards nothing
    // of a 46-byte frame (shorter than Ethernet's 60-byte minimum), and
    // qemu's tap backend does not pad.
    ping = startProc(pw.inGuest([probe, "ping", REMOTE4, String(PORTS.startup.far), ready, "32"]));
    await until(() => (fs.existsSync(ready) && fs.readFileSync(ready, "utf8").trim().length > 0) || !qemu.alive() || !passt.alive(), 15_000, `${id} passt: first datagram from the guest`);
    if (!qemu.alive()) throw new Error(`qemu exited: ${qemu.err.trim().slice(-500)}`);
    if (!passt.alive()) throw new Error(`${id} passt exited: ${passt.err.trim().slice(-500)}`);
    const startupMs = Number(BigInt(fs.readFileSync(ready, "utf8").trim()) - t0) / 1e6;
    ping.kill("SIGKILL");
    ping = null;
    const netPid = passt.pid; // ip netns exec and setpriv exec: the pid is passt's (node's, with -f)
    const alive = () => passt.alive() && qemu.alive();
    const why = () => {
      // qemu's one expected warning (no NIC on the hub: there is no guest OS) is not a reason.
      const last = (s) => s.trim().split("\n").filter((l) => l && !/warning: hub \d+ with no nics/.test(l)).slice(-2).join(" / ").slice(-300);
      const out = [];
      if (!qemu.alive()) out.push(`qemu ${qemu.child.signalCode ?? `exit ${qemu.child.exitCode}`}: ${last(qemu.err) || "(nothing on stderr)"}`);
      if (!passt.alive()) out.push(`passt ${passt.child.signalCode ?? `exit ${passt.child.exitCode}`}: ${last(passt.err) || "(nothing on stderr)"}`);
      return out.join("; ");
    };
    return { id, passt: true, world: pw, netPid, inNs: pw.inGuest, startupMs, listenMs, v6: false, alive, why, stop, rec: passt, qemu };
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\npasst stderr: ${passt.err.slice(-1000)}${qemu ? `\nqemu stderr: ${qemu.err.slice(-1000)}` : ""}`);
  }
}

