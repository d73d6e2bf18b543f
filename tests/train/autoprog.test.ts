import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { costEntries } from "../../src/core/cost-table.ts";
import type { TrainingEvent } from "../../src/core/events.ts";
import { growthSpaceOptions, sideList } from "../../src/core/growth-space.ts";
import type { ExperimentSpecInput } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining } from "../../src/train/run.ts";
import { useTestBackend } from "../helpers.ts";
import { runRecording, runUntilCheckpoint, tinyGrowthSpec } from "./helpers.ts";

beforeAll(useTestBackend);

/** A tiny real-MNIST autoprog spec: 4 stages of 2 epochs, 1 supernet epoch each, FLOPs cost. */
function spec(arms: ExperimentSpecInput["arms"], epochs = 8) {
  return tinyGrowthSpec(arms, epochs, { evalEvery: 4 });
}

const autoprog = {
  arm: "autoprog" as const,
  supernetEpochs: 1,
  search: { cost: "flops" as const, subsetSize: 32 },
};

const run = runRecording;

describe("AutoProg end to end on a tiny MNIST slice", () => {
  it("finishes with K stages, the full model last, and a search record for every searched stage", async () => {
    const { result, events } = await run(spec([autoprog]), "autoprog");
    expect(result.stages).toHaveLength(4);
    expect(result.stages.at(-1)).toMatchObject({ depth: 4, side: 28 });
    const searched = events.filter((e) => e.type === "stage.search.completed");
    expect(searched.length).toBeGreaterThanOrEqual(1);
    expect(result.search).toHaveLength(searched.length);
    for (const record of result.search) {
      expect(record.candidates.filter((c) => c.chosen)).toHaveLength(1);
      // The default rule is the paired one; the winner is the cheapest candidate tied with the best.
      expect(record).toMatchObject({ selection: "paired", z: 2 });
      const tied = record.candidates.filter((c) => c.tied);
      const chosen = record.candidates.find((c) => c.chosen);
      expect(chosen?.tied).toBe(true);
      expect(chosen?.cost).toBe(Math.min(...tied.map((c) => c.cost)));
      expect(record.candidates.some((c) => c.meanDifference === 0 && c.tied)).toBe(true);
      for (const c of record.candidates) {
        expect(Number.isFinite(c.loss) && c.loss > 0).toBe(true);
        expect(c.cost).toBeGreaterThan(0);
      }
      const stage = result.stages[record.stage];
      expect(stage).toMatchObject({ depth: record.winner.depth, side: record.winner.side });
    }
    // Stage 0 searches the 3×3 grid; with 7-px patches on 28 px the sides 14/14/28/28 collapse
    // to two distinct values, leaving 2 × 3 candidates.
    expect(result.search[0]?.candidates).toHaveLength(6);
    const supernetEpochs = result.history.filter((h) => h.phase === "supernet");
    expect(supernetEpochs.length).toBe(result.search.length);
    // A supernet epoch reports the largest candidate it trained, not the winner picked after it.
    for (const [i, record] of result.search.entries()) {
      const largest = Math.max(...record.candidates.map((c) => c.depth));
      expect(supernetEpochs[i]?.architecture.depth).toBe(largest);
    }
    expect(result.searchSeconds).toBeGreaterThan(0);
    expect(result.supernetSeconds).toBeGreaterThan(0);
    expect(result.flopsPerStepMean).toBeLessThanOrEqual(result.flopsFull);
    // The schedule replays as a fixed arm.
    expect(spec([{ arm: "fixed", schedule: [...result.schedule] }]).arms[0]).toMatchObject({ arm: "fixed" });
  });

  it("picks the same schedule twice with cost: flops and the same seed", async () => {
    const first = await run(spec([autoprog], 4), "autoprog");
    const second = await run(spec([autoprog], 4), "autoprog");
    expect(second.result.schedule).toEqual(first.result.schedule);
    expect(second.result.search.map((s) => s.candidates.map((c) => c.loss))).toEqual(
      first.result.search.map((s) => s.candidates.map((c) => c.loss)),
    );
  });

  it("with sideFloor: schedule never offers a side below prog's r_k, even when the cheapest would win", async () => {
    // tolerance 1 ties every candidate, so without the floor the cheapest (the smallest side) wins.
    const floored = {
      ...autoprog,
      search: { ...autoprog.search, tolerance: 1, sideFloor: "schedule" as const },
    };
    const { result } = await run(spec([floored]), "autoprog");
    const sides = sideList(
      growthSpaceOptions({ training: { stages: 4 } }, { depth: 4, imageSize: 28, patchSize: 7 }),
    );
    expect(sides).toEqual([14, 14, 28, 28]);
    expect(result.search.length).toBeGreaterThanOrEqual(1);
    for (const record of result.search) {
      expect(record.sideFloor).toBe("schedule");
      for (const c of record.candidates) expect(c.side).toBeGreaterThanOrEqual(sides[record.stage] as number);
    }
    // Stage 2 trains at least r_2 = 28 px whatever the search saw.
    expect(result.stages[2]?.side).toBe(28);
  });

  it("supernet arm trains Ω_0 for the whole run and ends as the full model", async () => {
    const { result } = await run(spec([{ arm: "supernet" }], 4), "supernet");
    expect(result.stages).toEqual([expect.objectContaining({ depth: 4, side: 28, epochs: 4 })]);
    expect(result.history.every((h) => h.phase === "supernet")).toBe(true);
    expect(result.flopsPerStepMean).toBeLessThan(result.flopsFull);
  });
});

