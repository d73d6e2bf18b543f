import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Tensor tests are CPU-heavy; two forks match the two cores of CI. Child processes, not worker
    // threads, also because Dawn (the `webgpu` addon) is native: each file that uses it gets a
    // process of its own (isolate), ended after the file, so its GPU state never leaks into the
    // next file and a live Dawn instance cannot keep the run from exiting.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1, isolate: true } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
