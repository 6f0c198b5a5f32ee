/**
 * The environment Node starts with, as against the one the user gave.
 *
 * Some variables act before any JavaScript runs, so only whoever execs Node
 * can set them: the native launcher (crates/launcher), or the script's own
 * launcher when it starts a second Node (envForNode). Two changes pay:
 *
 * - `NODE_EXTRA_CA_CERTS` is kept from Node. With it set, Node reads and
 *   parses the whole certificate bundle at start-up (about 25 ms of a 30 ms
 *   `node -e 0` on the bench machine, and a few hundred KiB of heap), for
 *   TLS connections passt and pasta never make.
 * - glibc's malloc gets a fixed mmap threshold (`GLIBC_TUNABLES`). By
 *   default the threshold rises to the size of any large block freed, up to
 *   32 MiB; after that, big allocations (the flow tables' typed arrays) come
 *   from the brk heap, where calloc clears reused memory and the pages stay
 *   resident. At 64 KiB, each lives in a mapping of its own, untouched until
 *   used: about 4.5 MiB less resident at start.
 *
 * Whatever was changed is recorded beside it: the user's value as
 * `PASST_TS_HIDDEN_<NAME>`, a variable the user did not have in
 * `PASST_TS_ADDED` (comma-separated). The script undoes both as its first
 * step (restoreHiddenEnv), so that what pasta starts (its command, a second
 * Node) sees the environment the user gave it.
 */
export const HIDDEN_PREFIX = "PASST_TS_HIDDEN_";
export const ADDED = "PASST_TS_ADDED";

/** What Node reads before the script can act; crates/launcher/src/main.rs holds the same list. */
export const HIDDEN_FROM_NODE: readonly string[] = ["NODE_EXTRA_CA_CERTS"];

/** Appended to GLIBC_TUNABLES for Node; crates/launcher/src/main.rs holds the same. */
export const MALLOC_TUNABLE = "glibc.malloc.mmap_threshold=65536";

/**
 * The environment for a Node started by the script's own launcher (the
 * slower path, when no native launcher ran), as `NAME=value` entries: drop
 * left out, the rest changed as the native launcher changes it.
 */
export function envForNode(drop: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (drop.includes(k) || v === undefined) continue;
    if (HIDDEN_FROM_NODE.includes(k)) out.push(`${HIDDEN_PREFIX}${k}=${v}`);
    else if (k === "GLIBC_TUNABLES") out.push(`${HIDDEN_PREFIX}${k}=${v}`, `${k}=${v === "" ? MALLOC_TUNABLE : `${v}:${MALLOC_TUNABLE}`}`);
    else out.push(`${k}=${v}`);
  }
  if (env.GLIBC_TUNABLES === undefined) out.push(`GLIBC_TUNABLES=${MALLOC_TUNABLE}`, `${ADDED}=GLIBC_TUNABLES`);
  return out;
}

/** Undoes what the launcher changed; env is process.env, whose writes reach the C environment children inherit. */
export function restoreHiddenEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of (env[ADDED] ?? "").split(",")) if (name !== "") delete env[name];
  delete env[ADDED];
  for (const key of Object.keys(env)) {
    if (!key.startsWith(HIDDEN_PREFIX)) continue;
    const name = key.slice(HIDDEN_PREFIX.length);
    if (name !== "") env[name] = env[key];
    delete env[key];
  }
}
