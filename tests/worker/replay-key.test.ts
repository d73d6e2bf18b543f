import { describe, expect, it } from "vitest";
import { ReplayKeys } from "../../src/worker/replay-key.ts";

const keysOf = (events: { type: string; [k: string]: unknown }[]) => {
  const keys = new ReplayKeys();
  return events.map((e) => keys.next(e));
};

describe("ReplayKeys", () => {
  it("names each event by its type, the epoch it belongs to and its rank there", () => {
    expect(
      keysOf([
        { type: "run.started", startEpoch: 0 },
        { type: "stage.started", stage: 0 },
        { type: "epoch.completed", epoch: 0 },
        { type: "checkpoint.saved", epoch: 1 },
        { type: "stage.grown", stage: 1 },
        { type: "stage.started", stage: 1 },
        { type: "epoch.completed", epoch: 1 },
        { type: "run.completed" },
      ]),
    ).toEqual([
      null,
      "stage.started@0#0",
      "epoch.completed@0#0",
      "checkpoint.saved@1#0",
      "stage.grown@1#0",
      "stage.started@1#0",
      "epoch.completed@1#0",
      "run.completed@2#0",
    ]);
  });

  it("gives a resumed attempt the keys the interrupted one used from the checkpoint on", () => {
    const first = keysOf([
      { type: "run.started", startEpoch: 0 },
      { type: "epoch.completed", epoch: 0 },
      { type: "checkpoint.saved", epoch: 1 },
      { type: "epoch.completed", epoch: 1 },
    ]);
    const resumed = keysOf([
      { type: "run.started", startEpoch: 1 },
      { type: "epoch.completed", epoch: 1 },
      { type: "checkpoint.saved", epoch: 2 },
    ]);
    expect(resumed[1]).toBe(first[3]);
    expect(first).not.toContain(resumed[2]);
  });

  it("never keys a start, a failure or a pause: each is a new fact", () => {
    expect(keysOf([{ type: "run.failed" }, { type: "run.failed" }])).toEqual([null, null]);
    expect(keysOf([{ type: "run.paused", epoch: 1, step: 12 }])).toEqual([null]);
  });

  it("keys a checkpoint by its step too: a second pause in one epoch is not taken for a replay", () => {
    // Paused inside epoch 1 (step 12), resumed there, paused again in epoch 1 (step 14).
    const first = keysOf([
      { type: "run.started", startEpoch: 0 },
      { type: "epoch.completed", epoch: 0 },
      { type: "checkpoint.saved", epoch: 1, step: 8 },
      { type: "checkpoint.saved", epoch: 1, step: 12 },
    ]);
    const second = keysOf([
      { type: "run.started", startEpoch: 1 },
      { type: "checkpoint.saved", epoch: 1, step: 14 },
    ]);
    expect(first.slice(2)).toEqual(["checkpoint.saved@1:8", "checkpoint.saved@1:12"]);
    expect(first).not.toContain(second[1]);
    // A replay of the same checkpoint (a crash after it) gets its key again.
    expect(
      keysOf([
        { type: "run.started", startEpoch: 1 },
        { type: "checkpoint.saved", epoch: 1, step: 12 },
      ])[1],
    ).toBe(first[3]);
  });

  it("counts repeats of an unknown type within one epoch", () => {
    expect(
      keysOf([
        { type: "x.tick" },
        { type: "x.tick" },
        { type: "epoch.completed", epoch: 0 },
        { type: "x.tick" },
      ]),
    ).toEqual(["x.tick@0#0", "x.tick@0#1", "epoch.completed@0#0", "x.tick@1#0"]);
  });
});