describe("AutoProg step costs", () => {
  const timed = { ...autoprog, search: { cost: "time" as const, subsetSize: 32, timingRuns: 1 } };

  it("times the growth space once, at the first search, and reads later stages' costs from the table", async () => {
    const { result } = await run(spec([timed]), "autoprog");
    expect(result.search.length).toBeGreaterThanOrEqual(2);
    // 4 blocks, 28 px, 7-px patches: depths {2, 3, 4} × sides {14, 28}.
    expect(result.costTable).toHaveLength(6);
    expect(result.search[0]?.timedArchitectures).toBe(6);
    for (const record of result.search.slice(1)) expect(record.timedArchitectures).toBe(0);
    for (const record of result.search) {
      for (const c of record.candidates) {
        const entry = result.costTable.find((e) => e.depth === c.depth && e.side === c.side);
        expect(c.cost).toBe(entry?.seconds);
      }
    }
  });

  it("keeps the table in checkpoints: a resumed run reuses it and times nothing", async () => {
    const s = spec([timed]);
    const dir = await mkdtemp(join(tmpdir(), "autoprog-ap-costs-"));
    await runUntilCheckpoint(s, dir, 2); // stage 0 searched after epoch 0: this checkpoint holds the table
    const saved = JSON.parse(await readFile(join(dir, "epoch-0002.json"), "utf8")) as {
      costTable: Record<string, number>;
    };
    expect(Object.keys(saved.costTable)).toHaveLength(6);
    const resumed = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(dir, 20) });
    expect(resumed.costTable).toEqual(costEntries(saved.costTable));
    expect(resumed.search.length).toBeGreaterThanOrEqual(2);
    for (const record of resumed.search.slice(1)) expect(record.timedArchitectures).toBe(0);
  });
});

describe("AutoProg supernet phase as a fraction of the stage", () => {
  it("ends the supernet inside an epoch and trains the winner for the rest of it", async () => {
    // 2 steps per epoch, 4 per stage: 0.25 of the stage is 1 step, so the search ends mid-epoch.
    const fraction = {
      arm: "autoprog" as const,
      supernetFraction: 0.25,
      supernetMinSteps: 1,
      search: autoprog.search,
    };
    const { result, events } = await run(spec([fraction]), "autoprog");
    expect(result.search.length).toBeGreaterThanOrEqual(1);
    for (const record of result.search) expect(record).toMatchObject({ supernetSteps: 1, supernetEpochs: 1 });
    const started = events.find((e) => e.type === "stage.search.started");
    expect(started).toMatchObject({ supernetSteps: 1 });
    expect(result.stages).toHaveLength(4);
    expect(result.supernetShare).toBeGreaterThan(0);
    expect(result.searchShare).toBeGreaterThan(0);
    expect(result.supernetShare + result.searchShare).toBeLessThan(1);
  });
});

