#!/usr/bin/env node
// Puts the native launcher (crates/launcher) in front of one app: builds it
// with cargo (a no-op when it is current), copies it to the app's bin/NAME,
// which is the command package.json names, and writes the option table it
// scans into dist/launch-options.txt, from the table the parser reads.
// Run by each app's build, from the app's folder: node ../../tooling/launcher/install.mjs pasta
import { execFileSync } from "node:child_process";
import { copyFileSync, chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const mode = process.argv[2];
if (mode !== "passt" && mode !== "pasta") {
  process.stderr.write("usage: install.mjs passt|pasta (from the app's folder)\n");
  process.exit(2);
}
const root = fileURLToPath(new URL("../../", import.meta.url));
execFileSync("cargo", ["build", "--release", "--quiet", "-p", "x-launcher"], { cwd: root, stdio: "inherit" });
const { launchTable } = await import(pathToFileURL(resolve("node_modules/@x/engine/dist/cli-options.js")).href);
writeFileSync(join("dist", "launch-options.txt"), launchTable(mode));
mkdirSync("bin", { recursive: true });
// Copied beside and renamed over, so that a running launcher is never overwritten in place.
const tmp = join("bin", `.${mode}.${process.pid}`);
copyFileSync(join(root, "target/release/x-launch"), tmp);
chmodSync(tmp, 0o755);
renameSync(tmp, join("bin", mode));
