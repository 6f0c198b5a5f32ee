// passt's --runas, started as root: it serves as the given user once its
// socket is bound, refuses an unknown user before starting, and
// --print-capabilities answers as a vhost-user back end is asked; the C
// passt side by side where it is beside the project (the oracle).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { World, isRoot, oracleBinary, start, until } from "@x/harness";

const BIN = fileURLToPath(new URL("../bin/passt", import.meta.url));
const ORACLE = oracleBinary("passt");
const sides: { label: string; argv: string[] }[] = [
  { label: "ours", argv: [BIN] },
  ...(ORACLE ? [{ label: "C passt 2024_12_11 (oracle)", argv: [ORACLE] }] : []),
];

describe.runIf(isRoot()).each(sides)("passt ($label) --runas", (side) => {
  let world: World;
  let dir: string;
  beforeAll(() => {
    world = new World("pr");
    dir = mkdtempSync(join(tmpdir(), "passt-runas-"));
  });
  afterAll(() => {
    world?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves as the given user once its socket is bound", async () => {
    const sock = join(dir, `${side.label.length}.socket`);
    const p = start(["ip", "netns", "exec", world.host.name, ...side.argv, "-f", "--runas", "65534:65534", "-s", sock], { deadlineMs: 30_000 });
    try {
      await until(() => existsSync(sock), 10_000, "passt's socket");
      const pid = p.child.pid as number;
      // Let the switch happen (it follows the socket's bind).
      await until(() => /^Uid:\s+65534\b/m.test(readFileSync(`/proc/${pid}/status`, "utf8")), 5_000, "uid 65534");
      expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Gid:\s+65534\b/m);
    } finally {
      p.kill("SIGKILL");
    }
  });

  it("refuses an unknown user with status 1", () => {
    const r = spawnSync("ip", ["netns", "exec", world.host.name, ...side.argv, "-f", "--runas", "no-such-user-x", "-s", join(dir, "x.socket")], {
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(r.status).toBe(1);
  });

  it("prints its capabilities as JSON", () => {
    const r = spawnSync(side.argv[0] as string, [...side.argv.slice(1), "--print-capabilities"], { encoding: "utf8", timeout: 10_000 });
    expect(r.status).toBe(0);
    // Ours on standard output, as the vhost-user spec asks; the 2024_12_11 release writes it to standard error.
    expect(JSON.parse(r.stdout || r.stderr)).toEqual({ type: "net" });
  });
});
