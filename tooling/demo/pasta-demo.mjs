// The README's demo: our pasta gives a network namespace a network and
// carries real TCP and UDP traffic both ways through it, and pings (ICMP and ICMPv6
// echo), v4 and v6, printing what happened. It builds its own throwaway world (a "host" namespace where
// pasta runs as an unprivileged user, a "remote" namespace behind a veth
// that plays the internet), and removes it at the end. Needs root to build
// the namespaces; pasta itself runs rootless.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { World, asUnprivileged, ensureTunOpen, REMOTE4, REMOTE6, GW4, GW6, HOST4, HOST6 } from "@x/harness";

if (process.getuid() !== 0) {
  console.error("the demo builds network namespaces: run it as root (pasta itself runs unprivileged)");
  process.exit(1);
}
const cli = fileURLToPath(new URL("../../apps/pasta/dist/cli.js", import.meta.url));
ensureTunOpen();
const world = new World("demo");
const dir = mkdtempSync(join(tmpdir(), "pasta-demo-"));
chmodSync(dir, 0o777);
const procs = [];
const bg = (argv) => {
  const c = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  procs.push(c);
  return c;
};
const sh = (argv, input) => execFileSync(argv[0], argv.slice(1), { encoding: "utf8", input, timeout: 10_000, stdio: ["pipe", "pipe", "ignore"] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failures = 0;

try {
  // UDP echo servers: on the remote "internet" host, and on the host's loopback.
  for (const [ns, addr, port] of [
    [world.remote.name, REMOTE4, 7001],
    [world.remote.name, `[${REMOTE6}]`, 7001],
    [world.host.name, "127.0.0.1", 7004],
    [world.host.name, "[::1]", 7004],
  ]) {
    const v = addr.startsWith("[") ? 6 : 4;
    bg(["ip", "netns", "exec", ns, "socat", "-b", "70000", `UDP${v}-LISTEN:${port},bind=${addr},fork,reuseaddr${v === 6 ? ",ipv6only=1" : ""}`, "PIPE"]);
    // And TCP echo servers beside them, 100 ports up.
    bg(["ip", "netns", "exec", ns, "socat", `TCP${v}-LISTEN:${port + 100},bind=${addr},fork,reuseaddr${v === 6 ? ",ipv6only=1" : ""}`, "PIPE"]);
  }
  // pasta answers pings through ping sockets: the host must admit its group, as systemd's default does.
  sh(["ip", "netns", "exec", world.host.name, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
  const marker = join(dir, "netns");
  const pasta = bg([
    "ip", "netns", "exec", world.host.name,
    ...asUnprivileged([process.execPath, cli, "-f", "--config-net", "-t", "7102", "-T", "7104", "-u", "7002", "--pcap", join(dir, "demo.pcap"),
      "--", "sh", "-c", `readlink /proc/self/ns/net > ${marker}; exec sleep 120`]),
  ]);
  let log = "";
  pasta.stderr.on("data", (d) => (log += d));
  const t0 = Date.now();
  let nsPid = 0;
  while (!nsPid && Date.now() - t0 < 10_000) {
    await sleep(50);
    if (!existsSync(marker)) continue;
    const link = readFileSync(marker, "utf8").trim();
    for (const d of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
      try {
        if (readlinkSync(`/proc/${d}/ns/net`) === link && readFileSync(`/proc/${d}/comm`, "utf8").trim() === "sleep") nsPid = Number(d);
      } catch {}
    }
  }
  if (!nsPid) throw new Error(`pasta did not start: ${log}`);
  console.log(`pasta is up (${Date.now() - t0} ms), running as uid 65534; it says:\n  ${log.trim()}`);
  console.log("\nInside the namespace:\n" + sh(["nsenter", "-t", String(nsPid), "-n", "ip", "-br", "addr"]).replace(/^/gm, "  "));
  // Servers inside the namespace, for traffic that comes in.
  bg(["nsenter", "-t", String(nsPid), "-n", "socat", "-b", "70000", "UDP4-LISTEN:7002,fork,reuseaddr", "PIPE"]);
  bg(["nsenter", "-t", String(nsPid), "-n", "socat", "-b", "70000", "UDP6-LISTEN:7002,fork,reuseaddr,ipv6only=1", "PIPE"]);
  bg(["nsenter", "-t", String(nsPid), "-n", "socat", "TCP4-LISTEN:7102,fork,reuseaddr", "PIPE"]);
  bg(["nsenter", "-t", String(nsPid), "-n", "socat", "TCP6-LISTEN:7102,fork,reuseaddr,ipv6only=1", "PIPE"]);
  await sleep(400);

  const echo = (prefix, v, addr, port, text, bind) => {
    const target = v === 6 ? `[${addr}]` : addr;
    const b = bind ? `,bind=${v === 6 ? `[${bind}]` : bind}` : "";
    try {
      return sh([...prefix, "socat", "-b", "70000", "-t", "1", "-T", "2", "-", `UDP${v}:${target}:${port}${b}`], text).trim();
    } catch (e) {
      return `(no answer: ${e.message.split("\n")[0]})`;
    }
  };
  const inNs = ["nsenter", "-t", String(nsPid), "-n"];
  const inRemote = ["ip", "netns", "exec", world.remote.name];
  const inHost = ["ip", "netns", "exec", world.host.name];
  const cases = [
    ["namespace -> remote host", inNs, 4, REMOTE4, 7001],
    ["namespace -> remote host", inNs, 6, REMOTE6, 7001],
    ["remote host -> namespace (-u 7002)", inRemote, 4, HOST4, 7002, REMOTE4],
    ["remote host -> namespace (-u 7002)", inRemote, 6, HOST6, 7002, REMOTE6],
    ["host loopback -> namespace (splice)", inHost, 4, "127.0.0.1", 7002],
    ["host loopback -> namespace (splice)", inHost, 6, "::1", 7002],
    ["namespace -> gateway -> host loopback", inNs, 4, GW4, 7004],
    ["namespace -> gateway -> host loopback", inNs, 6, GW6, 7004],
  ];
  console.log("\nUDP exchanges (each sends a line and expects it echoed back):");
  for (const [name, prefix, v, addr, port, bind] of cases) {
    const text = `hello over IPv${v}: ${name}`;
    const got = echo(prefix, v, addr, port, text, bind);
    const ok = got === text;
    if (!ok) failures++;
    console.log(`  ${ok ? "ok  " : "FAIL"} IPv${v} ${name.padEnd(40)} ${ok ? "" : got}`);
  }
  const tcpEcho = (prefix, v, addr, port, text, bind) => {
    const target = v === 6 ? `[${addr}]` : addr;
    const b = bind ? `,bind=${v === 6 ? `[${bind}]` : bind}` : "";
    try {
      return sh([...prefix, "socat", "-t", "2", "-T", "5", "-", `TCP${v}:${target}:${port}${b},connect-timeout=3`], text).trim();
    } catch (e) {
      return `(no answer: ${e.message.split("\n")[0]})`;
    }
  };
  console.log("\nTCP exchanges (each sends 512 KiB and expects it echoed back):");
  const mega = "0123456789abcdef".repeat(32768);
  for (const [name, prefix, v, addr, port, bind] of [
    ["namespace -> remote host", inNs, 4, REMOTE4, 7101],
    ["namespace -> remote host", inNs, 6, REMOTE6, 7101],
    ["remote host -> namespace (-t 7102)", inRemote, 4, HOST4, 7102, REMOTE4],
    ["remote host -> namespace (-t 7102)", inRemote, 6, HOST6, 7102, REMOTE6],
    ["host loopback -> namespace (-t 7102, splice)", inHost, 4, "127.0.0.1", 7102],
    ["host loopback -> namespace (-t 7102, splice)", inHost, 6, "::1", 7102],
    ["namespace loopback -> host loopback (-T 7104, splice)", inNs, 4, "127.0.0.1", 7104],
    ["namespace loopback -> host loopback (-T 7104, splice)", inNs, 6, "::1", 7104],
    ["namespace -> gateway -> host loopback", inNs, 4, GW4, 7104],
    ["namespace -> gateway -> host loopback", inNs, 6, GW6, 7104],
  ]) {
    const t = Date.now();
    const got = tcpEcho(prefix, v, addr, port, mega, bind);
    const ok = got === mega;
    if (!ok) failures++;
    console.log(`  ${ok ? "ok  " : "FAIL"} IPv${v} ${name.padEnd(52)} ${ok ? `${Date.now() - t} ms` : got.slice(0, 120)}`);
  }
  const big = "x".repeat(60000);
  const gotBig = echo(inNs, 4, REMOTE4, 7001, big);
  console.log(`  ${gotBig === big ? "ok  " : "FAIL"} IPv4 a 60000-byte datagram to the remote host and back`);
  if (gotBig !== big) failures++;
  console.log("\nping from the namespace (ICMP and ICMPv6 echo through ping sockets on the host):");
  for (const [name, v, addr] of [
    ["the remote host", 4, REMOTE4],
    ["the remote host", 6, REMOTE6],
    ["the gateway (answered by the host's loopback)", 4, GW4],
    ["the gateway (answered by the host's loopback)", 6, GW6],
  ]) {
    let out = "";
    try {
      out = sh([...inNs, "ping", `-${v}`, "-n", "-c", "2", "-i", "0.2", "-W", "2", addr]);
    } catch (e) {
      out = String(e.stdout ?? "");
    }
    const m = out.match(/(\d+) received/);
    const ok = m !== null && Number(m[1]) === 2;
    if (!ok) failures++;
    const rtt = out.match(/= [\d.]+\/([\d.]+)\//);
    console.log(`  ${ok ? "ok  " : "FAIL"} IPv${v} ${`ping ${name}`.padEnd(52)} ${ok ? `2/2 replies, avg ${rtt ? rtt[1] : "?"} ms` : out.trim().split("\n").pop()}`);
  }
  await sleep(200);
  const count = (filter) => sh(["tshark", "-r", join(dir, "demo.pcap"), "-q", "-z", `io,stat,0,${filter}`]).match(/\|\s+(\d+)\s+\|/)?.[1] ?? "?";
  console.log(`\n--pcap captured the tap's traffic: ${count("udp")} UDP and ${count("tcp")} TCP frames (read back with tshark)`);
  console.log(failures === 0 ? "\nAll exchanges and pings went through." : `\n${failures} exchange(s) failed.`);
} catch (e) {
  console.error(`demo failed: ${e.message}`);
  failures++;
} finally {
  for (const p of procs) {
    try {
      p.kill("SIGKILL");
    } catch {}
  }
  world.remove();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
