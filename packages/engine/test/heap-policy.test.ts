import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const built = fileURLToPath(new URL("../dist/cli-options.js", import.meta.url));

/**
 * A child that applies the heap policy under PASST_TS_HEAP_GROWING=`pct`,
 * then churns objects that survive a while (as flows do) and reports the
 * largest heap V8 reserved: a behaviour, not a timing.
 */
function peakHeapMiB(pct: string): number {
  const script = `
    const { applyHeapPolicy } = await import(${JSON.stringify(built)});
    applyHeapPolicy();
    let keep = [];
    let peak = 0;
    for (let r = 0; r < 300; r++) {
      for (let i = 0; i < 20000; i++) keep.push({ port: i, onReadable: () => i });
      if (keep.length > 100000) keep = keep.slice(-50000);
      peak = Math.max(peak, process.memoryUsage().heapTotal);
    }
    process.stdout.write(String(peak / 1048576));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, PASST_TS_HEAP_GROWING: pct },
    encoding: "utf8",
    timeout: 60_000,
  });
  return Number(out);
}

describe("the networking process's heap policy", () => {
  it("keeps the heap V8 reserves under churn well below what its own heuristics let it grow to", () => {
    const ours = peakHeapMiB("");
    const v8s = peakHeapMiB("0");
    expect(ours).toBeGreaterThan(0);
    expect(ours).toBeLessThan(0.85 * v8s);
  }, 60_000);

  it("ignores a value that is not a percentage instead of failing the start", () => {
    for (const bad of ["x", "-5", "1.5", "99999"]) expect(peakHeapMiB(bad)).toBeGreaterThan(0);
  }, 120_000);
});
