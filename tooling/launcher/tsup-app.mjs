// The tsup configuration of each app (apps/passt, apps/pasta): two outputs,
// see @x/engine/boot for why.
// - dist/app.cjs: the whole command, one CommonJS file. One file per app
//   instead of a module graph across seven packages: Node resolves and
//   compiles one script where it walked thirty package.json files before
//   the first datagram. @x/syscalls's native binding is found by package
//   name, @x/syscalls/native, so its JavaScript is bundled with the rest.
// - dist/cli.js: the command's entry, which loads app.cjs from its code
//   cache (dist/app.cjs.cache, written by tooling/launcher/code-cache.mjs).
// Each cleans only its own files, since tsup builds the two at once.
const common = { dts: false, sourcemap: true, target: "node20", noExternal: [/^@x\//] };

export const appBundles = () => [
  { ...common, entry: { app: "src/app.ts" }, format: ["cjs"], shims: true, clean: ["app.*"] },
  { ...common, entry: { cli: "src/cli.ts" }, format: ["esm"], clean: ["cli.*"] },
];
