import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The end-to-end file builds namespaces and runs qemu: one file at a time.
    fileParallelism: false,
  },
});
