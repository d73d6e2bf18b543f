import { describe, expect, it } from "vitest";
import {
  checkpointDataFile,
  checkpointMetaFile,
  checkpointObjectKey,
  checkpointStem,
  parseCheckpointFile,
  runCheckpointsPath,
} from "../../src/core/checkpoint-layout.ts";

describe("the checkpoint layout", () => {
  it("names an epoch's files with a zero-padded stem", () => {
    expect(checkpointStem(7)).toBe("epoch-0007");
    expect(checkpointMetaFile(12)).toBe("epoch-0012.json");
    expect(checkpointDataFile(12)).toBe("epoch-0012.bin");
    expect(checkpointStem(12345)).toBe("epoch-12345");
  });

  it("puts a run's checkpoints under runs/<id>/checkpoints, in a folder and in a bucket", () => {
    expect(runCheckpointsPath("run_1")).toBe("runs/run_1/checkpoints");
    expect(checkpointObjectKey("run_1", 3)).toBe("runs/run_1/checkpoints/epoch-0003.apc");
  });

  it("reads back the epoch and part of its own names, and nothing else", () => {
    expect(parseCheckpointFile(checkpointMetaFile(42))).toEqual({ epoch: 42, part: "meta" });
    expect(parseCheckpointFile(checkpointDataFile(42))).toEqual({ epoch: 42, part: "data" });
    for (const other of ["epoch-0001.json.123.ab.tmp", "epoch-.json", "model.json", "epoch-0001.apc"]) {
      expect(parseCheckpointFile(other)).toBeNull();
    }
  });
});
