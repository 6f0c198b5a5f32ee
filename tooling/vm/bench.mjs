// A real Linux guest behind passt: the bench that apps/passt/test/vm.e2e.test.ts
// and tooling/demo/passt-demo.mjs share.
//
//   qemu (TCG, Debian cloud kernel, virtio-net)
//     └─ -netdev stream ══ unix socket ══> passt (uid 65534, host ns)
//   host ns 203.0.113.2 / 2001:db8:1::2 ──veth──> remote ns: 198.51.100.1, 2001:db8:2::1
//
// The host namespace's resolv.conf (/etc/netns/NAME/resolv.conf, which
// `ip netns exec` mounts over /etc/resolv.conf) names the remote host as
// its resolver, where a small DNS server answers one name. passt forwards
// one TCP port (-t) and one UDP port (-u) to the guest. One boot runs every
// scenario (guest/init): DHCPv4, SLAAC, the router advertisement, DHCPv6,
// DNS A and AAAA, UDP to the remote's echo, 10 MiB downloads from the
// remote over v4 and v6; then the guest serves a UDP echo and a 10 MiB
// file, and this side sends to it from the remote through the host's
// address, v4 and v6. judge() turns what both sides saw into rows.
//
// Every process is started with a deadline and killed by PID in remove(),
// which also deletes the namespaces, the resolv.conf directory and the
// temporary directory.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { World, asUnprivileged, until, UNPRIVILEGED_UID, REMOTE4, REMOTE6, HOST4, HOST6, GW4 } from "../harness/dist/index.js";
import { ensureGuest } from "./build-guest.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REMOTE_TOOLS = join(HERE, "remote-tools.mjs");

export const PORTS = { dns: 53, udpEcho: 7001, tcpSource: 7101, fwdUdp: 7002, fwdTcp: 7102 };
export const DNS_NAME = "guest-test.passt.example";
export const DNS_A = "198.51.100.42";
export const DNS_AAAA = "2001:db8:2::42";
export const SEARCH = "passt.example";
export const BYTES = 10 * 1024 * 1024;
const QEMU_DEADLINE_MS = 150_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a command with a deadline; keeps its output; resolves `exited` with the code or signal. */
function launch(argv, deadlineMs, onLine) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  const p = { child, out: "", err: "", argv };
  let partial = "";
  child.stdout.on("data", (d) => {
    const s = d.toString();
    p.out += s;
    if (!onLine) return;
    partial += s;
    const lines = partial.split(/\r?\n/);
    partial = lines.pop() ?? "";
    for (const l of lines) onLine(l);
  });
  child.stderr.on("data", (d) => (p.err += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
  p.exited = new Promise((resolve) => {
    child.on("error", (e) => {
      p.err += `spawn: ${e.message}\n`;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? -1);
    });
  });
  return p;
}