describe("AutoProg resume", () => {
  it("resumes mid-supernet from a checkpoint to exactly the weights of an uninterrupted run", async () => {
    const s = spec([{ ...autoprog, supernetEpochs: 2 }], 8);
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-ap-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-ap-resumed-"));
    const straight = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(straightDir, 20) });
    await runUntilCheckpoint(s, resumedDir, 1); // epoch 1 ends inside stage 0's two supernet epochs
    const resumed = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(resumedDir, 20) });
    const a = await readFile(join(straightDir, "epoch-0008.bin"));
    const b = await readFile(join(resumedDir, "epoch-0008.bin"));
    expect(a.equals(b)).toBe(true);
    expect(resumed.schedule).toEqual(straight.schedule);
    expect(resumed.search.map((r) => r.candidates.map((c) => c.loss))).toEqual(
      straight.search.map((r) => r.candidates.map((c) => c.loss)),
    );
  });

  it("resumes inside a fractional supernet's scoring window bit-identically", async () => {
    // 4-step stages, 3 supernet steps scored at steps 1, 2 and 3: the checkpoint after epoch 0
    // holds one measurement, the resumed run takes the other two and finishes mid-epoch.
    const s = spec(
      [{ ...autoprog, supernetEpochs: undefined, supernetFraction: 0.75, supernetMinSteps: 1 }],
      8,
    );
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-apf-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-apf-resumed-"));
    const straight = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(straightDir, 20) });
    await runUntilCheckpoint(s, resumedDir, 1);
    const partial = JSON.parse(await readFile(join(resumedDir, "epoch-0001.json"), "utf8")) as {
      supernet: { losses: number[][] } | null;
    };
    expect(partial.supernet?.losses[0]).toHaveLength(1);
    const resumed = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(resumedDir, 20) });
    const a = await readFile(join(straightDir, "epoch-0008.bin"));
    const b = await readFile(join(resumedDir, "epoch-0008.bin"));
    expect(a.equals(b)).toBe(true);
    expect(resumed.search).toHaveLength(straight.search.length);
    expect(resumed.search.map((r) => r.candidates)).toEqual(straight.search.map((r) => r.candidates));
  });
});

describe("AutoProg with winnerWeights: regrow (the supernet as a look-ahead on a copy)", () => {
  const regrow = {
    arm: "autoprog" as const,
    search: { ...autoprog.search, winnerWeights: "regrow" as const },
  };

  it("trains exactly as the fixed arm of its own schedule, and counts the look-ahead's cost", async () => {
    // Two-epoch phases: the look-ahead spans a whole stage's epochs, then the stage trains in full.
    const s = spec([{ ...regrow, supernetEpochs: 2 }]);
    const searchedDir = await mkdtemp(join(tmpdir(), "autoprog-regrow-"));
    const fixedDir = await mkdtemp(join(tmpdir(), "autoprog-regrow-fixed-"));
    const before = tf.memory().numTensors;
    const events: TrainingEvent[] = [];
    const searched = await runTraining(s, {
      checkpoints: new DirectoryCheckpointStore(searchedDir, 20),
      onEvent: (e) => events.push(e),
    });
    expect(tf.memory().numTensors).toBe(before);
    const fixedSpec = spec([{ arm: "fixed", schedule: [...searched.schedule] }]);
    const fixed = await runTraining(fixedSpec, { checkpoints: new DirectoryCheckpointStore(fixedDir, 20) });
    const a = await readFile(join(searchedDir, "epoch-0008.bin"));
    const b = await readFile(join(fixedDir, "epoch-0008.bin"));
    expect(a.equals(b)).toBe(true);
    expect(searched.top1).toBe(fixed.top1);
    // Every stage opened by a search is recorded, scored on the copy, and never trained as a supernet.
    expect(searched.search.length).toBeGreaterThanOrEqual(1);
    for (const record of searched.search)
      expect(record).toMatchObject({ winnerWeights: "regrow", supernetSteps: 4 });
    expect(searched.history.every((h) => h.phase === "train")).toBe(true);
    expect(events.filter((e) => e.type === "stage.started")).toHaveLength(4);
    expect(events.filter((e) => e.type === "stage.search.completed")).toHaveLength(searched.search.length);
    for (const grown of events.filter((e) => e.type === "stage.grown")) {
      expect(grown.operator).toBe("mogrow");
    }
    // The look-ahead's steps cost FLOPs and seconds the fixed run does not spend.
    expect(searched.supernetSeconds).toBeGreaterThan(0);
    expect(searched.searchSeconds).toBeGreaterThan(0);
    expect(searched.steps).toBe(fixed.steps);
    expect(searched.flopsPerStepMean).toBeGreaterThan(fixed.flopsPerStepMean);
  });

  it("resumes across a look-ahead to exactly the weights of an uninterrupted run", async () => {
    const s = spec([{ ...regrow, supernetFraction: 0.5, supernetMinSteps: 1 }]);
    const straightDir = await mkdtemp(join(tmpdir(), "autoprog-regrow-straight-"));
    const resumedDir = await mkdtemp(join(tmpdir(), "autoprog-regrow-resumed-"));
    const straight = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(straightDir, 20) });
    await runUntilCheckpoint(s, resumedDir, 2); // the next epoch opens stage 1 with a look-ahead
    const resumed = await runTraining(s, { checkpoints: new DirectoryCheckpointStore(resumedDir, 20) });
    const a = await readFile(join(straightDir, "epoch-0008.bin"));
    const b = await readFile(join(resumedDir, "epoch-0008.bin"));
    expect(a.equals(b)).toBe(true);
    expect(resumed.search).toEqual(
      straight.search.map((r) => ({ ...r, searchSeconds: expect.any(Number) as number })),
    );
  });
});
