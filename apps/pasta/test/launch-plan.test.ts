// The native launcher (crates/launcher) decides from argv, before Node runs,
// whether to enter a user namespace and whether to detach. It scans argv
// with the option table the build writes (dist/launch-options.txt) and does
// not parse values, so it must agree with the parser on every argv the
// command-line table holds, as root and as an unprivileged user. Where
// the parser refuses argv, any plan will do: Node reports the mistake.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isRoot, asUnprivileged } from "@x/harness";
import { parseOptions, pastaDetaches, type Options } from "@x/engine/options";
import { cases, caseArgs, type Cmd } from "./cli-cases.js";

const BIN: Record<Cmd, string> = {
  pasta: fileURLToPath(new URL("../bin/pasta", import.meta.url)),
  passt: fileURLToPath(new URL("../../passt/bin/passt", import.meta.url)),
};
// A PID whose user namespace is not ours (init's, for nobody it is the
// same as ours: then the launcher makes one of its own, as the script does).
const VARS = { dir: "/tmp/launch-plan", run: "x", sock: "/tmp/launch-plan/x.sock", pid: "4242", userns: "/proc/4242/ns/user", netnspath: "/proc/4242/ns/net", netnsname: "lpx" };

/** What the script's own launcher would do, in the native launcher's words. */
function expected(cmd: Cmd, o: Options, rootless: boolean): string {
  if (o.help || o.version || o.printCapabilities) return "Direct";
  if (cmd === "passt") return o.foreground ? "Direct" : `PasstDaemon { quiet: ${o.quiet} }`;
  const detach = pastaDetaches(o);
  if (!rootless && !detach) return "Direct";
  // The PID above does not exist: its namespace never reads back as ours.
  const join = rootless ? (o.userns ?? (o.targetPid !== undefined ? `/proc/${o.targetPid}/ns/user` : undefined)) : undefined;
  const userns = join !== undefined ? `Join(${JSON.stringify(join)})` : rootless && !o.netnsOnly ? "New" : "Keep";
  return `Pasta { userns: ${userns}, detach: ${detach} }`;
}

function plans(cmd: Cmd, argvs: string[][], rootless: boolean): string[] {
  // One shell per batch: a launcher per line, its plan on stdout.
  const script = argvs.map((a) => `PASST_TS_LAUNCH_PLAN=1 "$0" ${a.map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(" ")}`).join("\n");
  const argv = ["sh", "-c", script, BIN[cmd]];
  const full = rootless && isRoot() ? asUnprivileged(argv) : argv;
  const r = spawnSync(full[0] as string, full.slice(1), { encoding: "utf8", timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split("\n");
}

describe("the native launcher's plan agrees with the parser", () => {
  for (const cmd of ["pasta", "passt"] as const) {
    for (const rootless of isRoot() ? [false, true] : [true]) {
      it(`${cmd}, ${rootless ? "unprivileged" : "root"}`, () => {
        const argvs = cases(cmd).map((c) => caseArgs(c, VARS));
        // A few spellings the table's cases do not hold.
        argvs.push(["--fore"], ["-qf"], ["--netns=/run/netns/x"], ["--userns", "/u", "--netns", "/n"], ["-dq", "--", "4242"], ["4242"], ["--netns", "x", "4242"], ["--", "sh", "-c", "true"], []);
        const got = plans(cmd, argvs, rootless);
        expect(got.length).toBe(argvs.length);
        let checked = 0;
        argvs.forEach((a, i) => {
          let o: Options;
          try {
            o = parseOptions(cmd, a);
          } catch {
            return;
          }
          checked++;
          expect(`${a.join(" ")} => ${got[i]}`).toBe(`${a.join(" ")} => ${expected(cmd, o, rootless)}`);
        });
        expect(checked).toBeGreaterThan(100);
      });
    }
  }
});
