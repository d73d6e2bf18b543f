import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimRun } from "../../db/queue.ts";
import { getRun, metricsOfRun } from "../../db/runs.ts";
import { directoryCheckpointStore } from "../../src/checkpoints/directory-store.ts";
import { packCheckpoint, unpackCheckpoint } from "../../src/checkpoints/wire.ts";
import { runCheckpointsPath } from "../../src/core/checkpoint-layout.ts";
import { type ExperimentSpec, parseSpec } from "../../src/core/spec.ts";
import { DirectoryCheckpointStore } from "../../src/train/checkpoint.ts";
import { runTraining } from "../../src/train/run.ts";
import { expectProblem, read, type TestApp, testApp, WORKER } from "./helpers.ts";

/**
 * Issue 25, part 4: a fork from stage 2 of a real `autoprog` run. The parent trains through the
 * trainer with its events stored as a dispatcher stores them; the fork is made over the API,
 * trained from the checkpoint the API copied for it, and must share the parent's metrics rows
 * of the first two stages exactly, then follow its own schedule.
 */

const input = {
  name: "fork-me",
  dataset: { name: "mnist", trainLimit: 64, testLimit: 32 },
  model: { variant: "micro", patchSize: 7, width: 16, depth: 4, heads: 2, mlpRatio: 2 },
  training: { epochs: 8, batchSize: 32, warmupEpochs: 0, evalBatchSize: 32, evalEvery: 2 },
  arms: [{ arm: "autoprog", supernetEpochs: 1, search: { cost: "flops", subsetSize: 32 } }],
  backend: "wasm",
} as const;
/** The fork's own schedule from stage 2 on (stages 0 and 1 are the parent's). */
const forkArm = {
  arm: "fixed",
  label: "fixed-from-2",
  schedule: [
    { depth: 1, side: 14 },
    { depth: 2, side: 14 },
    { depth: 3, side: 21 },
    { depth: 3, side: 21 },
  ],
} as const;

let t: TestApp;
let dir: string;
let parentId: string;
let experimentId: string;

/** Trains a claimed run as the dispatcher would: checkpoints in its folder, events through the sink. */
async function train(runId: string, spec: ExperimentSpec, arm: string) {
  const claimed = await claimRun(t.db, { owner: "test", now: Date.now(), leaseMs: 600_000 });
  expect(claimed?.id).toBe(runId);
  const pending: Promise<unknown>[] = [];
  await runTraining(spec, {
    arm,
    checkpoints: new DirectoryCheckpointStore(join(dir, runCheckpointsPath(runId))),
    onEvent: (event) => pending.push(t.sink.record(runId, 1, event, null)),
  });
  await Promise.all(pending);
  await t.sink.drained(runId);
}

/** Every stored value of the run, ordered by (key, step): the repository's own read. */
const metricsOf = (runId: string) => metricsOfRun(t.db, runId, { limit: 100_000 });

const depthsByEpoch = async (runId: string) =>
  (await metricsOfRun(t.db, runId, { key: "depth", limit: 100_000 })).map((m) => m.value);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprog-fork-"));
  t = testApp({ workers: { checkpoints: directoryCheckpointStore(join(dir, "runs")) } });
  const created = await read<{ id: string; runs: { id: string }[] }>(t.post("/v1/experiments", input));
  experimentId = created.id;
  parentId = created.runs[0]?.id as string;
  await train(parentId, parseSpec(input), "autoprog");
}, 300_000);

afterAll(async () => {
  t.close();
  await rm(dir, { recursive: true, force: true });
});

