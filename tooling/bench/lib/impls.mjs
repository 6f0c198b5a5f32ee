// The implementations under comparison, each in a world of its own (a host
// and a remote namespace joined by a veth, from @x/harness), started with
// the UDP ports the scenarios use, and `-t none -T none` unless TCP
// scenarios are selected (then the TCP ports below, see startImpl):
//
//   ours   apps/pasta/bin/pasta (the native launcher, which execs Node once),
//          rootless (setpriv to nobody); node apps/pasta/dist/cli.js when
//          Node flags are given (profiles)
//   c      the 2024_12_11 oracle's pasta (Debian's /usr/bin/pasta without it, or --c debian), rootless
//   slirp  slirp4netns --configure --mtu=65520 --disable-host-loopback, on a
//          namespace made by `unshare -Urn`, ports forwarded through its API
//   limit  no translation: the "namespace" is the host namespace itself, so
//          tap paths are remote <-> host over the veth, splice paths are host
//          loopback to host loopback
//
// Each start records the start-up time: from just before exec to the moment
// a probe inside the namespace got its first datagram echoed by the remote.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { World, HOST4, HOST6, GW4, GW6, REMOTE4, REMOTE6, ORACLE_DIRS, asUnprivileged, ensureTunOpen, oracleBinary } from "@x/harness";
import { startProc, run, trackPid, untrackPid, onCleanup, sleep, until, childrenOf, commOf, findPidInNetns, killPid } from "./proc.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, "../../..");
export const OURS_CLI = path.join(REPO, "apps/pasta/dist/cli.js");
export const OURS_PASST_CLI = path.join(REPO, "apps/passt/dist/cli.js");
/** The commands as users run them: the native launcher in front of each script. */
export const OURS_BIN = path.join(REPO, "apps/pasta/bin/pasta");
export const OURS_PASST_BIN = path.join(REPO, "apps/passt/bin/passt");

/**
 * The C binaries the "c" implementation runs. By default ("auto") the
 * 2024_12_11 oracle where the tests find it (@x/harness's ORACLE_DIRS),
 * the release we reimplement and the reference for every ratio, or
 * Debian's older package where the oracle is absent (said on stderr and in
 * the report's title); `--c debian` and `--c oracle` pick one, `--c DIR` a
 * folder with pasta and passt.
 */
export const C_BIN = { pasta: "/usr/bin/pasta", passt: "/usr/bin/passt", label: "Debian" };
export function setCBin(which) {
  if (which === "debian") return C_BIN;
  if (which === "auto") {
    if (oracleBinary("pasta")) return setCBin("oracle");
    process.stderr.write(`bench: no C oracle in ${ORACLE_DIRS.join(" or ")}; the C side is Debian's pasta\n`);
    return C_BIN;
  }
  const dirs = which === "oracle" ? ORACLE_DIRS : [path.resolve(which)];
  const dir = dirs.find((d) => fs.existsSync(path.join(d, "pasta")));
  if (!dir) throw new Error(`--c ${which}: no pasta in ${dirs.join(" or ")}`);
  Object.assign(C_BIN, { pasta: path.join(dir, "pasta"), passt: path.join(dir, "passt"), label: which === "oracle" ? "oracle 2024_12_11" : dir });
  return C_BIN;
}

/** Ports: "in" is forwarded host -> namespace (-u), "out" namespace -> host loopback (-U), "far" is a remote server's. */
export const PORTS = {
  iperf: { in: 5001, out: 5002, far: 5003 },
  sockperf: { in: 11111, out: 11112, far: 11113 },
  flows: { in: 7100, out: 7101, far: 7102 },
  startup: { far: 7200 },
  // TCP ("gw" is a server on the host's loopback reached through the gateway address, map-gw)
  iperf3: { in: 5201, out: 5202, far: 5203, gw: 5204 },
  sockperfTcp: { in: 11121, out: 11122, far: 11123, gw: 11124 },
  crr: { in: 7301, out: 7302, far: 7303, gw: 7304 },
};
const IN_PORTS = [PORTS.iperf.in, PORTS.sockperf.in, PORTS.flows.in];
const OUT_PORTS = [PORTS.iperf.out, PORTS.sockperf.out, PORTS.flows.out];
export const TCP_IN_PORTS = [PORTS.iperf3.in, PORTS.sockperfTcp.in, PORTS.crr.in];
export const TCP_OUT_PORTS = [PORTS.iperf3.out, PORTS.sockperfTcp.out, PORTS.crr.out];

