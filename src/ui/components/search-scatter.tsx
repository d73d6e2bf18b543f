import { compact, fixed } from "../format.ts";
import type { SearchView } from "../run-state.ts";

const W = 320;
const H = 200;
const PAD = { left: 48, right: 12, top: 12, bottom: 34 };

/** The ends of an axis with a little room; one value gets a span around it. */
function extent(values: readonly number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = hi > lo ? (hi - lo) * 0.08 : Math.abs(lo) * 0.1 || 1;
  return [lo - pad, hi + pad];
}

/**
 * One stage's search: every candidate's cost (x) against its measured loss (y), the chosen one
 * ringed, ties (paired rule) drawn hollow, and the score's exponent `w` (S = L·t^w). SVG with a
 * fixed view box: the size is known before the data, and each point has a text alternative.
 */
export function SearchScatter({ search }: { search: SearchView }) {
  const costs = search.candidates.map((c) => c.cost);
  const losses = search.candidates.map((c) => c.loss);
  const [x0, x1] = extent(costs);
  const [y0, y1] = extent(losses);
  const px = (v: number) => PAD.left + ((v - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const py = (v: number) => H - PAD.bottom - ((v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const chosen = search.candidates.find((c) => c.chosen);
  const title = `Stage ${search.stage} search`;
  return (
    <figure class="scatter" data-testid="search-scatter" data-stage={search.stage}>
      <figcaption>
        {title}: chose depth {search.winner.depth}, side {search.winner.side} · w = {fixed(search.w)} ·{" "}
        {search.selection} rule · cost = {search.cost}
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}: loss against ${search.cost} cost of ${search.candidates.length} candidates`}
      >
        <line class="axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
        <line class="axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
        <text class="tick" x={PAD.left} y={H - PAD.bottom + 14} text-anchor="start">
          {compact(x0)}
        </text>
        <text class="tick" x={W - PAD.right} y={H - PAD.bottom + 14} text-anchor="end">
          {compact(x1)}
        </text>
        <text class="tick" x={(W + PAD.left) / 2} y={H - 4} text-anchor="middle">
          cost ({search.cost === "time" ? "s/step" : "FLOPs"})
        </text>
        <text class="tick" x={PAD.left - 4} y={H - PAD.bottom} text-anchor="end">
          {fixed(y0, 2)}
        </text>
        <text class="tick" x={PAD.left - 4} y={PAD.top + 8} text-anchor="end">
          {fixed(y1, 2)}
        </text>
        <text
          class="tick"
          x={12}
          y={(H - PAD.bottom) / 2}
          transform={`rotate(-90 12 ${(H - PAD.bottom) / 2})`}
        >
          loss
        </text>
        {search.candidates.map((c) => (
          <circle
            key={`${c.depth}x${c.side}`}
            class={c.chosen ? "point chosen" : c.tied ? "point tied" : "point"}
            data-chosen={c.chosen ? "true" : undefined}
            cx={px(c.cost)}
            cy={py(c.loss)}
            r={c.chosen ? 7 : 5}
          >
            <title>
              depth {c.depth}, side {c.side} ({c.tokens} tokens): loss {fixed(c.loss)}, cost {compact(c.cost)}
              , score {fixed(c.score)}
              {c.chosen ? " — chosen" : ""}
            </title>
          </circle>
        ))}
      </svg>
      {chosen && (
        <p class="muted">
          chosen: depth {chosen.depth}, side {chosen.side}, loss {fixed(chosen.loss)}, score{" "}
          {fixed(chosen.score)}
        </p>
      )}
    </figure>
  );
}
