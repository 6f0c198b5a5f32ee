/**
 * passt end to end, ICMP and ICMPv6 echo, with qemu 7.2 as the guest's link
 * (a pure L2 bridge, lab.ts), against ours and the C passt (the 2024_12_11
 * oracle when it is beside the project, else Debian's package).
 *
 * The guest namespace takes its IPv4 address by DHCP (busybox udhcpc) and
 * its IPv6 address by SLAAC, waited for past duplicate address detection;
 * then real `ping` and `ping -6` go to the remote and to the gateway address,
 * which passt maps to the host namespace's loopback. Where each echo was
 * answered is read from the kernel's counters (InEchos) of the remote and
 * host namespaces. passt runs as nobody in the host namespace, which allows
 * ping sockets (ping_group_range "0 2147483647"). Ours must pass; the C
 * results are recorded in icmp-report-latest.md beside this file, and
 * asserted for the oracle release, which is known to answer all four.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GW4, GW6, HOST4, REMOTE4, REMOTE6, isRoot } from "@x/harness";
import { run, TAP } from "./lab.js";
import { IcmpLab, cPasst, inEchos, parsePing, pingCmd } from "./icmp-tools.js";

interface Side {
  impl: "ours" | "debian";
  label: string;
  judged: boolean;
  cPath?: string;
}
const c = cPasst();
const sides: Side[] = [{ impl: "ours", label: "ours", judged: true }, ...(c ? [{ impl: "debian" as const, label: c.label, judged: c.oracle, cPath: c.path }] : [])];

const results = new Map<string, Map<string, { ok: boolean; note: string }>>();

async function scenario(side: Side, name: string, fn: () => Promise<string>): Promise<void> {
  const row = results.get(name) ?? new Map<string, { ok: boolean; note: string }>();
  results.set(name, row);
  const t0 = Date.now();
  try {
    row.set(side.label, { ok: true, note: `${await fn()} (${Date.now() - t0} ms)` });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    row.set(side.label, { ok: false, note: (msg.split("\n")[0] ?? msg).slice(0, 300) });
    if (side.judged) throw e;
  }
}

describe.skipIf(!isRoot()).each(sides)("passt ($label) with qemu 7.2: ICMP echo", (side) => {
  let lab: IcmpLab;

  beforeAll(async () => {
    lab = new IcmpLab(side.impl, side.cPath);
    try {
      await lab.startPasst();
      await lab.startQemu();
    } catch (e) {
      // Recorded for the report before the hook fails the suite.
      const msg = e instanceof Error ? e.message : String(e);
      results.set("setup: passt and qemu", (results.get("setup: passt and qemu") ?? new Map()).set(side.label, { ok: false, note: msg.replace(/\s+/g, " ").slice(0, 300) }));
      throw e;
    }
  }, 40_000);

  afterAll(async () => {
    await lab?.remove();
  }, 20_000);

  it("the guest takes its addresses: DHCPv4 (udhcpc) and SLAAC past DAD", async () => {
    await scenario(side, "guest configured: DHCPv4 lease, global IPv6 address past DAD", async () => {
      const lease = await lab.dhcp();
      expect(lease).toContain(`ip=${HOST4}`);
      const v6 = await lab.slaac(15_000);
      return `${lease.split(" ").slice(0, 3).join(" ")}; ${v6}`;
    });
  }, 40_000);

  for (const [family, target, answeredIn, what] of [
    [4, REMOTE4, "remote", "remote"],
    [6, REMOTE6, "remote", "remote"],
    [4, GW4, "host", "gateway -> host 127.0.0.1"],
    [6, GW6, "host", "gateway -> host ::1"],
  ] as const) {
    it(`v${family}: ping -c 3 ${target} (${what}) gets 3 replies in order`, async () => {
      await scenario(side, `v${family} ping -c 3 guest -> ${what} (${target})`, async () => {
        const where = answeredIn === "remote" ? lab.world.remote : lab.world.host;
        const other = answeredIn === "remote" ? lab.world.host : lab.world.remote;
        const w0 = inEchos(where, family);
        const o0 = inEchos(other, family);
        const r = await run(["ip", "netns", "exec", lab.guest.name, ...pingCmd(family, target)], 15_000);
        const p = parsePing(r.out);
        const seen = inEchos(where, family) - w0;
        const strays = inEchos(other, family) - o0;
        const detail = `${p.received}/${p.transmitted} replies, seq ${p.seqs.join(",")}; ${answeredIn} ns saw ${seen} echo requests, the other ${strays}`;
        if (p.transmitted !== 3 || p.received !== 3) throw new Error(`${detail}; ping: ${(r.out + r.err).trim().split("\n").slice(-3).join(" / ")}`);
        const f = p.seqs[0] ?? 0;
        if (p.seqs.join(",") !== `${f},${f + 1},${f + 2}`) throw new Error(`replies out of order: ${detail}`);
        if (seen < 3 || strays !== 0) throw new Error(`answered in the wrong namespace: ${detail}`);
        return detail;
      });
    }, 30_000);
  }

  it("passt and qemu are still running", () => {
    expect(lab.passt?.child.exitCode).toBe(null);
    expect(lab.qemu?.child.exitCode).toBe(null);
    expect(lab.guest.sh(["ip", "-o", "link", "show", "dev", TAP])).not.toMatch(/NO-CARRIER/);
  });
});

afterAll(() => {
  const cols = sides.map((s) => s.label);
  const cell = (o: { ok: boolean; note: string } | undefined): string => (o === undefined ? "not run" : `${o.ok ? "PASS" : "FAIL"}: ${o.note}`.replace(/\|/g, "/"));
  const lines = [
    "# passt ICMP end-to-end report",
    "",
    `Generated by apps/passt/test/icmp.e2e.test.ts on ${new Date().toISOString()}.`,
    `qemu 7.2 bridges a tap in a guest namespace to passt's socket; passt runs as uid 65534 in the host namespace (ping_group_range "0 2147483647"). C side: ${c?.path ?? "none found"}.`,
    "",
    `| scenario | ${cols.join(" | ")} |`,
    `| --- | ${cols.map(() => "---").join(" | ")} |`,
    ...[...results].map(([name, row]) => `| ${name} | ${cols.map((k) => cell(row.get(k))).join(" | ")} |`),
  ];
  const text = `${lines.join("\n")}\n`;
  writeFileSync(fileURLToPath(new URL("./icmp-report-latest.md", import.meta.url)), text);
  process.stdout.write(`\n${text}`);
});
