import { sql } from "drizzle-orm";
import type { ArchitectureReport } from "../src/core/events.ts";
import type { Db } from "./database.ts";
import { searchCandidates } from "./schema.ts";

/** A candidate as the two search events list it: the architecture, scored or not yet. */
export type CandidateReport = ArchitectureReport & {
  readonly loss?: number;
  readonly cost?: number;
  readonly score?: number;
  readonly chosen?: boolean;
};

/**
 * A stage's search candidates, by index. `stage.search.started` lists the architectures and
 * `stage.search.completed` the same list scored; the later values win.
 */
export function upsertCandidates(
  db: Db,
  runId: string,
  stage: number,
  candidates: readonly CandidateReport[],
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

function columnsOf(c: CandidateReport) {
  return {
    depth: c.depth,
    side: c.side,
    tokens: c.tokens,
    loss: c.loss ?? null,
    cost: c.cost ?? null,
    score: c.score ?? null,
    selected: c.chosen ?? null,
    payload: { ...c },
  };
}
