/**
 * passt end to end with a real Linux guest: qemu (TCG) boots Debian 12's
 * cloud kernel with a busybox-static initramfs whose virtio-net device is
 * on passt's socket (tooling/vm: the guest, its /init and its Go tool gt,
 * and the bench that drives a run). The same bench runs ours and the C
 * passt (the 2024_12_11 oracle when it is beside the project, else
 * Debian's package, recorded but not judged).
 *
 *   qemu -kernel vmlinuz -initrd initrd.gz, -netdev stream ══ unix socket ══> passt (uid 65534, host ns)
 *   host ns 203.0.113.2 / 2001:db8:1::2 ──veth──> remote ns: 198.51.100.1, 2001:db8:2::1
 *
 * The host namespace's resolv.conf names the remote host, where a small DNS
 * server answers one name (A and AAAA). passt runs with `-t 7102 -u 7002`.
 * One boot per side runs everything: the guest takes its DHCPv4 lease
 * (busybox udhcpc) and its SLAAC address past DAD from passt, reads the
 * router advertisement (prefix, RDNSS), asks DHCPv6 for its resolvers and
 * (Solicit, rapid commit) for an address, which must be the host's,
 * resolves the name through both resolvers it was given, exchanges UDP with
 * the remote's echo (small and 60000-byte datagrams, v4 and v6), pings the
 * remote (busybox ping, v4 and v6), downloads 10 MiB from the remote over v4
 * and v6 and checks its sha256; then it serves a UDP echo and a 10 MiB file,
 * which the remote reaches through the host's address (-u, -t) and checks.
 * Every step is one "@@VM {json}" line on the serial console; the bench
 * turns them, and what the remote side saw, into one row per scenario.
 *
 * The guest is built on demand (tooling/vm/build-guest.mjs, cached in
 * .cache/vm; scripts/install-vm.sh builds it in CI). Needs root for the
 * namespaces; skipped otherwise. VM_SIDES=ours or VM_SIDES=c runs one side;
 * VM_C=debian compares with Debian's package. Results go to
 * vm-report-latest.md beside this file.
 */
import { existsSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, it } from "vitest";
import { isRoot, ORACLE_DIRS } from "@x/harness";
import { VmBench, scenarioNames, type Row } from "../../../tooling/vm/bench.mjs";

const BIN = fileURLToPath(new URL("../bin/passt", import.meta.url));

interface Side {
  label: string;
  judged: boolean;
  command: string[];
  prefix: string;
}

function cSide(): Side | undefined {
  if (process.env.VM_C !== "debian") {
    for (const d of ORACLE_DIRS) if (existsSync(`${d}passt`)) return { label: "C passt 2024_12_11 (oracle)", judged: true, command: [`${d}passt`], prefix: "vc" };
  }
  if (existsSync("/usr/bin/passt")) return { label: "C passt (Debian package)", judged: false, command: ["/usr/bin/passt"], prefix: "vd" };
  return undefined;
}

const c = cSide();
const only = process.env.VM_SIDES;
const sides: Side[] = [
  ...(only === "c" ? [] : [{ label: "ours", judged: true, command: [BIN], prefix: "vo" }]),
  ...(c && only !== "ours" ? [c] : []),
];
const SETUP = "setup: guest built, namespaces, DNS/UDP/TCP servers, passt";
const NAMES = scenarioNames();
const results = new Map<string, Map<string, Row>>();
const figures: string[] = [];
const t0 = Date.now();

function record(side: Side, row: Row): void {
  const m = results.get(row.name) ?? new Map<string, Row>();
  results.set(row.name, m.set(side.label, row));
}

describe.skipIf(!isRoot() || sides.length === 0).each(sides)("passt ($label) with a real Linux guest (qemu TCG, virtio-net)", (side) => {
  let bench: VmBench | undefined;
  let rows = new Map<string, Row>();

  beforeAll(async () => {
    bench = new VmBench({ label: side.label, command: side.command, prefix: side.prefix });
    try {
      await bench.setup();
      record(side, { name: SETUP, ok: true, note: `passt listening (${bench.timeline.setupMs} ms)` });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      record(side, { name: SETUP, ok: false, note: msg.replace(/\s+/g, " ").slice(0, 300) });
      await bench.remove();
      bench = undefined;
      throw e;
    }
    await bench.run();
    rows = new Map(bench.judge().map((r) => [r.name, r]));
    for (const r of rows.values()) record(side, r);
    const t = bench.timeline;
    figures.push(
      `${side.label}: VM run ${t.vmMs} ms (qemu exit ${String(bench.qemuCode)}), first guest line after ${bench.step("boot")?.at_ms ?? "?"} ms, remote side ${t.remoteSideMs ?? "-"} ms; passt's stderr tail: ${bench.passtTail(2) || "(empty)"}`,
    );
    if ([...rows.values()].some((r) => !r.ok)) figures.push(`${side.label}: serial console tail:\n\n\`\`\`\n${bench.serialTail(12)}\n\`\`\``);
  }, 200_000);

  afterAll(async () => {
    await bench?.remove();
  }, 30_000);

  for (const name of NAMES) {
    it(name, () => {
      const r = rows.get(name);
      if (!r) throw new Error(`${name}: not judged (the VM did not run)`);
      if (!r.ok && side.judged) throw new Error(`${side.label}: ${name}: ${r.note}`);
    });
  }
});

afterAll(() => {
  if (!isRoot() || sides.length === 0) return;
  const cols = sides.map((s) => s.label);
  const cell = (o: Row | undefined): string => (o === undefined ? "not run" : `${o.ok ? "PASS" : "FAIL"}: ${o.note}`.replace(/\|/g, "/").replace(/\n/g, " "));
  const order = [SETUP, ...NAMES];
  const lines = [
    "# passt with a real Linux guest: end-to-end report",
    "",
    `Generated by apps/passt/test/vm.e2e.test.ts on ${new Date().toISOString()} (${Math.round((Date.now() - t0) / 1000)} s for the file).`,
    "qemu 7.2 (TCG, -cpu max, 256 MiB) boots Debian 12's linux-image-cloud-amd64 with a busybox-static initramfs (tooling/vm); its virtio-net device is on passt's socket. passt runs as uid 65534 in the host namespace with `-t 7102 -u 7002`; the host's resolv.conf names 198.51.100.1 and 2001:db8:2::1, where the remote runs a one-name DNS server.",
    `C side: ${c ? `${c.command[0]}${c.judged ? "" : " (recorded, not judged)"}` : "none found"}.`,
    "",
    `| scenario | ${cols.join(" | ")} |`,
    `| --- | ${cols.map(() => "---").join(" | ")} |`,
    ...order.filter((n) => results.has(n)).map((name) => `| ${name} | ${cols.map((k) => cell(results.get(name)?.get(k))).join(" | ")} |`),
    "",
    ...figures.map((f) => `- ${f}`),
  ];
  const text = `${lines.join("\n")}\n`;
  writeFileSync(fileURLToPath(new URL("./vm-report-latest.md", import.meta.url)), text);
  process.stdout.write(`\n${text}`);
});
