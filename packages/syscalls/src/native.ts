/**
 * The generated napi-rs binding, loaded once.
 *
 * The loader napi-rs writes (native/native.cjs) picks the `.node` file built
 * beside it in a checkout, or the platform package (`@x/syscalls-linux-x64-gnu`)
 * in an installed copy. It is CommonJS, so it is reached through createRequire,
 * and by this package's own name (`@x/syscalls/native`), not by a path
 * relative to this file: the apps bundle this module into their own dist/,
 * and from there the name still leads to the installed package.
 */
import { createRequire } from "node:module";
import type * as Binding from "../native/native.js";

const load = createRequire(import.meta.url);

export const native: typeof Binding = load("@x/syscalls/native") as typeof Binding;
export type { Binding };
