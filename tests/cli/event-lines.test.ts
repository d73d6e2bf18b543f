import { describe, expect, it } from "vitest";
import { eventLine } from "../../src/cli/event-lines.ts";
import { epochCompleted, searchCompleted } from "../../support/fixtures.ts";

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
});
