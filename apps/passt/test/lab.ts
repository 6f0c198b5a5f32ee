/**
 * The test bench for passt: the harness's World (host and remote
 * namespaces), plus a guest namespace whose tap qemu 7.2 bridges to passt's
 * UNIX socket. No guest OS: the guest namespace's own kernel stack is the
 * guest, configured by busybox udhcpc (DHCPv4) and by SLAAC from passt's
 * router advertisements.
 *
 *   guest ns                         host ns                    remote ns
 *   tap0 <─> qemu ══unix socket══> passt (as nobody) ──veth──> 198.51.100.1
 *                                                              2001:db8:2::1
 *
 * The same bench runs Debian's passt ("debian") and ours ("ours"). Every
 * process is started with a deadline and killed by PID in remove(), and the
 * namespaces are deleted, whatever happened in between.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Netns, World, asUnprivileged, start, uniqueName, until, UNPRIVILEGED_UID, type Running } from "@x/harness";

export type Impl = "ours" | "debian";

/** Ours as users run it: the native launcher, which starts Node once. */
export const BIN = fileURLToPath(new URL("../bin/passt", import.meta.url));
export const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
export const PROBE = fileURLToPath(new URL("./fixtures/udp-probe.mjs", import.meta.url));
export const TAP = "tap0";

const DHCP_SCRIPT = `#!/bin/sh
# udhcpc calls this with the lease in the environment: apply it.
case "$1" in
  bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/$mask" dev "$interface"
    for r in $router; do ip -4 route replace default via "$r" dev "$interface"; break; done
    echo "ip=$ip mask=$mask router=$router mtu=$mtu dns=$dns" > "$(dirname "$0")/lease"
    ;;
esac
exit 0
`;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a command to completion, asynchronously, with a deadline; resolves with its output. */
export async function run(argv: string[], ms = 15_000): Promise<{ code: number | string; out: string; err: string }> {
  const r = start(argv, { deadlineMs: ms });
  const code = await r.exited;
  return { code, out: r.out(), err: r.err() };
}

export class Lab {
  readonly world: World;
  readonly guest: Netns;
  readonly dir: string;
  readonly sock: string;
  passt: Running | undefined;
  qemu: Running | undefined;
  private readonly extra: Running[] = [];
  /** Pids to SIGKILL at the end (detached passt, for instance). */
  readonly strays: number[] = [];

  constructor(readonly impl: Impl) {
    this.dir = mkdtempSync(join(tmpdir(), "passt-e2e-"));
    chmodSync(this.dir, 0o755);
    chownSync(this.dir, UNPRIVILEGED_UID, UNPRIVILEGED_UID);
    this.sock = join(this.dir, "passt.socket");
    writeFileSync(join(this.dir, "dhcp.sh"), DHCP_SCRIPT, { mode: 0o755 });
    this.world = new World(impl === "ours" ? "po" : "pd");
    try {
      this.guest = new Netns(uniqueName(impl === "ours" ? "pog" : "pdg"));
    } catch (e) {
      this.world.remove();
      throw e;
    }
    this.guest.sh(["ip", "tuntap", "add", TAP, "mode", "tap"]);
    this.guest.sh(["ip", "link", "set", TAP, "mtu", "65520"]);
    for (const s of [`net.ipv6.conf.${TAP}.accept_ra=1`, `net.ipv6.conf.${TAP}.autoconf=1`, `net.ipv6.conf.${TAP}.accept_dad=1`]) {
      this.guest.sh(["sysctl", "-qw", s]);
    }
    this.guest.sh(["ip", "link", "set", TAP, "up"]);
  }

  /** The passt command line for this implementation, unprivileged, in the host namespace. */
  passtArgv(args: string[]): string[] {
    const cmd = this.impl === "ours" ? [BIN] : ["passt"];
    return ["ip", "netns", "exec", this.world.host.name, ...asUnprivileged([...cmd, ...args])];
  }

  /** Starts passt in the foreground on our socket and waits for the socket file. */
  async startPasst(args: string[] = []): Promise<Running> {
    const p = start(this.passtArgv(["-f", "-s", this.sock, ...args]), { deadlineMs: 300_000 });
    this.passt = p;
    await until(() => existsSync(this.sock) || p.child.exitCode !== null, 10_000, "passt's socket");
    if (!existsSync(this.sock)) throw new Error(`passt did not start: ${p.err()}`);
    return p;
  }

  get passtPid(): number {
    const pid = this.passt?.child.pid;
    if (pid === undefined) throw new Error("passt is not running");
    return pid;
  }