export const IMPLS = {
  ours: { id: "ours", label: "ours (TS pasta)" },
  c: { id: "c", label: "C pasta" },
  slirp: { id: "slirp", label: "slirp4netns" },
  limit: { id: "limit", label: "limit (no translation)" },
};

let tmpRoot = null;
/** A temporary folder for this run, world-readable (the unprivileged tools write there). */
export function tmp() {
  if (!tmpRoot) {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
    fs.chmodSync(tmpRoot, 0o755);
    onCleanup(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
  }
  return tmpRoot;
}

let probePath = null;
/** Builds lib/probe.c once per run. */
export async function buildProbe() {
  if (probePath) return probePath;
  const out = path.join(tmp(), "probe");
  const r = await run(["cc", "-O2", "-Wall", "-o", out, path.join(HERE, "probe.c")]);
  if (!r.ok) throw new Error(`cannot build probe.c: ${r.err}`);
  fs.chmodSync(out, 0o755);
  probePath = out;
  return out;
}

/** A world (host + remote namespaces), veth MTU raised to 65520, with the start-up echo peer. */
export async function makeWorld(prefix) {
  ensureTunOpen();
  const w = new World(prefix);
  const off = onCleanup(() => w.remove());
  w.host.sh(["ip", "link", "set", "eth0", "mtu", "65520"]);
  w.remote.sh(["ip", "link", "set", "eth0", "mtu", "65520"]);
  // The remote plays an internet host: its traffic leaves from its server
  // address, not from the gateway address that pasta maps to the host.
  w.remote.sh(["ip", "route", "replace", "203.0.113.0/24", "dev", "eth0", "src", REMOTE4]);
  w.remote.sh(["ip", "-6", "route", "add", "2001:db8:1::/64", "dev", "eth0", "src", REMOTE6, "metric", "1"]);
  // Fixed IPv6 neighbours on the veth. The remote solicits the host's
  // address from its server address (the route above), the host can answer
  // only after resolving its gateway, and the first resolution in a fresh
  // world takes about a second (one lost message, one retransmit timer):
  // an unbounded v6 flood that starts then has all but the ~100 datagrams
  // the INCOMPLETE entry queues dropped in the remote, final datagram
  // included, and iperf2 gets no server report.
  const mac = (ns) => ns.sh(["cat", "/sys/class/net/eth0/address"]).trim();
  w.remote.sh(["ip", "-6", "neigh", "replace", HOST6, "lladdr", mac(w.host), "dev", "eth0", "nud", "permanent"]);
  w.host.sh(["ip", "-6", "neigh", "replace", GW6, "lladdr", mac(w.remote), "dev", "eth0", "nud", "permanent"]);
  const probe = await buildProbe();
  const echo = startProc(["ip", "netns", "exec", w.remote.name, probe, "echo", REMOTE4, String(PORTS.startup.far)]);
  const echo6 = startProc(["ip", "netns", "exec", w.remote.name, probe, "echo", REMOTE6, String(PORTS.startup.far)]);
  await sleep(50);
  return {
    w,
    inHost: (argv) => ["ip", "netns", "exec", w.host.name, ...argv],
    inRemote: (argv) => ["ip", "netns", "exec", w.remote.name, ...argv],
    remove: () => {
      echo.kill("SIGKILL");
      echo6.kill("SIGKILL");
      w.remove();
      off();
    },
  };
}

function dirFor(tag) {
  const d = fs.mkdtempSync(path.join(tmp(), `${tag}-`));
  fs.chmodSync(d, 0o777);
  return d;
}

const nsEnter = (pid) => (argv) => ["nsenter", "-t", String(pid), "-n", "--", ...argv];

async function waitReady(file, t0, rec, what) {
  await until(() => fs.existsSync(file) && fs.readFileSync(file, "utf8").trim().length > 0 || !rec.alive(), 20_000, what);
  if (!rec.alive() && !fs.existsSync(file)) throw new Error(`${what}: exited early\nstdout: ${rec.out}\nstderr: ${rec.err}`);
  const t = BigInt(fs.readFileSync(file, "utf8").trim());
  return Number(t - t0) / 1e6;
}

/**
 * Starts an implementation in `world`. Returns an instance:
 *   { id, netPid (the networking process, null for the limit), inNs(argv), startupMs, v6, stop(), noTcp }
 *
 * With `tcp`, pasta also gets `-t TCP_IN_PORTS -T TCP_OUT_PORTS` and
 * slirp4netns TCP host forwards. An implementation that will not start so
 * (ours, until it has TCP: "only '-t none' is accepted") is started again
 * with `-t none -T none`; `noTcp` then holds the reason, and every TCP
 * measurement on that instance is a failed one, while the UDP ones go on.
 */
export async function startImpl(id, world, opts = {}) {
  if (!opts.tcp || id === "limit") return startImplOnce(id, world, opts);
  try {
    return await startImplOnce(id, world, opts);
  } catch (e) {
    const inst = await startImplOnce(id, world, { ...opts, tcp: false });
    const last = e.message.split("\n").map((l) => l.replace(/^stderr:\s*/, "").trim()).filter(Boolean).slice(-1)[0] ?? "?";
    inst.noTcp = `would not start with TCP forwarding (${last.slice(0, 200)})`;
    return inst;
  }
}

async function startImplOnce(id, world, { nodeOptions, nodeArgs, v6 = true, tcp = false } = {}) {
  const probe = await buildProbe();
  if (id === "limit") {
    return { id, world, netPid: null, inNs: world.inHost, startupMs: null, v6: true, stop: async () => {} };
  }
  const dir = dirFor(id);
  const ready = path.join(dir, "ready");
  if (id === "ours" || id === "c") {
    // Node refuses --cpu-prof in NODE_OPTIONS: profiling flags go on the
    // command line, and the launcher passes its execArgv to the networking child.
    const bin = id === "ours" ? (nodeArgs?.length ? [process.execPath, ...nodeArgs, OURS_CLI] : [OURS_BIN]) : [C_BIN.pasta];
    const cmd = `readlink /proc/self/ns/net > ${dir}/netns; exec ${probe} ping ${REMOTE4} ${PORTS.startup.far} ${ready}`;
    const tcpArgs = tcp ? ["-t", TCP_IN_PORTS.join(","), "-T", TCP_OUT_PORTS.join(",")] : ["-t", "none", "-T", "none"];
    const args = ["-f", "--config-net", ...tcpArgs, "-u", IN_PORTS.join(","), "-U", OUT_PORTS.join(",")];
    const env = { ...process.env };
    if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
    const argv = world.inHost(asUnprivileged([...bin, ...args, "--", "sh", "-c", cmd]));
    const t0 = process.hrtime.bigint();
    const rec = startProc(argv, { env });
    let nsPid = 0;
    const stop = async () => {
      // The command ending first lets pasta exit by itself (and ours write
      // its --cpu-prof profile); SIGTERM only if it does not.
      if (nsPid) killPid(nsPid, "SIGTERM");
      if (nsPid) await Promise.race([rec.exited, sleep(3000)]);
      await rec.stop(3000);
      if (nsPid) killPid(nsPid);
      for (const p of extra) killPid(p);
      for (const p of extra) untrackPid(p);
    };
    const extra = [];
    try {
      const startupMs = await waitReady(ready, t0, rec, `${id} pasta: first datagram`);
      nsPid = findPidInNetns(fs.readFileSync(`${dir}/netns`, "utf8").trim(), "probe");
      if (!nsPid) throw new Error(`${id}: no probe process found in the namespace`);
      extra.push(nsPid);
      trackPid(nsPid);
      // The networking process: Debian's pasta is the process we started
      // (ip netns exec and setpriv exec); ours is the launcher's node child.
      let netPid = rec.pid;
      if (id === "ours") {
        const kids = childrenOf(rec.pid).filter((p) => commOf(p) === "node" || commOf(p) === "MainThread");
        if (kids.length === 1) netPid = kids[0];
        else if (kids.length > 1) throw new Error(`ours: several children of the launcher: ${kids}`);
        // As root with nothing to detach, the launcher is the networking process (not the case here).
        if (netPid !== rec.pid) {
          extra.push(netPid);
          trackPid(netPid);
        }
      } else if (!/^(pasta|passt)/.test(commOf(rec.pid))) {
        throw new Error(`c: process ${rec.pid} is ${commOf(rec.pid)}, not pasta`);
      }
      const inNs = nsEnter(nsPid);
      if (v6) {
        await until(async () => (await run(inNs(["ip", "-6", "-o", "addr", "show", "scope", "global", "-tentative"]))).out.includes(HOST6), 10_000, `${id}: IPv6 address in the namespace`);
      }
      await run(inNs(["ip", "link", "set", "lo", "up"]));
      return { id, world, netPid, launcherPid: rec.pid, nsPid, inNs, startupMs, v6: true, stop, rec, startedAt: Date.now() };
    } catch (e) {
      await stop();
      throw new Error(`${e.message}\nstderr: ${rec.err.slice(-2000)}`);
    }
  }
  if (id === "slirp") {
    const cmd = `readlink /proc/self/ns/net > ${dir}/netns; exec ${probe} ping ${REMOTE4} ${PORTS.startup.far} ${ready}`;
    const ns = startProc(world.inHost(asUnprivileged(["unshare", "-Urn", "sh", "-c", cmd])));
    await until(() => fs.existsSync(`${dir}/netns`) && commOf(ns.pid) === "probe", 5000, "slirp: namespace");
    const nsPid = ns.pid;
    const api = path.join(dir, "api.sock");
    const argv = world.inHost(
      asUnprivileged(["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", `--api-socket=${api}`, `--userns-path=/proc/${nsPid}/ns/user`, String(nsPid), "tap0"]),
    );
    const t0 = process.hrtime.bigint();
    const rec = startProc(argv);
    const stop = async () => {
      await rec.stop(2000);
      await ns.stop(500);
    };
    try {
      const startupMs = await waitReady(ready, t0, rec, "slirp4netns: first datagram");
      const inNs = nsEnter(nsPid);
      await run(inNs(["ip", "link", "set", "lo", "up"]));
      for (const port of IN_PORTS) {
        const reply = await slirpApi(api, { execute: "add_hostfwd", arguments: { proto: "udp", host_addr: "0.0.0.0", host_port: port, guest_port: port } });
        if (!reply.includes("return")) throw new Error(`slirp4netns add_hostfwd ${port}: ${reply}`);
      }
      for (const port of tcp ? TCP_IN_PORTS : []) {
        const reply = await slirpApi(api, { execute: "add_hostfwd", arguments: { proto: "tcp", host_addr: "0.0.0.0", host_port: port, guest_port: port } });
        if (!reply.includes("return")) throw new Error(`slirp4netns add_hostfwd tcp ${port}: ${reply}`);
      }
      return { id, world, netPid: rec.pid, nsPid, inNs, startupMs, v6: false, stop, rec };
    } catch (e) {
      await stop();
      throw new Error(`${e.message}\nstderr: ${rec.err.slice(-2000)}`);
    }
  }
  throw new Error(`unknown implementation ${id}`);
}

function slirpApi(sock, req) {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    let buf = "";
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error("slirp4netns API: no answer"));
    }, 3000);
    c.on("connect", () => c.end(JSON.stringify(req)));
    c.on("data", (d) => (buf += d));
    c.on("end", () => {
      clearTimeout(t);
      resolve(buf);
    });
    c.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

