import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventLine } from "../../src/cli/event-lines.ts";
import {
  FAILURE_REASONS,
  TRAINING_EVENT_TYPES,
  type TrainingEvent,
  type TrainingEventType,
} from "../../src/core/events.ts";
import {
  EMA_METRIC_PREFIX,
  epochMetrics,
  METRIC_KEYS,
  metricKeyDescription,
} from "../../src/core/metric-keys.ts";
import { changeWord, checkpointLine, speedupRatio } from "../../src/core/vocabulary.ts";
import { WEBHOOK_EVENT_TYPES, webhookOfEvent } from "../../src/core/webhook-events.ts";
import { speedup } from "../../src/ui/format.ts";
import { describe as dashboardLine } from "../../src/ui/run-state.ts";
import {
  checkpointSaved,
  epochCompleted,
  runCompleted,
  runFailed,
  runStarted,
  searchCompleted,
  searchStarted,
  stageGrown,
  stageStarted,
} from "../../support/fixtures.ts";

/**
 * Issue 26: one vocabulary (src/core/vocabulary.ts). Walks every training event type, every
 * webhook type, every CLI event line and dashboard log label, and the sources of the API, the
 * database, the CLI, the dashboard and the docs for the chosen words.
 */

/** One event of every type, with a run.failed and an attempt.failed of every reason. */
const EXAMPLES: Record<TrainingEventType, readonly TrainingEvent[]> = {
  "run.started": [runStarted()],
  "stage.started": [stageStarted(1, 2, 28)],
  "stage.grown": [stageGrown(1)],
  "stage.search.started": [searchStarted(0)],
  "stage.search.completed": [searchCompleted(0)],
  "epoch.completed": [epochCompleted(3)],
  "checkpoint.saved": [checkpointSaved(4)],
  "run.completed": [runCompleted()],
  "run.failed": FAILURE_REASONS.map((reason) => runFailed(reason, "why")),
  "attempt.failed": FAILURE_REASONS.map((reason) => ({
    ...runFailed(reason, "why"),
    type: "attempt.failed" as const,
  })),
  "run.paused": [
    { type: "run.paused", epoch: 3, step: 120 },
    { type: "run.paused", epoch: null, step: null },
  ],
  "run.resumed": [{ type: "run.resumed" }],
};

/** Every line people read for an event: the CLI's and the dashboard's. */
const linesOf = (event: TrainingEvent) =>
  [eventLine(event), dashboardLine(event)].filter((l) => l !== undefined);

/** The American spelling, which the project does not use (except where the rename is explained). */
const AMERICAN = /cancel(?:ed|ing)\b/i;

