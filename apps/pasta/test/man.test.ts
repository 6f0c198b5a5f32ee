// `man pasta` and `man passt` after a global npm install, and --help as
// complete as the C release's: every long option the oracle's --help lists
// (or, without the oracle, its man page) is in ours, with a description.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { oracleBinary } from "@x/harness";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const CLI = { pasta: join(ROOT, "apps/pasta/dist/cli.js"), passt: join(ROOT, "apps/passt/dist/cli.js") };

/** Long options the C release documents for one command. */
function cOptions(mode: "pasta" | "passt"): string[] {
  let text: string;
  const oracle = oracleBinary(mode);
  if (oracle) {
    text = execFileSync(oracle, ["--help"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).toString();
  } else {
    // The names, recorded from the same release.
    text = readFileSync(join(ROOT, "apps/pasta/test/fixtures/c-help-" + mode + ".txt"), "utf8");
  }
  return [...new Set([...text.replace(/^#.*$/gm, "").matchAll(/--([a-z0-9][a-z0-9-]+)/g)].map((m) => m[1] as string))];
}

describe("documentation", () => {
  it.each(["pasta", "passt"] as const)("%s --help lists every option of the C release's --help, each described", (mode) => {
    const ours = execFileSync("node", [CLI[mode], "--help"], { encoding: "utf8" });
    const missing = cOptions(mode).filter((o) => !new RegExp(`--${o}\\b`).test(ours));
    expect(missing).toEqual([]);
    // One description per option: beside its names, or on the next line when they are long.
    const lines = ours.split("\n");
    lines.forEach((line, i) => {
      if (!/^\s+(-\w, )?--/.test(line)) return;
      const described = line.trim().split(/\s{2,}/).length > 1 || /^\s{8,}\w/.test(lines[i + 1] ?? "");
      expect(described, line).toBe(true);
    });
  });

  it.each(["pasta", "passt"] as const)("man %s works after a global npm install", (mode) => {
    const prefix = mkdtempSync(join(tmpdir(), "man-"));
    try {
      execFileSync("npm", ["install", "-g", "--prefix", prefix, join(ROOT, "apps", mode), "--offline", "--no-audit", "--no-fund"], {
        stdio: "ignore",
        timeout: 60_000,
      });
      const env = { ...process.env, MANPATH: join(prefix, "share/man") };
      const page = execFileSync("man", ["-P", "cat", mode], { env, encoding: "utf8", timeout: 20_000 });
      expect(page).toMatch(/SYNOPSIS/);
      expect(page).toMatch(/--dns-forward/);
      expect(execFileSync(join(prefix, "bin", mode), ["--version"], { encoding: "utf8" })).toMatch(/passt-ts/);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  }, 90_000);
});