// ---- paths ------------------------------------------------------------------

export const PATHS = {
  "lo-ns": "host loopback -> namespace (splice, -u)",
  "ns-lo": "namespace -> host loopback (splice, -U)",
  "remote-ns": "remote -> namespace (tap, -u via the host address)",
  "ns-remote": "namespace -> remote (tap)",
};

/**
 * One IPv6 round trip from the namespace's global address to the remote's
 * echo peer, just before a remote -> namespace IPv6 measurement. Debian's
 * pasta (2023.03) addresses inbound IPv6 to the source address it last saw
 * from the namespace, and the namespace's start-up chatter (MLD reports,
 * router solicitations) comes from its link-local address: iperf2's server
 * would get the flow on fe80::…, connect a socket on the global address that
 * the flow never matches, and never report. The same round trip is made
 * for every implementation, and not before the namespace is 5 s old (its
 * chatter is over by then).
 */
export async function primeV6(inst) {
  if (inst.startedAt) await sleep(Math.max(0, inst.startedAt + 5000 - Date.now()));
  const probe = await buildProbe();
  const ready = path.join(fs.mkdtempSync(path.join(tmp(), "prime-")), "ready");
  const ping = startProc(inst.inNs([probe, "ping", REMOTE6, String(PORTS.startup.far), ready]));
  try {
    await until(() => fs.existsSync(ready) && fs.readFileSync(ready, "utf8").trim().length > 0, 5000, `${inst.id}: an IPv6 round trip from the namespace`);
  } finally {
    await ping.stop(200);
  }
}