describe("the vocabulary", () => {
  it("has an example of every training event type", () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual([...TRAINING_EVENT_TYPES].sort());
  });

  it("spells cancelled one way in every event type, webhook type and line", () => {
    for (const type of [...TRAINING_EVENT_TYPES, ...WEBHOOK_EVENT_TYPES]) expect(type).not.toMatch(AMERICAN);
    expect(WEBHOOK_EVENT_TYPES).toContain("run.cancelled");
    for (const event of Object.values(EXAMPLES).flat()) {
      for (const line of linesOf(event)) expect(line, event.type).not.toMatch(AMERICAN);
      const webhook = webhookOfEvent(event);
      if (webhook) expect(webhook.type).not.toMatch(AMERICAN);
    }
  });

  it("calls a cancelled run cancelled, never failed", () => {
    const cancelled = runFailed("cancelled", "stopped by a user");
    expect(webhookOfEvent(cancelled)?.type).toBe("run.cancelled");
    for (const line of linesOf(cancelled)) {
      expect(line).toContain("cancelled");
      expect(line).not.toMatch(/fail/);
    }
    for (const line of linesOf(runFailed("error", "boom"))) expect(line).toMatch(/failed \(error\)/);
  });

  it("numbers epochs as the API stores them, from 0, in the CLI and the dashboard alike", () => {
    // epoch.completed's `epoch` 3 is the fourth epoch; both say "epoch 3".
    for (const line of linesOf(epochCompleted(3))) expect(line).toMatch(/^epoch 3\b/);
    // A checkpoint's `epoch` counts the epochs it covers: 4 covers epochs 0–3.
    expect(dashboardLine(checkpointSaved(4))).toBe("checkpoint after epoch 3");
    expect(checkpointLine(4)).toBe("checkpoint after epoch 3");
    // A stage's range is inclusive and 0-based in both.
    const stage = { ...stageStarted(1, 2, 28), startEpoch: 4, epochs: 4 };
    for (const line of linesOf(stage)) expect(line).toMatch(/^stage 1: epochs 4–7, /);
  });

  it("says grown only for a growth", () => {
    const at = (depth: number, side: number) => ({ depth, side, tokens: 1 });
    const cases = [
      [at(1, 14), at(2, 28), "grown"],
      [at(2, 28), at(2, 28), "unchanged"],
      [at(2, 28), at(1, 28), "shrunk"],
      [at(1, 28), at(2, 14), "reshaped"],
    ] as const;
    for (const [from, to, word] of cases) {
      expect(changeWord(from, to)).toBe(word);
      for (const line of linesOf({ ...stageGrown(1), from, to })) {
        expect(line).toContain(word);
        if (word !== "grown") expect(line).not.toContain("grown");
      }
    }
  });

  it("shows speed-ups as ratios: the baseline reads 1.00×, the stored form is ratio − 1", () => {
    expect(speedupRatio(0)).toBe("1.00×");
    expect(speedupRatio(0.297)).toBe("1.30×");
    expect(speedupRatio(null)).toBe("–");
    expect(speedup).toBe(speedupRatio);
  });

  it("names every metric an epoch stores by the one scheme", () => {
    const keys = Object.keys(epochMetrics(epochCompleted(0)));
    expect(keys.length).toBe(Object.keys(METRIC_KEYS).length + 2);
    for (const key of keys) {
      expect(key).toMatch(/^[a-z][a-z0-9_]*(\.[a-z0-9_-]+)*$/);
      expect(metricKeyDescription(key), key).toBeDefined();
    }
    expect(keys.filter((k) => k.startsWith(EMA_METRIC_PREFIX)).sort()).toEqual([
      "test.ema.fast",
      "test.ema.slow",
    ]);
    for (const key of ["trainLoss", "train_loss", "epochSeconds"])
      expect(metricKeyDescription(key)).toBeUndefined();
  });
});

/** The files whose words people read or code against. */
const SCANNED = ["src", "routes", "db", "docs", "openapi", "README.md"];
/** Where the old spelling is quoted on purpose: the migration that renames it and the docs that explain it. */
const EXPLAINS_THE_RENAME = new Set([
  join("src", "core", "webhook-events.ts"),
  join("db", "migrations", "0006_tags_notes_cancelled.sql"),
  join("docs", "service.md"),
]);

async function* filesUnder(path: string): AsyncGenerator<string> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => null);
  if (entries === null) {
    yield path;
    return;
  }
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      // Built output (the dashboard bundle holds third-party code) and snapshots are not ours.
      if (entry.name === "dist" || entry.name === "node_modules" || entry.name === "meta") continue;
      yield* filesUnder(child);
    } else if (/\.(ts|tsx|mjs|md|sql|json|css)$/.test(entry.name)) yield child;
  }
}

describe("the sources", () => {
  it("spell cancelled one way, except where the rename is explained", async () => {
    const offending: string[] = [];
    for (const root of SCANNED) {
      for await (const file of filesUnder(root)) {
        const lines = (await readFile(file, "utf8")).split("\n");
        lines.forEach((line, i) => {
          if (!AMERICAN.test(line)) return;
          // Only the old webhook type's name, quoted where the rename is explained.
          if (EXPLAINS_THE_RENAME.has(file) && !AMERICAN.test(line.replaceAll("run.canceled", ""))) return;
          offending.push(`${file}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offending).toEqual([]);
  });

  it("number epochs and stages from 0 in the CLI and the dashboard (no `+ 1` on an index shown)", async () => {
    const offending: string[] = [];
    for (const root of ["src/cli", "src/ui"]) {
      for await (const file of filesUnder(root)) {
        const text = await readFile(file, "utf8");
        // Inside a template literal: text shown to people (a count such as `epoch + 1` done is fine).
        for (const match of text.matchAll(/\$\{[^}]*(?:epoch|stage|startEpoch) \+ 1\b[^}]*\}/gi)) {
          offending.push(`${file}: ${match[0]}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });
});
