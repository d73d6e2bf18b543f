import { sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { searchCandidates } from "../../db/schema.ts";

/**
 * A stage's search candidates, by index. `stage.search.started` lists the architectures and
 * `stage.search.completed` the same list scored; the later values win. Fields the table does not
 * name stay in `payload`.
 */
export function upsertCandidates(
  db: Db,
  runId: string,
  stage: number,
  candidates: readonly Readonly<Record<string, unknown>>[],
) {
  return db
    .insert(searchCandidates)
    .values(candidates.map((c, idx) => ({ runId, stage, idx, ...columnsOf(c) })))
    .onConflictDoUpdate({
      target: [searchCandidates.runId, searchCandidates.stage, searchCandidates.idx],
      set: {
        depth: sql`excluded.depth`,
        side: sql`excluded.side`,
        tokens: sql`excluded.tokens`,
        loss: sql`excluded.loss`,
        cost: sql`excluded.cost`,
        score: sql`excluded.score`,
        selected: sql`excluded.selected`,
        payload: sql`excluded.payload`,
      },
    })
    .returning({ idx: searchCandidates.idx });
}

const numberOr = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : null);

/** The fields of `ScoredCandidate` (src/core/search-score.ts); an unscored one has only the architecture. */
function columnsOf(c: Readonly<Record<string, unknown>>) {
  return {
    depth: numberOr(c.depth),
    side: numberOr(c.side),
    tokens: numberOr(c.tokens),
    loss: numberOr(c.loss),
    cost: numberOr(c.cost),
    score: numberOr(c.score),
    selected: typeof c.chosen === "boolean" ? c.chosen : null,
    payload: { ...c },
  };
}
