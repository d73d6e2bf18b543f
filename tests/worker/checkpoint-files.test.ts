import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { loadSettings } from "../../src/env.ts";
import {
  discardCheckpointsAfter,
  keepNewestCheckpoints,
  removeStaleTemporaries,
} from "../../src/worker/checkpoint-files.ts";

/** A pid above Linux's pid_max: no process has it. */
const DEAD_PID = 99_999_999;

let runsDir: string;
let checkpoints: string;
beforeEach(async () => {
  runsDir = join(await mkdtemp(join(tmpdir(), "autoprog-files-")), "runs");
  checkpoints = join(runsDir, "run_1", "checkpoints");
  await mkdir(checkpoints, { recursive: true });
  for (const epoch of ["0001", "0002", "0003"]) {
    for (const ext of ["json", "bin"]) await writeFile(join(checkpoints, `epoch-${epoch}.${ext}`), "x");
  }
});

const files = async () => (await readdir(checkpoints)).sort();

describe("checkpoint housekeeping", () => {
  it("removes temporaries of writes whose process died, and keeps those of a live writer", async () => {
    await writeFile(join(checkpoints, `epoch-0004.bin.${DEAD_PID}.ab12cd34.tmp`), "half");
    await writeFile(join(checkpoints, `epoch-0004.bin.${process.pid}.ab12cd34.tmp`), "writing");
    const removed = await removeStaleTemporaries(runsDir);
    expect(removed.map((f) => f.replace(`${checkpoints}/`, ""))).toEqual([
      `epoch-0004.bin.${DEAD_PID}.ab12cd34.tmp`,
    ]);
    expect(await files()).toContain(`epoch-0004.bin.${process.pid}.ab12cd34.tmp`);
  });

  it("keeps the newest checkpoint of a finished run by default", async () => {
    expect(loadSettings({}).keepCheckpoints).toBe(1);
    await keepNewestCheckpoints(checkpoints, 1);
    expect(await files()).toEqual(["epoch-0003.bin", "epoch-0003.json"]);
    await keepNewestCheckpoints(checkpoints, 0);
    expect(await files()).toEqual([]);
  });

  it("also keeps the checkpoints that close a stage when asked (the default), for forks", async () => {
    expect(loadSettings({}).keepStageCheckpoints).toBe(true);
    // Epoch 2 closes stage 0 (epochs 0–1); epoch 1 is inside it.
    const stages = [{ stage: 0, startEpoch: 0, epochs: 2 }];
    await writeFile(join(checkpoints, "epoch-0001.json"), JSON.stringify({ epoch: 1, stages }));
    await writeFile(join(checkpoints, "epoch-0002.json"), JSON.stringify({ epoch: 2, stages }));
    await keepNewestCheckpoints(checkpoints, 1, true);
    expect(await files()).toEqual(["epoch-0002.bin", "epoch-0002.json", "epoch-0003.bin", "epoch-0003.json"]);
    await keepNewestCheckpoints(checkpoints, 1, false);
    expect(await files()).toEqual(["epoch-0003.bin", "epoch-0003.json"]);
  });

  it("discards checkpoints the run's log does not know of before an attempt resumes", async () => {
    await discardCheckpointsAfter(checkpoints, 2);
    expect(await files()).toEqual(["epoch-0001.bin", "epoch-0001.json", "epoch-0002.bin", "epoch-0002.json"]);
    await discardCheckpointsAfter(checkpoints, null);
    expect(await files()).toEqual([]);
  });
});
