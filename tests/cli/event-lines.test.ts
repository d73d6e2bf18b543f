import { describe, expect, it } from "vitest";
import { eventLine } from "../../src/cli/event-lines.ts";
import { epochCompleted, searchCompleted, stageGrown, stageStarted } from "../../support/fixtures.ts";

describe("CLI event lines", () => {
  it("names a supernet epoch's architecture as the supernet's largest, not the model's", () => {
    const trained = eventLine({ ...epochCompleted(0), architecture: { depth: 3, side: 16, tokens: 17 } });
    expect(trained).toMatch(/, depth 3 side 16$/);
    const supernet = eventLine({
      ...epochCompleted(0),
      phase: "supernet",
      architecture: { depth: 6, side: 28, tokens: 50 },
    });
    expect(supernet).toMatch(/, supernet up to depth 6 side 28$/);
  });

  it("says when a search ran as a look-ahead on a copy", () => {
    expect(eventLine(searchCompleted(1))).not.toContain("look-ahead");
    expect(eventLine({ ...searchCompleted(1), winnerWeights: "regrow" })).toMatch(
      /^ {2}search done in 0\.5 s \(paired, look-ahead, z 2;/,
    );
  });

  it("numbers epochs and stages from 0, as the API stores them", () => {
    expect(eventLine(epochCompleted(3))).toMatch(/^epoch 3: /);
    expect(eventLine({ ...stageStarted(1, 2, 28), startEpoch: 4, epochs: 4 })).toMatch(
      /^stage 1: epochs 4–7, /,
    );
  });

  it("says grown, shrunk or reshaped by what the change did", () => {
    const grown = stageGrown(1);
    const at = (depth: number, side: number) => ({ depth, side, tokens: 1 });
    expect(eventLine({ ...grown, from: at(1, 14), to: at(2, 28) })).toMatch(/^ {2}grown \(/);
    expect(eventLine({ ...grown, from: at(2, 28), to: at(2, 14) })).toMatch(/^ {2}shrunk \(/);
    expect(eventLine({ ...grown, from: at(1, 28), to: at(2, 14) })).toMatch(/^ {2}reshaped \(/);
  });

  it("says cancelled for a cancelled run, failed for a failure", () => {
    const ended = { type: "run.failed", epoch: 1, step: 4 } as const;
    expect(eventLine({ ...ended, reason: "cancelled", message: "stopped" })).toBe("run cancelled: stopped");
    expect(eventLine({ ...ended, reason: "error", message: "boom" })).toBe("run failed (error): boom");
  });
});
