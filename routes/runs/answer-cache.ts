import type { RunChangeFeed } from "../../db/database.ts";

interface KeptAnswer {
  readonly projectId: string;
  readonly body: string;
}

/**
 * GET /v1/runs/{id}'s answers kept as JSON text until their run changes: the most frequent
 * request (dashboards and SDKs poll it) then reads no row and serialises nothing. Exact, not
 * timed: the feed drops a run's answer when any column it shows is written. An answer is kept
 * with its run's project, so a key of another project still gets the 404 the read gives it.
 * At most `capacity` answers; the oldest kept goes first.
 */
export class RunAnswerCache {
  readonly #answers = new Map<string, KeptAnswer>();
  /** Counts changes: an answer read before a change must not be kept after it. */
  #changes = 0;

  constructor(
    private readonly capacity: number,
    changes: RunChangeFeed,
  ) {
    changes.listen((runId) => {
      this.#changes++;
      if (runId === null) this.#answers.clear();
      else this.#answers.delete(runId);
    });
  }

  /** The run's answer, when one is kept and the run is the project's. */
  get(runId: string, projectId: string): string | undefined {
    const kept = this.#answers.get(runId);
    return kept?.projectId === projectId ? kept.body : undefined;
  }

  /** Taken before reading a run: `keep` refuses the answer if anything changed since. */
  mark(): number {
    return this.#changes;
  }

  /** Keeps the answer read after `mark`, unless a run changed in between (the read may predate it). */
  keep(runId: string, projectId: string, body: string, mark: number): void {
    if (mark !== this.#changes || this.capacity === 0) return;
    if (this.#answers.size >= this.capacity) {
      const oldest = this.#answers.keys().next();
      if (!oldest.done) this.#answers.delete(oldest.value);
    }
    this.#answers.set(runId, { projectId, body });
  }

  get size(): number {
    return this.#answers.size;
  }
}
