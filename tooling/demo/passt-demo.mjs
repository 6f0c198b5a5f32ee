// `pnpm demo:passt`: a real Linux virtual machine on our passt. qemu (TCG)
// boots Debian 12's cloud kernel with a tiny busybox initramfs whose only
// network is a virtio-net device on passt's UNIX socket; passt runs as an
// unprivileged user in a throwaway "host" namespace, behind which a
// "remote" namespace plays the internet (198.51.100.1, 2001:db8:2::1) with
// a DNS server, a UDP echo and a TCP file server. The guest configures
// itself from what passt tells it (DHCPv4, SLAAC, router advertisement,
// DHCPv6), resolves a name, exchanges UDP, pings, downloads 10 MiB over v4
// and v6, then serves a UDP echo and a 10 MiB file that the remote fetches
// through passt's -u/-t forwarded ports. This prints what the guest saw,
// then removes everything. The bench is tooling/vm/bench.mjs (shared with
// apps/passt/test/vm.e2e.test.ts); the guest is built on first use
// (tooling/vm/build-guest.mjs, cached in .cache/vm). Run as root.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { guestIsCurrent, CACHE } from "../vm/build-guest.mjs";
import { VmBench, DNS_NAME } from "../vm/bench.mjs";

if (process.getuid() !== 0) {
  console.error("the demo builds network namespaces: run it as root (passt itself runs unprivileged)");
  process.exit(1);
}
const cli = fileURLToPath(new URL("../../apps/passt/dist/cli.js", import.meta.url));
if (!existsSync(cli)) {
  console.error(`${cli} is missing: build the workspace first (pnpm build)`);
  process.exit(1);
}

const secs = (ms) => `${(ms / 1000).toFixed(1).padStart(5)} s`;
const list = (x) => (Array.isArray(x) && x.length ? x.join(", ") : "-");

