import type { components } from "../../client/index.ts";
import { afterEpochs } from "../../core/vocabulary.ts";
import { toCsv } from "../csv.ts";
import { percent, seconds, speedup } from "../format.ts";
import { Link } from "./link.tsx";

type Report = components["schemas"]["ExperimentReport"];

/** A stored speed-up (ratio − 1, src/core/vocabulary.ts) as the ratio people read: 0.3 → 1.3. */
const ratio = (stored: number | null) => (stored === null ? null : stored + 1);

/**
 * The report as CSV: one row per arm, fractions and seconds as the API stores them, speed-ups as
 * ratios (1.3 where the table shows 1.30×), the seeds' runs and the schedule as
 * `depth×side@epoch` lists.
 */
export function reportCsv(report: Report): string {
  const header = [
    "arm",
    "kind",
    "runs",
    "completed",
    "top1",
    "best_top1",
    "wall_seconds",
    "train_seconds",
    "train_search_seconds",
    "wall_speedup_ratio",
    "train_search_speedup_ratio",
    "flops_speedup_ratio",
    "search_share",
    "runs_by_seed",
    "schedule",
  ];
  const rows = report.arms.map((arm) => [
    arm.arm,
    arm.kind,
    arm.runs,
    arm.completed,
    arm.top1,
    arm.bestTop1,
    arm.wallSeconds,
    arm.trainSeconds,
    arm.trainSearchSeconds,
    ratio(arm.wallSpeedup),
    ratio(arm.trainSearchSpeedup),
    ratio(arm.flopsSpeedup),
    arm.searchShare,
    arm.seeds.map((s) => `${s.seed}:${s.runId}:${s.state}`).join(" "),
    arm.schedule.map((s) => `${s.depth ?? "?"}x${s.side ?? "?"}@${s.startEpoch}`).join(" "),
  ]);
  return toCsv(header, rows);
}

/**
 * The paper's Table 3 for one experiment: per arm, top-1 and best top-1 (means over completed
 * seeds), wall seconds, the speed-ups against `original` (wall, the paper's train + search T,
 * and FLOPs), the share of time spent scoring candidates, and the schedule found.
 */
export function ReportTable({ report }: { report: Report }) {
  return (
    <div class="table-wrap" data-testid="report-wrap">
      <table class="report" data-testid="report-table" aria-label={`Report of ${report.name}`}>
        <caption>
          Speed-ups against {report.baseline ?? "the full model's FLOPs (no completed original arm)"}
          {report.finished ? "" : " · still training"}
        </caption>
        <thead>
          <tr>
            <th scope="col">Arm</th>
            <th scope="col">Runs</th>
            <th scope="col">Top-1</th>
            <th scope="col">Best</th>
            <th scope="col">Wall</th>
            <th scope="col">Wall speed-up</th>
            <th scope="col">Train+search speed-up</th>
            <th scope="col">FLOPs speed-up</th>
            <th scope="col">Search share</th>
            <th scope="col">Schedule (depth × side from epoch)</th>
          </tr>
        </thead>
        <tbody>
          {report.arms.map((arm) => (
            <tr key={arm.arm} data-testid="report-row" data-arm={arm.arm}>
              <th scope="row">
                {arm.arm}
                {arm.kind !== arm.arm && <span class="muted"> ({arm.kind})</span>}
                {arm.forkOf && (
                  <span class="muted" data-testid="fork-of">
                    {" "}
                    fork of {arm.forkOf.arm} {afterEpochs(arm.forkOf.epoch)}
                  </span>
                )}
              </th>
              <td class="seeds">
                {arm.completed}/{arm.runs}{" "}
                {arm.seeds.map((s) => (
                  <Link
                    key={s.runId}
                    to={{ page: "run", id: s.runId }}
                    label={`run of ${arm.arm} seed ${s.seed}`}
                  >
                    <span class={`chip state-${s.state}`}>seed {s.seed}</span>
                  </Link>
                ))}
              </td>
              <td data-col="top1">{percent(arm.top1)}</td>
              <td>{percent(arm.bestTop1)}</td>
              <td>{seconds(arm.wallSeconds)}</td>
              <td>{speedup(arm.wallSpeedup)}</td>
              <td>{speedup(arm.trainSearchSpeedup)}</td>
              <td>{speedup(arm.flopsSpeedup)}</td>
              <td>{percent(arm.searchShare, 1)}</td>
              <td class="schedule">
                {arm.schedule.map((s) => (
                  <span key={s.stage} class="chip">
                    {s.depth ?? "?"} × {s.side ?? "?"} @{s.startEpoch}
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
