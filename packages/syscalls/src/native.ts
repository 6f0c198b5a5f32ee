/**
 * The generated napi-rs binding, loaded once.
 *
 * The loader napi-rs writes (native/native.cjs) picks the `.node` file built
 * beside it in a checkout, or the platform package (`@x/syscalls-linux-x64-gnu`)
 * in an installed copy. It is CommonJS, so it is reached through createRequire.
 */
import { createRequire } from "node:module";
import type * as Binding from "../native/native.js";

const require = createRequire(import.meta.url);

export const native: typeof Binding = require("../native/native.cjs") as typeof Binding;
export type { Binding };
