import type { components } from "../../client/index.ts";

type Experiment = components["schemas"]["Experiment"];
type Run = components["schemas"]["Run"];

/** An arm entry of a stored (normalised) spec, as far as this panel reads it. */
interface SpecArm {
  readonly arm?: unknown;
  readonly label?: unknown;
}

/**
 * The spec this run trained: the experiment's normalised spec with `arms` narrowed to the run's
 * arm and `seeds` to its seed (an arm's name is its `label`, else its kind, as src/core/arms.ts
 * `armLabel` names it).
 */
export function runSpec(experiment: Experiment, run: Run): Record<string, unknown> {
  const spec = experiment.spec;
  const arms = Array.isArray(spec.arms) ? (spec.arms as SpecArm[]) : [];
  const own = arms.filter((a) => (a.label ?? a.arm) === run.label);
  return { ...spec, arms: own, seeds: [run.seed] };
}

/** The config panel: what the run trained, as JSON, with the experiment's name and id. */
export function RunConfig({ experiment, run }: { experiment: Experiment; run: Run }) {
  return (
    <section class="panel" aria-labelledby="config-title" data-testid="run-config">
      <h2 id="config-title">Config</h2>
      <p class="muted">
        The spec of experiment <strong>{experiment.name}</strong> (normalised: every default filled in), for
        arm <code>{run.label}</code> and seed {run.seed}. Backend requested:{" "}
        <code>{run.backendRequested}</code>
        {run.backend ? (
          <>
            , used: <code>{run.backend.name}</code>
          </>
        ) : null}
        .
      </p>
      <pre class="spec">{JSON.stringify(runSpec(experiment, run), null, 2)}</pre>
    </section>
  );
}
