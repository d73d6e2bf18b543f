import { RUN_STATES } from "../filters.ts";

/** Run counts by state, as small labelled chips (zero counts left out). */
export function StateCounts({ counts }: { counts: Readonly<Record<string, number>> }) {
  const states = RUN_STATES.filter((s) => (counts[s] ?? 0) > 0);
  return (
    <span class="counts">
      {states.map((s) => (
        <span key={s} class={`chip state-${s}`}>
          {counts[s]} {s}
        </span>
      ))}
    </span>
  );
}
