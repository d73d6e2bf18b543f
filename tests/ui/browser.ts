import { existsSync } from "node:fs";

/**
 * Where the browser tests find Chromium: Debian's `chromium` package (`.ci/run` installs it), or
 * CHROMIUM_PATH. Without it the tests fail with this message when CI is set, and are skipped on
 * a developer's machine (CI unset), so `npm test` still runs there.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function findChromium(): string | null {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (process.env.CI) {
    throw new Error(
      `the dashboard's browser tests need Chromium at ${CHROMIUM_PATH}: ` +
        "apt-get install -y --no-install-recommends chromium (.ci/run does it), or set CHROMIUM_PATH",
    );
  }
  return null;
}

/** A spec that trains an autoprog run with one search and one growth in well under a minute (wasm). */
export const TINY_AUTOPROG_SPEC = {
  name: "dashboard-tiny",
  dataset: { name: "mnist", trainLimit: 64, testLimit: 32 },
  model: { variant: "micro", patchSize: 7, width: 16, depth: 2, heads: 2, mlpRatio: 2 },
  training: { epochs: 6, stages: 2, batchSize: 32, warmupEpochs: 0, evalBatchSize: 32 },
  arms: [{ arm: "autoprog", supernetEpochs: 1, search: { cost: "flops", subsetSize: 32 } }],
  backend: "wasm",
};
