import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/cli.ts"],
  format: ["esm"],
  dts: false,
  sourcemap: true,
  clean: true,
  target: "node20",
  // One file per stage instead of a module graph across seven packages:
  // Node resolves and compiles one module where it walked thirty package.json
  // files before the first datagram. @x/syscalls stays outside, since its
  // loader finds the native binding beside itself.
  noExternal: [/^@x\/(?!syscalls)/],
});