  /** Starts qemu as a pure L2 bridge between the tap and passt's socket; waits for the tap's carrier. */
  async startQemu(sock = this.sock): Promise<Running> {
    // One qemu per tap: a second one could not attach, and the carrier
    // check below would see the first one's.
    await this.stopQemu();
    await until(() => this.guest.sh(["ip", "-o", "link", "show", "dev", TAP]).includes("NO-CARRIER"), 5_000, "the tap to lose its carrier");
    const q = start(
      [
        "ip", "netns", "exec", this.guest.name,
        "qemu-system-x86_64", "-M", "none", "-nographic", "-nodefaults", "-display", "none",
        "-netdev", `tap,id=t0,ifname=${TAP},script=no,downscript=no`,
        "-netdev", `stream,id=s0,server=off,addr.type=unix,addr.path=${sock}`,
        "-netdev", "hubport,id=h0,hubid=0,netdev=t0",
        "-netdev", "hubport,id=h1,hubid=0,netdev=s0",
      ],
      { deadlineMs: 300_000 },
    );
    this.qemu = q;
    this.extra.push(q);
    await until(
      () => q.child.exitCode !== null || !this.guest.sh(["ip", "-o", "link", "show", "dev", TAP]).includes("NO-CARRIER"),
      10_000,
      "qemu on the tap",
    );
    if (q.child.exitCode !== null) throw new Error(`qemu exited: ${q.err()}`);
    return q;
  }

  async stopQemu(): Promise<void> {
    const q = this.qemu;
    if (!q) return;
    q.kill("SIGKILL");
    await q.exited;
    this.qemu = undefined;
  }

  /** busybox udhcpc on the tap; resolves with the lease line the script wrote. */
  async dhcp(): Promise<string> {
    const lease = join(this.dir, "lease");
    rmSync(lease, { force: true });
    const r = await run(
      ["ip", "netns", "exec", this.guest.name, "udhcpc", "-i", TAP, "-n", "-q", "-f", "-t", "4", "-T", "1", "-s", join(this.dir, "dhcp.sh")],
      12_000,
    );
    if (!existsSync(lease)) throw new Error(`no DHCP lease (udhcpc ${r.code}): ${r.err.trim()}`);
    return readFileSync(lease, "utf8").trim();
  }

  /** Waits for a global IPv6 address past duplicate address detection; returns it. */
  async slaac(ms = 10_000): Promise<string> {
    let addr = "";
    await until(
      () => {
        const out = this.guest.sh(["ip", "-6", "-o", "addr", "show", "dev", TAP, "scope", "global", "-tentative"]);
        const m = /inet6 ([0-9a-f:]+)\//.exec(out);
        addr = m?.[1] ?? "";
        return addr !== "";
      },
      ms,
      "a global IPv6 address from SLAAC",
    );
    return addr;
  }

  /** An echo server in `ns`; resolves once it is bound. */
  async echo(ns: Netns, family: 4 | 6, port: number, address?: string): Promise<Running> {
    const r = start(["ip", "netns", "exec", ns.name, process.execPath, PROBE, "echo", String(family), String(port), ...(address ? [address] : [])], {
      deadlineMs: 300_000,
    });
    this.extra.push(r);
    await until(() => r.out().includes("listening") || r.child.exitCode !== null, 5_000, `echo server on ${port}`);
    if (!r.out().includes("listening")) throw new Error(`echo server failed: ${r.err()}`);
    return r;
  }

  /** Sends one datagram per size from `ns` and waits for each echo. */
  async ask(ns: Netns, address: string, port: number, sizes: number[], bind?: string, timeoutMs = 700): Promise<Record<string, string>> {
    const r = await run(
      ["ip", "netns", "exec", ns.name, process.execPath, PROBE, "ask", address, String(port), sizes.join(","), String(timeoutMs), ...(bind ? [bind] : [])],
      timeoutMs * 3 + 10_000,
    );
    const line = r.out.trim().split("\n").pop() ?? "";
    try {
      return JSON.parse(line) as Record<string, string>;
    } catch {
      throw new Error(`probe failed (${r.code}): ${r.err.trim()}`);
    }
  }

  /** Starts an extra process that remove() will kill. */
  track(r: Running): Running {
    this.extra.push(r);
    return r;
  }

  async remove(): Promise<void> {
    for (const r of this.extra) r.kill("SIGKILL");
    this.passt?.kill("SIGKILL");
    for (const pid of this.strays) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await Promise.race([Promise.all([...this.extra, ...(this.passt ? [this.passt] : [])].map((r) => r.exited)), sleep(3_000)]);
    this.guest.remove();
    this.world.remove();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export { sleep };