describe("POST /v1/runs/{id}/fork", () => {
  it("keeps the checkpoint that closes each stage, so stage 2's start is there to fork from", async () => {
    const files = await readdir(join(dir, runCheckpointsPath(parentId)));
    // Stages of 2 epochs: checkpoints 2, 4 and 6 close stages 0–2; 7 and 8 are the newest two.
    expect(files.filter((f) => f.endsWith(".json")).sort()).toEqual([
      "epoch-0002.json",
      "epoch-0004.json",
      "epoch-0006.json",
      "epoch-0007.json",
      "epoch-0008.json",
    ]);
  });

  it("forks from stage 2: shares the parent's first stages exactly, then follows its own schedule", async () => {
    const response = await t.post(`/v1/runs/${parentId}/fork`, { fromStage: 2, arm: forkArm });
    const fork = await read<{
      id: string;
      label: string;
      forkOf: unknown;
      epochsCompleted: number;
      checkpointEpoch: number;
    }>(response);
    expect(response.headers.get("location")).toBe(`/v1/runs/${fork.id}`);
    expect(fork).toMatchObject({
      label: "fixed-from-2",
      forkOf: { runId: parentId, epoch: 4 },
      epochsCompleted: 4,
      checkpointEpoch: 4,
    });
    const row = await getRun(t.db, fork.id);
    if (!row?.spec) throw new Error("the fork has no spec of its own");
    await train(fork.id, parseSpec(row.spec), "fixed-from-2");
    expect((await getRun(t.db, fork.id))?.state).toBe("completed");

    const parentRows = await metricsOf(parentId);
    const forkRows = await metricsOf(fork.id);
    const beforeFork = (rows: typeof parentRows) => rows.filter((m) => (m.epoch ?? 0) < 4);
    expect(beforeFork(parentRows).length).toBeGreaterThan(0);
    expect(beforeFork(forkRows)).toEqual(beforeFork(parentRows));
    // Then its own schedule: depth 3 in stages 2 and 3, where the parent grew to the full model.
    const parentDepths = await depthsByEpoch(parentId);
    expect(await depthsByEpoch(fork.id)).toEqual([...parentDepths.slice(0, 4), 3, 3, 3, 3]);
    expect(parentDepths.at(-1)).toBe(4);
    const stages = await read<{ items: { stage: number; depth: number; side: number }[] }>(
      t.app.request(`/v1/runs/${fork.id}/stages`),
    );
    const parentStages = await read<{ items: { stage: number; depth: number; side: number }[] }>(
      t.app.request(`/v1/runs/${parentId}/stages`),
    );
    expect(stages.items.slice(0, 2)).toEqual(parentStages.items.slice(0, 2));
    expect(stages.items.slice(2).map((s) => [s.depth, s.side])).toEqual([
      [3, 21],
      [3, 21],
    ]);

    const report = await read<{ arms: { arm: string; completed: number; forkOf: unknown }[] }>(
      t.app.request(`/v1/experiments/${experimentId}/report`),
    );
    expect(report.arms.map((a) => [a.arm, a.completed, a.forkOf])).toEqual([
      ["autoprog", 1, null],
      ["fixed-from-2", 1, { arm: "autoprog", runId: parentId, epoch: 4 }],
    ]);
  });

  it("names the field of a bad request, refuses an epoch it does not hold, and scopes to the project", async () => {
    const bad = await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromStage: 9 }),
      422,
      "validation_failed",
    );
    expect(bad.errors).toMatchObject([{ location: "body", path: "fromStage" }]);
    const both = await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromStage: 1, fromEpoch: 2 }),
      422,
      "validation_failed",
    );
    expect(both.errors).toMatchObject([{ path: "fromEpoch" }]);
    const training = await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromEpoch: 4, training: { lr: -1 } }),
      422,
      "validation_failed",
    );
    expect((training.errors as unknown[])[0]).toMatchObject({ location: "body", path: "training.lr" });
    const taken = await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromEpoch: 4, arm: { ...forkArm } }),
      422,
      "validation_failed",
    );
    expect(taken.errors).toMatchObject([{ path: "arm.label" }]);
    await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromEpoch: 3 }),
      409,
      "checkpoint_not_held",
    );
    await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromEpoch: 8 }),
      422,
      "validation_failed",
    );
    // A pause inside epoch 4 replaced the checkpoint after 4 epochs: no fork starts from it.
    const store = directoryCheckpointStore(join(dir, "runs"));
    const held = await store.get(parentId, 4);
    if (!held) throw new Error("the parent holds no checkpoint after 4 epochs");
    const parts = unpackCheckpoint(held);
    const meta = JSON.parse(new TextDecoder().decode(parts.meta)) as Record<string, unknown>;
    const paused = { ...meta, epochProgress: { steps: 1 } };
    await store.put(
      parentId,
      4,
      packCheckpoint({ ...parts, meta: new TextEncoder().encode(JSON.stringify(paused)) }),
    );
    const pausedProblem = await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromEpoch: 4 }),
      409,
      "checkpoint_not_held",
    );
    expect(pausedProblem.detail).toContain("replaced by its pause");
    await store.put(parentId, 4, held);
    const other = await t.keyFor("elsewhere", "member");
    await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromEpoch: 4 }, other.headers),
      404,
      "not_found",
    );
    await expectProblem(
      await t.post(`/v1/runs/${parentId}/fork`, { fromEpoch: 4 }, WORKER),
      403,
      "forbidden",
    );
  });
});
