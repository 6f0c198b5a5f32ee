/**
 * Variables the native launcher keeps from Node and the script gives back.
 *
 * Node acts on some variables before any JavaScript runs, at a cost the
 * networking process never recovers: with `NODE_EXTRA_CA_CERTS` set, Node
 * reads and parses the whole certificate bundle at start-up (about 25 ms
 * of a 30 ms `node -e 0` on the bench machine, and a few hundred KiB of
 * heap), for TLS connections passt and pasta never make. The launcher
 * (crates/launcher) therefore moves each such variable to
 * `PASST_TS_HIDDEN_<NAME>` before it execs Node, and the script moves it
 * back as its first step, so that what pasta starts (its command, a second
 * Node) sees the environment the user gave it.
 */
export const HIDDEN_PREFIX = "PASST_TS_HIDDEN_";

/** What Node reads before the script can act; crates/launcher/src/main.rs holds the same list. */
export const HIDDEN_FROM_NODE: readonly string[] = ["NODE_EXTRA_CA_CERTS"];

/**
 * The environment for a Node started by the script's own launcher (the
 * slower path, when no native launcher ran), as `NAME=value` entries: drop
 * left out, the hidden variables moved aside as the native launcher does.
 */
export function envForNode(drop: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([k]) => !drop.includes(k))
    .map(([k, v]) => `${HIDDEN_FROM_NODE.includes(k) ? HIDDEN_PREFIX + k : k}=${v ?? ""}`);
}

/** Restores what the launcher hid; env is process.env, whose writes reach the C environment children inherit. */
export function restoreHiddenEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const key of Object.keys(env)) {
    if (!key.startsWith(HIDDEN_PREFIX)) continue;
    const name = key.slice(HIDDEN_PREFIX.length);
    if (name !== "") env[name] = env[key];
    delete env[key];
  }
}
