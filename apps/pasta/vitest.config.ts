import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // End-to-end tests build namespaces and start processes: one file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
