import { compact } from "../format.ts";
import type { StageBand } from "../run-state.ts";

/**
 * The run's stages as bands on the epoch axis (width ∝ epochs; a column on a phone): depth, side,
 * tokens and forward FLOPs per image, with the growth operator at each boundary. The box keeps
 * its height while empty so the page does not move when the first stage arrives.
 */
export function GrowthTimeline({ stages }: { stages: readonly StageBand[] }) {
  return (
    <section class="panel" aria-labelledby="growth-title">
      <h2 id="growth-title">Growth</h2>
      <ol class="timeline" data-testid="growth-timeline" data-stages={stages.length}>
        {stages.length === 0 && <li class="band empty">no stage yet</li>}
        {stages.map((s) => (
          <li
            key={s.stage}
            class="band"
            data-testid="growth-band"
            style={{ flexGrow: s.epochs }}
            aria-label={`stage ${s.stage}: epochs ${s.startEpoch} to ${s.startEpoch + s.epochs - 1}, depth ${s.depth}, side ${s.side}, ${s.tokens} tokens`}
          >
            {s.operator && <span class="operator">{s.operator}</span>}
            <strong>stage {s.stage}</strong>
            <span>
              depth {s.depth} · {s.side}px · {s.tokens} tok
            </span>
            <span>{compact(s.flopsPerImage)} FLOPs/img</span>
            <span class="muted">
              epochs {s.startEpoch}–{s.startEpoch + s.epochs - 1}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