/**
 * The TCP paths: the four above, and the namespace to the host's loopback
 * through the gateway address (pasta maps 203.0.113.1 to 127.0.0.1, its
 * default --map-gw): a tap path whose far end is a host loopback socket.
 */
export const TCP_PATHS = {
  "ns-remote": PATHS["ns-remote"],
  "remote-ns": "remote -> namespace (tap, -t via the host address)",
  "lo-ns": "host loopback -> namespace (splice, -t)",
  "ns-lo": "namespace -> host loopback (splice, -T)",
  "map-gw": "namespace -> gateway address -> host loopback (tap, map-gw)",
};

/** passt's paths: the guest behind qemu plays the namespace (lib/passt.mjs). */
export const PASST_PATHS = {
  "guest-remote": "guest -> remote (passt)",
  "remote-guest": "remote -> guest (passt, -u via the host address)",
};

/**
 * Where the client and the server of a path run, for a tool's ports.
 * Returns null when the implementation has no such path (slirp4netns: no
 * splice out with --disable-host-loopback, no IPv6 here).
 */
export function route(inst, pathId, fam, ports) {
  const lo = fam === 6 ? "::1" : "127.0.0.1";
  const any = fam === 6 ? "::" : "0.0.0.0";
  const w = inst.world;
  if (fam === 6 && !inst.v6) return null;
  const limit = inst.id === "limit";
  // passt's paths exist only on a passt instance (lib/passt.mjs), and only
  // there: its guest plays the namespace of the tap paths.
  if (PASST_PATHS[pathId] ? !inst.passt : inst.passt) return null;
  if (pathId === "guest-remote") pathId = "ns-remote";
  if (pathId === "remote-guest") pathId = "remote-ns";
  switch (pathId) {
    case "lo-ns":
      return limit
        ? { client: w.inHost, target: lo, port: ports.in, server: w.inHost, bind: lo }
        : { client: w.inHost, target: lo, port: ports.in, server: inst.inNs, bind: any };
    case "ns-lo":
      if (inst.id === "slirp") return null;
      return { client: inst.inNs, target: lo, port: ports.out, server: w.inHost, bind: lo };
    case "remote-ns":
      return { client: w.inRemote, target: fam === 6 ? HOST6 : HOST4, port: ports.in, server: inst.inNs, bind: any };
    case "ns-remote":
      return { client: inst.inNs, target: fam === 6 ? REMOTE6 : REMOTE4, port: ports.far, server: w.inRemote, bind: fam === 6 ? REMOTE6 : REMOTE4 };
    case "map-gw":
      // slirp4netns runs with --disable-host-loopback: no such path.
      if (inst.id === "slirp") return null;
      return limit
        ? { client: w.inHost, target: lo, port: ports.gw, server: w.inHost, bind: lo }
        : { client: inst.inNs, target: fam === 6 ? GW6 : GW4, port: ports.gw, server: w.inHost, bind: lo };
    default:
      throw new Error(`unknown path ${pathId}`);
  }
}

/** The largest UDP payload a path carries without IP fragmentation. */
export function maxPayload(pathId, fam) {
  if (pathId === "lo-ns" || pathId === "ns-lo") return fam === 6 ? 65488 : 65507; // loopback MTU 65536
  return 65520 - (fam === 6 ? 48 : 28); // tap MTU 65520
}
