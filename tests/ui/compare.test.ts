import { describe, expect, it } from "vitest";
import type { components } from "../../src/client/index.ts";
import { type ComparedRun, compareChart, epochPositions, metricKeys } from "../../src/ui/compare.ts";
import { toCsv } from "../../src/ui/csv.ts";
import { type Metric, metricsTable } from "../../src/ui/metrics.ts";

type Run = components["schemas"]["Run"];
type Stage = components["schemas"]["Stage"];

/** Per-epoch metrics of a run: its seconds, images/s and one value series. */
function metrics(perEpoch: readonly { seconds: number; rate: number; loss: number }[]): Metric[] {
  return perEpoch.flatMap((e, epoch) => [
    { key: "epoch_seconds", step: (epoch + 1) * 4, epoch, value: e.seconds },
    { key: "images_per_second", step: (epoch + 1) * 4, epoch, value: e.rate },
    { key: "train.loss", step: (epoch + 1) * 4, epoch, value: e.loss },
  ]);
}

const stage = (n: number, startEpoch: number) => ({ stage: n, startEpoch }) as Stage;

function compared(id: string, m: Metric[], stages: Stage[] = []): ComparedRun {
  return {
    run: { id, label: "prog", seed: 0 } as Run,
    experimentName: id,
    metrics: m,
    stages,
    keyDescriptions: new Map(),
  };
}

describe("the compare view's axes", () => {
  const fast = metrics([
    { seconds: 0.5, rate: 200, loss: 2 },
    { seconds: 0.5, rate: 200, loss: 1.5 },
    { seconds: 1, rate: 100, loss: 1 },
  ]);

  it("places each epoch at its index, its summed seconds, or its summed images", () => {
    expect([...epochPositions(fast, "epoch")]).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    expect([...epochPositions(fast, "seconds")]).toEqual([
      [0, 0.5],
      [1, 1],
      [2, 2],
    ]);
    expect([...epochPositions(fast, "images")]).toEqual([
      [0, 100],
      [1, 200],
      [2, 300],
    ]);
  });

  it("leaves out an epoch without the series its axis sums, rather than misplacing it", () => {
    const missing = fast.filter((m) => !(m.key === "epoch_seconds" && m.epoch === 1));
    expect([...epochPositions(missing, "seconds").keys()]).toEqual([0, 2]);
  });

  it("overlays runs on the union of their x values and marks each run's boundaries where its epochs end", () => {
    const slow = metrics([
      { seconds: 1, rate: 100, loss: 2.5 },
      { seconds: 1, rate: 100, loss: 2 },
    ]);
    const chart = compareChart(
      [compared("fast", fast, [stage(0, 0), stage(1, 2)]), compared("slow", slow)],
      "train.loss",
      "seconds",
    );
    expect(chart.x).toEqual([0.5, 1, 2]);
    expect(chart.series.map((s) => s.values)).toEqual([
      [2, 1.5, 1],
      [null, 2.5, 2],
    ]);
    // Stage 1 opens at epoch 2: where epoch 1 ended (1 s in).
    expect(chart.markers).toEqual([{ x: 1, label: "s1", color: chart.series[0]?.color }]);
    expect(compareChart([compared("fast", fast, [stage(1, 2)])], "train.loss", "epoch").markers[0]?.x).toBe(
      1.5,
    );
    expect(metricKeys([compared("a", fast), compared("b", slow)])).toEqual([
      "epoch_seconds",
      "images_per_second",
      "train.loss",
    ]);
  });
});

describe("CSV export", () => {
  it("writes RFC 4180: quoted fields where needed, empty for missing values, CRLF lines", () => {
    expect(
      toCsv(
        ["a", "b,c"],
        [
          ['x"y', null],
          [1.5, Number.NaN],
          ["two\nlines", 0],
        ],
      ),
    ).toBe('a,"b,c"\r\n"x""y",\r\n1.5,\r\n"two\nlines",0\r\n');
  });

  it("lays a run's metrics out one row per step, one column per key", () => {
    const table = metricsTable([
      { key: "b", step: 8, epoch: 1, value: 3 },
      { key: "a", step: 4, epoch: 0, value: 1 },
      { key: "b", step: 4, epoch: 0, value: 2 },
    ]);
    expect(table).toEqual({
      header: ["step", "epoch", "a", "b"],
      rows: [
        [4, 0, 1, 2],
        [8, 1, null, 3],
      ],
    });
  });
});
