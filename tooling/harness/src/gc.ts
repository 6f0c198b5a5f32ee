/**
 * Counting garbage collections, for the tests that prove a hot path
 * allocates nothing per packet. V8 has no allocation counter, but it does
 * report collections: a minor GC (scavenge) happens every few MiB of new
 * objects, so a loop over 100 000 packets that each allocated even one
 * small object would trigger several.
 */
import { constants, PerformanceObserver } from "node:perf_hooks";

/** Runs `fn` and reports the minor GCs during it, and how much the heap grew. */
export async function minorGcsDuring(fn: () => void): Promise<{ minor: number; heapGrowth: number }> {
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  const heapBefore = process.memoryUsage().heapUsed;
  fn();
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  // GC entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return { minor, heapGrowth };
}
