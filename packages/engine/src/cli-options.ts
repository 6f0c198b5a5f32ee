/**
 * The command line alone, as its own entry point (`@x/engine/options`):
 * the launchers of passt and pasta parse and check their arguments before
 * anything else, and should not pay for loading the whole engine to do so.
 */
export { parseOptions, pastaDetaches, helpText, manPage, type Options, type Mode } from "./options.js";
export { launchTable } from "./launch-table.js";
export { parsePortSpec, mergePortSpecs, type PortSpec } from "@x/flow";
export { UsageError } from "./usage-error.js";
export { restoreHiddenEnv, envForNode, HIDDEN_PREFIX, HIDDEN_FROM_NODE, MALLOC_TUNABLE, ADDED } from "./launch-env.js";