/** host:port, with brackets around an IPv6 address. */
const hp = (addr, port) => (addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`);

/** An IPv6 address in text as 16 bytes. */
export function ipv6Bytes(addr) {
  const [head, tail = ""] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = addr.includes("::") ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t] : h;
  const b = Buffer.alloc(16);
  groups.slice(0, 8).forEach((g, i) => b.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return b;
}

/** The "@@VM {json}" result line in a serial console line, if any. */
export function parseVmLine(line) {
  const i = line.indexOf("@@VM {");
  if (i < 0) return undefined;
  try {
    return JSON.parse(line.slice(i + 5).trim());
  } catch {
    return undefined;
  }
}

export class VmBench {
  /**
   * @param {{ label: string, command: string[], prefix?: string, log?: (s: string) => void, passtArgs?: string[],
   *   onEvent?: (who: "guest" | "remote", e: object) => void }} opts
   *   command: the passt executable and any leading arguments (run as uid 65534 in the host namespace);
   *   onEvent sees every guest line and every remote verdict as it comes
   */
  constructor(opts) {
    this.label = opts.label;
    this.command = opts.command;
    this.prefix = opts.prefix ?? "vm";
    this.log = opts.log ?? (() => {});
    this.onEvent = opts.onEvent ?? (() => {});
    this.passtArgs = opts.passtArgs ?? [];
    this.procs = [];
    this.events = []; // every @@VM line, in order
    this.remote = {}; // the remote side's verdicts
    this.timeline = {};
  }

  /** Builds the world and starts the remote servers and passt. */
  async setup() {
    const t0 = Date.now();
    this.guest = ensureGuest();
    this.timeline.guestReadyMs = Date.now() - t0;
    this.dir = mkdtempSync(join(tmpdir(), "passt-vm-"));
    chmodSync(this.dir, 0o755);
    chownSync(this.dir, UNPRIVILEGED_UID, UNPRIVILEGED_UID);
    this.sock = join(this.dir, "passt.socket");
    this.world = new World(this.prefix);
    this.resolvDir = `/etc/netns/${this.world.host.name}`;
    mkdirSync(this.resolvDir, { recursive: true });
    writeFileSync(join(this.resolvDir, "resolv.conf"), `nameserver ${REMOTE4}\nnameserver ${REMOTE6}\nsearch ${SEARCH}\n`);
    this.downFile = join(this.dir, "down.bin");
    const data = randomBytes(BYTES);
    writeFileSync(this.downFile, data, { mode: 0o644 });
    this.downSha = createHash("sha256").update(data).digest("hex");
    // passt answers the guest's pings through ping sockets, which the host must allow its group.
    this.world.host.sh(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
    const r = this.world.remote.name;
    this.dns = await this.server("dns", ["dns", String(PORTS.dns), DNS_NAME, DNS_A, DNS_AAAA, REMOTE4, REMOTE6], r);
    this.udpEcho = await this.server("udp echo", ["udp-echo", String(PORTS.udpEcho), REMOTE4, REMOTE6], r);
    this.source = await this.server("tcp source", ["tcp-source", String(PORTS.tcpSource), this.downFile, REMOTE4, REMOTE6], r);
    this.passt = this.track(
      launch(
        ["ip", "netns", "exec", this.world.host.name, ...asUnprivileged([...this.command, "-f", "-s", this.sock, "-t", String(PORTS.fwdTcp), "-u", String(PORTS.fwdUdp), ...this.passtArgs])],
        300_000,
      ),
    );
    await until(() => existsSync(this.sock) || this.passt.child.exitCode !== null, 10_000, "passt's socket").catch(() => {});
    if (!existsSync(this.sock)) throw new Error(`passt did not start: ${this.passt.err.trim().slice(-400)}`);
    this.timeline.setupMs = Date.now() - t0;
  }

  track(p) {
    this.procs.push(p);
    return p;
  }

  async server(what, args, ns) {
    const p = this.track(launch(["ip", "netns", "exec", ns, process.execPath, REMOTE_TOOLS, ...args], 300_000));
    await until(() => p.out.includes("listening") || p.child.exitCode !== null, 5_000, `the ${what} server`).catch(() => {});
    if (!p.out.includes("listening")) throw new Error(`the ${what} server did not start: ${p.err.trim()}`);
    return p;
  }

  async remoteClient(args, ms) {
    const p = this.track(launch(["ip", "netns", "exec", this.world.remote.name, process.execPath, REMOTE_TOOLS, ...args], ms + 5_000));
    await p.exited;
    const line = p.out.trim().split("\n").pop() ?? "";
    try {
      return JSON.parse(line);
    } catch {
      return { ok: false, error: `remote-tools ${args[0]}: ${(p.err || p.out).trim().slice(-300) || "no output"}` };
    }
  }

  qemuArgv() {
    const append = [
      "console=ttyS0",
      "quiet",
      "loglevel=3",
      "panic=-1",
      `vm_remote4=${REMOTE4}`,
      `vm_remote6=${REMOTE6}`,
      `vm_name=${DNS_NAME}`,
      `vm_udp=${PORTS.udpEcho}`,
      `vm_tcp=${PORTS.tcpSource}`,
      `vm_fwdudp=${PORTS.fwdUdp}`,
      `vm_fwdtcp=${PORTS.fwdTcp}`,
      `vm_bytes=${BYTES}`,
      "vm_serves=2",
      "vm_wait=60",
      "vm_deadline=120",
    ].join(" ");
    return [
      "qemu-system-x86_64",
      "-accel", "tcg", "-cpu", "max", "-m", "256", "-smp", "1",
      "-nodefaults", "-nographic", "-monitor", "none", "-serial", "stdio", "-no-reboot",
      "-kernel", this.guest.kernel, "-initrd", this.guest.initrd, "-append", append,
      "-netdev", `stream,id=n0,server=off,addr.type=unix,addr.path=${this.sock}`,
      "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=",
    ];
  }

  /** Boots the guest, plays the remote side when the guest is serving, waits for the power-off. */
  async run() {
    const t0 = Date.now();
    let serving;
    const servingP = new Promise((r) => (serving = r));
    const onLine = (line) => {
      const e = parseVmLine(line);
      if (!e) return;
      e.at_ms = Date.now() - t0;
      this.events.push(e);
      this.log(`guest: ${JSON.stringify(e)}`);
      this.onEvent("guest", e);
      if (e.step === "servers") serving(e.ok);
    };
    this.qemu = this.track(launch(["ip", "netns", "exec", this.world.host.name, ...this.qemuArgv()], QEMU_DEADLINE_MS, onLine));
    // A passt that dies leaves the guest waiting for its deadline: stop the guest soon after.
    void this.passt.exited.then(async () => {
      if (this.qemu.child.exitCode !== null || this.qemu.child.signalCode !== null) return;
      this.passtDiedAtMs = Date.now() - t0;
      await sleep(3_000);
      this.qemu.child.kill("SIGKILL");
    });
    const which = await Promise.race([servingP, this.qemu.exited.then(() => "exited")]);
    if (which === true) {
      const t1 = Date.now();
      for (const [name, args, ms] of [
        ["udp4", ["udp-ask", HOST4, String(PORTS.fwdUdp), REMOTE4, "3000"], 3000],
        ["udp6", ["udp-ask", HOST6, String(PORTS.fwdUdp), REMOTE6, "3000"], 3000],
        ["fetch4", ["tcp-fetch", HOST4, String(PORTS.fwdTcp), REMOTE4, "40000"], 40000],
        ["fetch6", ["tcp-fetch", HOST6, String(PORTS.fwdTcp), REMOTE6, "40000"], 40000],
      ]) {
        this.remote[name] = await this.remoteClient(args, ms);
        this.log(`remote: ${name} ${JSON.stringify(this.remote[name])}`);
        this.onEvent("remote", { step: name, at_ms: Date.now() - t0, ...this.remote[name] });
      }
      this.timeline.remoteSideMs = Date.now() - t1;
    }
    this.qemuCode = await this.qemu.exited;
    this.timeline.vmMs = Date.now() - t0;
    this.serial = this.qemu.out;
    this.dnsLog = this.dns.out
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
  }

  /** The last event of a step, if any. */
  step(name) {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i].step === name) return this.events[i];
    return undefined;
  }

  all(name) {
    return this.events.filter((e) => e.step === name);
  }

  /** One row per scenario: { name, ok, note }. */
  judge() {
    const rows = [];
    const row = (name, fn) => {
      try {
        rows.push({ name, ok: true, note: fn() });
      } catch (e) {
        rows.push({ name, ok: false, note: e instanceof Error ? e.message : String(e) });
      }
    };
    const need = (name) => {
      const e = this.step(name);
      if (!e) throw new Error(`the guest never reported "${name}"${this.qemuCode !== undefined ? ` (qemu exit ${this.qemuCode})` : ""}`);
      if (!e.ok) throw new Error(`${name}: ${e.error ?? JSON.stringify(e)}`);
      return e;
    };
    const check = (cond, msg) => {
      if (!cond) throw new Error(msg);
    };
    const arr = (x) => (Array.isArray(x) ? x : []);

    row("boot: kernel, virtio-net modules, eth0", () => {
      const b = need("boot");
      need("modules");
      const l = need("link");
      return `Linux ${b.kernel}, up after ${b.uptime} s (${b.at_ms} ms from qemu start), eth0 ${l.mac} (${l.driver})`;
    });
    row("DHCPv4: lease from passt (udhcpc)", () => {
      const d = need("dhcp");
      check(d.ip === HOST4, `address ${d.ip}, expected ${HOST4}`);
      check(d.router === GW4, `router ${d.router}, expected ${GW4}`);
      check(String(d.dns).split(" ").includes(REMOTE4), `DNS "${d.dns}", expected ${REMOTE4} (the host's resolv.conf)`);
      return `${d.ip}/${d.mask} router ${d.router} dns ${d.dns} mtu ${d.mtu || "-"} search ${d.search || d.domain || "-"}`;
    });
    row("SLAAC: global IPv6 address past DAD", () => {
      const s = need("slaac");
      check(String(s.address).startsWith("2001:db8:1:"), `address ${s.address}, expected one in 2001:db8:1::/64`);
      return `${s.address}/${s.prefixlen} after ${s.ms} ms`;
    });
    row("router advertisement: prefix, RDNSS", () => {
      const r = need("ra");
      const prefixes = arr(r.prefixes);
      // The prefix field's host bits are not always zero (C passt sends its own address there): compare the /64.
      const ours = (p) => /\/64 /.test(p) && p.includes("A=true") && ipv6Bytes(p.split("/")[0]).subarray(0, 8).equals(ipv6Bytes(HOST6).subarray(0, 8));
      check(prefixes.some(ours), `no autonomous 2001:db8:1::/64 prefix in ${JSON.stringify(prefixes)}`);
      check(arr(r.rdnss).includes(REMOTE6), `RDNSS ${JSON.stringify(r.rdnss)}, expected ${REMOTE6}`);
      return `from ${r.router}, prefixes ${prefixes.join(", ")}, mtu ${r.mtu ?? "-"}, RDNSS ${arr(r.rdnss).join(" ")}, DNSSL ${arr(r.dnssl).join(" ") || "-"}, flags M=${r.managed} O=${r.other}, cur hop limit ${r.hop_limit}`;
    });
    row("DHCPv6 Information-Request: DNS servers", () => {
      const d = need("dhcp6");
      check(arr(d.dns).includes(REMOTE6), `DNS ${JSON.stringify(d.dns)}, expected ${REMOTE6}`);
      return `from ${d.server}: dns ${arr(d.dns).join(" ")}, domains ${arr(d.domains).join(" ") || "-"}`;
    });
    row("DHCPv6 Solicit (rapid commit): the host's address in IA_NA", () => {
      const d = need("dhcp6-solicit");
      const addrs = arr(d.addresses);
      check(addrs.some((x) => x.split(" ")[0] === HOST6), `addresses ${JSON.stringify(addrs)}, expected ${HOST6}`);
      return `${d.reply} from ${d.server}: ${addrs.join(", ")}${d.t1 !== undefined ? `, T1 ${d.t1} T2 ${d.t2}` : ""}`;
    });
    for (const [step, type, answer, server] of [
      ["dns4", 1, DNS_A, REMOTE4],
      ["dns6", 28, DNS_AAAA, REMOTE6],
    ]) {
      row(`DNS ${type === 1 ? "A" : "AAAA"} ${DNS_NAME} via the ${step === "dns4" ? "DHCPv4" : "DHCPv6"} resolver`, () => {
        const d = need(step);
        check(d.server === server, `asked ${d.server}, expected ${server}`);
        check(arr(d.answers).includes(answer), `answers ${JSON.stringify(d.answers)}, expected ${answer}`);
        const q = (this.dnsLog ?? []).filter((x) => x.event === "query" && x.type === type);
        check(q.length > 0, "the remote DNS server saw no such query");
        return `${arr(d.answers).join(" ")} from ${d.server} in ${d.ms} ms (${d.tries} tr${d.tries === 1 ? "y" : "ies"}); the server saw it from ${q[0].from}`;
      });
    }
    for (const [step, target, size] of [
      ["udp4", REMOTE4, 0],
      ["udp6", REMOTE6, 0],
      ["udp4-big", REMOTE4, 60000],
      ["udp6-big", REMOTE6, 60000],
    ]) {
      row(`UDP guest -> remote ${hp(target, PORTS.udpEcho)} echo${size ? `, one ${size}-byte datagram (MTU 65520)` : ""}`, () => {
        const u = need(step);
        if (size) check(u.bytes === size, `${u.bytes} bytes came back, sent ${size}`);
        return `${u.bytes} bytes echoed after ${u.tries} tr${u.tries === 1 ? "y" : "ies"}, rtt ${(u.rtt_us / 1000).toFixed(2)} ms, from ${u.local}`;
      });
    }
    for (const [step, target] of [
      ["ping4", REMOTE4],
      ["ping6", REMOTE6],
    ]) {
      row(`ICMP${step === "ping6" ? "v6" : ""} echo: busybox ping -c 3 ${target}`, () => {
        const p = need(step);
        return String(p.summary).replace(/\s+/g, " ").trim();
      });
    }
    const echoes = this.all("udp-echo");
    for (const [name, to, from] of [
      ["udp4", HOST4, REMOTE4],
      ["udp6", HOST6, REMOTE6],
    ]) {
      row(`UDP remote -> ${hp(to, PORTS.fwdUdp)} -> guest (-u) echo`, () => {
        const r = this.remote[name];
        check(r, "not run: the guest never started its servers");
        check(r.ok, `remote: ${r.error}`);
        const seen = echoes.filter((e) => String(e.from).includes(from));
        return `echoed, rtt ${(r.rtt_us / 1000).toFixed(2)} ms, tries ${r.tries}; the guest saw ${seen.length ? seen.map((e) => e.from).join(", ") : echoes.map((e) => e.from).join(", ") || "nothing"}`;
      });
    }
    for (const [step, target] of [
      ["fetch4", REMOTE4],
      ["fetch6", REMOTE6],
    ]) {
      row(`TCP 10 MiB remote ${hp(target, PORTS.tcpSource)} -> guest, sha256`, () => {
        const f = need(step);
        check(f.bytes === BYTES, `${f.bytes} bytes, expected ${BYTES}`);
        check(f.sha256 === this.downSha, `sha256 ${f.sha256}, sent ${this.downSha}`);
        return `${f.bytes} bytes, sha256 matches, ${f.ms} ms (${f.mbit_s} Mbit/s)`;
      });
    }
    const gen = this.step("gen");
    for (const [name, to] of [
      ["fetch4", HOST4],
      ["fetch6", HOST6],
    ]) {
      row(`TCP 10 MiB guest -> remote through ${hp(to, PORTS.fwdTcp)} (-t), sha256`, () => {
        const r = this.remote[name];
        check(r, "not run: the guest never started its servers");
        check(r.ok, `remote: ${r.error} after ${r.bytes} bytes`);
        check(gen && r.sha256 === gen.sha256 && r.bytes === gen.bytes, `${r.bytes} bytes, sha256 ${r.sha256}; the guest served ${gen?.bytes} bytes, ${gen?.sha256}`);
        return `${r.bytes} bytes, sha256 matches, ${r.ms} ms (${r.mbit_s} Mbit/s)`;
      });
    }
    row("guest done: all served, powered off", () => {
      check(this.passtDiedAtMs === undefined, `passt exited during the run (after ${this.passtDiedAtMs} ms): ${this.passtTail(2)}`);
      need("servers-end");
      const d = need("done");
      check(this.qemuCode === 0, `qemu exit ${this.qemuCode}`);
      return `powered off at ${d.uptime} s guest uptime; whole VM run ${this.timeline.vmMs} ms`;
    });
    return rows;
  }

  /** The last lines of passt's stderr, for a report. */
  passtTail(n = 3) {
    return (this.passt?.err ?? "").trim().split("\n").slice(-n).join(" / ");
  }

  serialTail(n = 15) {
    const text = (this.serial ?? this.qemu?.out ?? "").replace(/\x1b(\[[0-9;?]*[a-zA-Z]|c)/g, "");
    return text.trim().split(/\r?\n/).slice(-n).join("\n");
  }

  async remove() {
    for (const p of this.procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        try {
          p.child.kill("SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
    await Promise.race([Promise.all(this.procs.map((p) => p.exited)), sleep(5_000)]);
    this.world?.remove();
    if (this.resolvDir) rmSync(this.resolvDir, { recursive: true, force: true });
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The scenario names judge() reports, in order (judged on a bench that never ran). */
export function scenarioNames() {
  return new VmBench({ label: "", command: [] }).judge().map((r) => r.name);
}
