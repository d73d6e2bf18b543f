import { useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import { errorText } from "../load.ts";
import { hrefOf, navigate } from "../router.ts";
import type { StageBand } from "../run-state.ts";
import { useSession } from "../session.ts";

/**
 * Fork the run (POST /v1/runs/{id}/fork): a new run of its experiment from the checkpoint where
 * a stage began, with the run's arm or another given as JSON; opens the fork's page.
 */
export function ForkPanel({ runId, stages }: { runId: string; stages: readonly StageBand[] }) {
  const { client } = useSession();
  const later = stages.filter((s) => s.stage > 0);
  const [stage, setStage] = useState<number | null>(null);
  const [arm, setArm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const chosen = stage ?? later[0]?.stage ?? null;
  const fork = async () => {
    setError(null);
    if (chosen === null) return;
    try {
      const body = { fromStage: chosen, ...(arm.trim() ? { arm: JSON.parse(arm) } : {}) };
      const created = unwrap(
        await client.POST("/v1/runs/{id}/fork", { params: { path: { id: runId } }, body }),
      );
      navigate(hrefOf({ page: "run", id: created.id }));
    } catch (caught) {
      setError(caught instanceof SyntaxError ? `the arm is not JSON: ${caught.message}` : errorText(caught));
    }
  };
  return (
    <section class="panel" aria-labelledby="fork-title">
      <h2 id="fork-title">Fork</h2>
      <p class="muted">
        A new run of this experiment that starts where a stage of this run began (its metrics until then are
        this run's) and trains its own arm from there: the same arm unless you give one, e.g.{" "}
        <code>{'{"arm": "prog", "label": "prog-from-2"}'}</code>.
      </p>
      <div class="title-row">
        <label>
          From stage{" "}
          <select
            value={chosen ?? ""}
            onChange={(e) => setStage(Number((e.target as HTMLSelectElement).value))}
            data-testid="fork-stage"
          >
            {later.map((s) => (
              <option key={s.stage} value={s.stage}>
                {s.stage} (epoch {s.startEpoch})
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void fork()} disabled={chosen === null} data-testid="fork-run">
          Fork run
        </button>
      </div>
      <textarea
        rows={2}
        placeholder="arm (JSON, optional)"
        value={arm}
        onInput={(e) => setArm((e.target as HTMLTextAreaElement).value)}
        aria-label="The fork's arm as JSON"
      />
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
