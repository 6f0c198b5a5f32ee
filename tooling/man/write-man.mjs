#!/usr/bin/env node
// Writes the man page of one command (passt or pasta) from the option table
// that its parser reads (packages/engine/src/option-table.ts), into the
// app's man/ folder, which the app's package ships ("man" in package.json).
// Run by each app's build: node ../../tooling/man/write-man.mjs pasta
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

// @x/engine as the app (the current folder) depends on it.
const { manPage } = await import(pathToFileURL(resolve("node_modules/@x/engine/dist/cli-options.js")).href);

const mode = process.argv[2];
if (mode !== "passt" && mode !== "pasta") {
  process.stderr.write("usage: write-man.mjs passt|pasta (from the app's folder)\n");
  process.exit(2);
}
const { version } = JSON.parse(readFileSync("package.json", "utf8"));
mkdirSync("man", { recursive: true });
writeFileSync(join("man", `${mode}.1`), manPage(mode, version));
