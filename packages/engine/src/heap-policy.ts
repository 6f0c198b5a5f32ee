/**
 * How far V8 lets the old generation grow past what survived the last full
 * collection, for the networking process.
 *
 * A translator's live heap is small and steady (its tables, a closure and a
 * few entries per open socket), but flows that come and go leave their
 * objects behind in the old generation once they have lived through two
 * scavenges, and UDP flows live 180 s. V8 lets the old generation grow to
 * up to four times the live size before it collects it again, so under
 * churn the process's RSS climbs for minutes and falls back in one step:
 * the 10-minute soak (tooling/bench --soak) read +8 % and more. A fixed,
 * smaller growing factor makes full collections come sooner and keeps the
 * resident heap near the live one, for the cost of more frequent marking,
 * which runs concurrently on a heap of a few tens of MiB.
 *
 * `PASST_TS_HEAP_GROWING=N` sets the percentage (0: V8's own heuristics).
 */
import { setFlagsFromString } from "node:v8";

/** The default growth: full collection once the old generation is 30 % past its live size. */
export const HEAP_GROWING_PERCENT = 30;

export function applyHeapPolicy(env: NodeJS.ProcessEnv = process.env): void {
  const raw = env.PASST_TS_HEAP_GROWING;
  const pct = raw === undefined || raw === "" ? HEAP_GROWING_PERCENT : Number(raw);
  if (!Number.isInteger(pct) || pct < 0 || pct > 1000) return;
  if (pct > 0) setFlagsFromString(`--heap-growing-percent=${pct}`);
}