/** One line per thing the guest (or the remote side) reports, as it happens. */
function describe(who, e) {
  const mark = e.ok ? "ok  " : "FAIL";
  const err = e.ok ? "" : `: ${e.error ?? JSON.stringify(e)}`;
  if (who === "remote") {
    const what = {
      udp4: "remote -> 203.0.113.2:7002 (-u) -> guest UDP echo",
      udp6: "remote -> [2001:db8:1::2]:7002 (-u) -> guest UDP echo",
      fetch4: "remote downloads the guest's 10 MiB via 203.0.113.2:7102 (-t)",
      fetch6: "remote downloads the guest's 10 MiB via [2001:db8:1::2]:7102 (-t)",
    }[e.step];
    const detail = e.step.startsWith("udp") ? `rtt ${(e.rtt_us / 1000).toFixed(2)} ms` : `${e.bytes} bytes in ${e.ms} ms, ${e.mbit_s} Mbit/s, sha256 ${String(e.sha256).slice(0, 16)}…`;
    return `${mark} ${what}: ${e.ok ? detail : err}`;
  }
  switch (e.step) {
    case "boot":
      return `${mark} booted Linux ${e.kernel} (guest uptime ${e.uptime} s)`;
    case "modules":
      return `${mark} loaded modules: ${String(e.loaded ?? "").trim()}${err}`;
    case "link":
      return `${mark} eth0 is ${e.mac} (${e.driver})`;
    case "dhcp":
      return e.ok ? `${mark} DHCPv4 lease: ${e.ip}/${e.mask}, router ${e.router}, DNS ${e.dns}, MTU ${e.mtu}, search ${e.search || "-"}` : `${mark} DHCPv4${err}`;
    case "slaac":
      return e.ok ? `${mark} SLAAC: ${e.address}/${e.prefixlen}, past DAD after ${e.ms} ms` : `${mark} SLAAC${err}`;
    case "routes":
      return `     routes: ${String(e.v4).split(";")[0]}; ${String(e.v6).split(";").find((r) => r.startsWith("default")) ?? "no IPv6 default"}`;
    case "ra":
      return e.ok ? `${mark} router advertisement from ${e.router}: prefix ${list(e.prefixes)}, MTU ${e.mtu}, RDNSS ${list(e.rdnss)}, DNSSL ${list(e.dnssl)}` : `${mark} router advertisement${err}`;
    case "dhcp6":
      return e.ok ? `${mark} DHCPv6 from ${e.server}: DNS ${list(e.dns)}, domains ${list(e.domains)}` : `${mark} DHCPv6${err}`;
    case "dhcp6-solicit":
      return e.ok ? `${mark} DHCPv6 Solicit: ${e.reply} from ${e.server} offering ${list(e.addresses)}` : `${mark} DHCPv6 Solicit${err}`;
    case "dns4":
    case "dns6":
      return e.ok ? `${mark} DNS ${e.type} ${e.name} via ${e.server}: ${list(e.answers)} (${e.ms} ms)` : `${mark} DNS ${e.type ?? ""} via ${e.server ?? "?"}${err}`;
    case "udp4":
    case "udp6":
    case "udp4-big":
    case "udp6-big":
      return e.ok ? `${mark} UDP ${e.bytes} bytes guest -> ${e.to} and back, rtt ${(e.rtt_us / 1000).toFixed(2)} ms` : `${mark} UDP guest -> ${e.to}${err}`;
    case "ping4":
    case "ping6":
      return `${mark} ping ${e.to}: ${String(e.summary ?? "").trim()}`;
    case "fetch4":
    case "fetch6":
      return e.ok ? `${mark} downloaded ${e.bytes} bytes from ${e.from} in ${e.ms} ms (${e.mbit_s} Mbit/s)` : `${mark} download from ${e.from}${err}`;
    case "gen":
      return `     made a ${e.bytes}-byte file to serve (sha256 ${String(e.sha256).slice(0, 16)}…)`;
    case "servers":
      return e.ok ? `${mark} serving: UDP echo on ${e.udp}, the file on TCP ${e.tcp}; the remote's turn` : `${mark} servers${err}`;
    case "udp-echo":
      return `     guest echoed ${e.bytes} bytes to ${e.from}`;
    case "tcp-serve":
      return `     guest served ${e.bytes} bytes to ${e.peer} in ${e.ms} ms`;
    case "servers-end":
      return e.ok ? `${mark} all ${e.served} downloads served` : `${mark} serving${err}`;
    case "done":
      return `${mark} powering off at guest uptime ${e.uptime} s`;
    default:
      return `${mark} ${e.step}${err}`;
  }
}

console.log(guestIsCurrent() ? `guest: cached in ${CACHE}` : `guest: building it into ${CACHE} (Debian packages, depmod, go build, initramfs)...`);
const bench = new VmBench({
  label: "ours",
  command: [process.execPath, cli],
  prefix: "demv",
  onEvent: (who, e) => console.log(`  [${secs(e.at_ms)}] ${describe(who, e)}`),
});
let failures = 0;
try {
  await bench.setup();
  console.log(`passt (ours) is listening on ${bench.sock}, running as uid 65534 in namespace ${bench.world.host.name}`);
  console.log(`the host's resolv.conf names the remote's DNS server, which knows ${DNS_NAME}`);
  console.log("booting the guest: qemu-system-x86_64 -accel tcg -cpu max -m 256 -kernel vmlinuz -initrd initrd.gz -netdev stream,...\n");
  await bench.run();
  const rows = bench.judge();
  failures = rows.filter((r) => !r.ok).length;
  console.log("\nverdicts:");
  for (const r of rows) console.log(`  ${r.ok ? "ok  " : "FAIL"} ${r.name}${r.ok ? "" : `: ${r.note}`}`);
  console.log(`\nqemu exited ${bench.qemuCode} after ${(bench.timeline.vmMs / 1000).toFixed(1)} s; passt's last words: ${bench.passtTail(1)}`);
  if (failures) console.log(`\nserial console tail:\n${bench.serialTail(15)}`);
  console.log(failures === 0 ? "\nThe guest got its network from passt and everything went through." : `\n${failures} scenario(s) failed.`);
} catch (e) {
  console.error(`demo failed: ${e instanceof Error ? e.message : e}`);
  failures++;
} finally {
  await bench.remove();
}
process.exit(failures ? 1 : 0);
