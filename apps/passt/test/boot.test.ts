/**
 * The command's start from the code cache (@x/engine/boot): the build's
 * cache is taken, a cache made from any other source is never offered to
 * V8 (V8 itself would check only the length), one V8 refuses costs nothing
 * but the compile, and a training start writes one the next start takes.
 * Real Node, the real built bundle, copied beside the app so that its
 * native binding still resolves.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const APP = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(APP, "dist");

function start(dir: string, env: Record<string, string> = {}): { use: string; out: string; code: number | null } {
  const r = spawnSync(process.execPath, [join(dir, "cli.js"), "--version"], {
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, PASST_TS_CODE_CACHE_REPORT: "1", ...env },
  });
  return { use: /code cache: (\w+)/.exec(r.stderr)?.[1] ?? `none in ${JSON.stringify(r.stderr)}`, out: r.stdout, code: r.status };
}

describe("passt's start from the code cache", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(APP, ".boot-test-"));
    for (const f of ["cli.js", "app.cjs", "app.cjs.cache"]) copyFileSync(join(DIST, f), join(dir, f));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes the cache the build wrote", () => {
    const r = start(DIST);
    expect(r.use).toBe("accepted");
    expect(r.out).toMatch(/^passt \(passt-ts\) /);
  });

  it("compiles from source when told to", () => {
    expect(start(DIST, { PASST_TS_CODE_CACHE: "off" })).toMatchObject({ use: "off", code: 0 });
  });

  it("never offers V8 a cache made from other source, even of the same length", () => {
    const src = readFileSync(join(dir, "app.cjs"), "utf8");
    const at = src.indexOf("passt-ts");
    // One letter changed: the length V8 checks is the same.
    writeFileSync(join(dir, "app.cjs"), `${src.slice(0, at)}pAsst-ts${src.slice(at + 8)}`);
    const r = start(dir);
    expect(r.use).toBe("stale");
    // The new source ran, not the bytecode cached from the old one.
    expect(r.out).toMatch(/^passt \(pAsst-ts\)/);
    writeFileSync(join(dir, "app.cjs"), src);
    expect(start(dir).use).toBe("accepted");
  });

  it("starts from source when V8 refuses the cache's data", () => {
    const cache = readFileSync(join(dir, "app.cjs.cache"));
    const source = readFileSync(join(dir, "app.cjs"));
    const head = 4 + source.length;
    const bad = Buffer.concat([cache.subarray(0, head), Buffer.alloc(cache.length - head, 0x5a)]);
    writeFileSync(join(dir, "app.cjs.cache"), bad);
    expect(start(dir)).toMatchObject({ use: "rejected", code: 0 });
    writeFileSync(join(dir, "app.cjs.cache"), Buffer.from("short"));
    expect(start(dir)).toMatchObject({ use: "stale", code: 0 });
    writeFileSync(join(dir, "app.cjs.cache"), cache);
  });

  it("a training start writes a cache the next start takes", () => {
    rmSync(join(dir, "app.cjs.cache"));
    expect(start(dir).use).toBe("absent");
    expect(start(dir, { PASST_TS_CODE_CACHE_OUT: join(dir, "app.cjs.cache") }).code).toBe(0);
    expect(start(dir).use).toBe("accepted");
  });
});
