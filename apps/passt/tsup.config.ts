import { defineConfig } from "tsup";

// Two outputs (see @x/engine/boot for why):
// - dist/app.cjs: the whole command, one CommonJS file. One file per app
//   instead of a module graph across seven packages: Node resolves and
//   compiles one script where it walked thirty package.json files before the
//   first datagram. @x/syscalls's native binding is found by package name,
//   @x/syscalls/native, so its JavaScript is bundled with the rest.
// - dist/cli.js: the command's entry, which loads app.cjs from its code
//   cache (dist/app.cjs.cache, written by tooling/launcher/code-cache.mjs).
// Each cleans only its own files, since tsup builds the two at once.
export default defineConfig([
  {
    entry: { app: "src/app.ts" },
    format: ["cjs"],
    shims: true,
    dts: false,
    sourcemap: true,
    clean: ["app.*"],
    target: "node20",
    noExternal: [/^@x\//],
  },
  {
    entry: { cli: "src/cli.ts" },
    format: ["esm"],
    dts: false,
    sourcemap: true,
    clean: ["cli.*"],
    target: "node20",
    noExternal: [/^@x\//],
  },
]);
