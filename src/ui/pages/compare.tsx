import { useEffect, useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import {
  type ComparedRun,
  compareChart,
  keyDescription,
  loadComparedRun,
  metricKeys,
  runName,
  X_AXES,
  type XAxis,
} from "../compare.ts";
import { LineChart } from "../components/line-chart.tsx";
import { Link } from "../components/link.tsx";
import { percent } from "../format.ts";
import { errorText, useLoad } from "../load.ts";
import { useSession } from "../session.ts";

/** The view's choices live in the URL (`?runs=a,b&key=test.best&x=seconds`), so a comparison can be shared. */
interface Choice {
  readonly runs: readonly string[];
  readonly key: string;
  readonly x: XAxis;
}

const DEFAULT_KEY = "test.best";

function choiceFromUrl(): Choice {
  const query = new URLSearchParams(location.search);
  const x = query.get("x");
  return {
    runs: (query.get("runs") ?? "").split(",").filter(Boolean),
    key: query.get("key") ?? DEFAULT_KEY,
    x: X_AXES.some((a) => a.value === x) ? (x as XAxis) : "epoch",
  };
}

function keepInUrl(choice: Choice) {
  const query = new URLSearchParams();
  if (choice.runs.length) query.set("runs", choice.runs.join(","));
  query.set("key", choice.key);
  query.set("x", choice.x);
  history.replaceState(null, "", `${location.pathname}?${query.toString().replaceAll("%2C", ",")}`);
}

/**
 * Compare runs of any experiments: pick them from an experiment's runs (or by id), then overlay
 * one metric, any key the runs have, against epochs, images seen or seconds trained, with each
 * run's stage boundaries marked in its colour. Drag across the chart to zoom.
 */
export function ComparePage() {
  const { client } = useSession();
  const [choice, setChoice] = useState<Choice>(choiceFromUrl);
  const [loaded, setLoaded] = useState<ReadonlyMap<string, ComparedRun>>(new Map());
  const [errors, setErrors] = useState<ReadonlyMap<string, string>>(new Map());
  const [experimentId, setExperimentId] = useState("");
  const [byId, setById] = useState("");
  const [search, setSearch] = useState("");
  const [searched, setSearched] = useState("");

  const update = (next: Partial<Choice>) => {
    const merged = { ...choice, ...next };
    setChoice(merged);
    keepInUrl(merged);
  };
  const add = (runId: string) => {
    const id = runId.trim();
    if (id && !choice.runs.includes(id)) update({ runs: [...choice.runs, id] });
  };
  const remove = (runId: string) => update({ runs: choice.runs.filter((r) => r !== runId) });

  useEffect(() => {
    let live = true;
    for (const id of choice.runs) {
      if (loaded.has(id) || errors.has(id)) continue;
      loadComparedRun(client, id).then(
        (run) => live && setLoaded((m) => new Map(m).set(id, run)),
        (error: unknown) => live && setErrors((m) => new Map(m).set(id, errorText(error))),
      );
    }
    return () => {
      live = false;
    };
  }, [client, choice.runs.join(",")]);

  const experiments = useLoad(
    () =>
      client
        .GET("/v1/experiments", { params: { query: { limit: 100 } } })
        .then(unwrap)
        .then((p) => p.items),
    [],
  );
  const experiment = useLoad(
    () =>
      experimentId
        ? client.GET("/v1/experiments/{id}", { params: { path: { id: experimentId } } }).then(unwrap)
        : Promise.resolve(null),
    [experimentId],
  );

  const found = useLoad(
    () =>
      searched
        ? client
            .GET("/v1/runs", { params: { query: { q: searched, limit: 50 } } })
            .then(unwrap)
            .then((p) => p.items)
        : Promise.resolve([]),
    [searched],
  );

  const runs = choice.runs.flatMap((id) => {
    const run = loaded.get(id);
    return run ? [run] : [];
  });
  const keys = metricKeys(runs);
  const chart = compareChart(runs, choice.key, choice.x);
  const xLabel = X_AXES.find((a) => a.value === choice.x)?.label ?? choice.x;

  return (
    <main class="wide">
      <h1>Compare runs</h1>
      <section class="panel" aria-labelledby="pick-title">
        <h2 id="pick-title">Runs</h2>
        <div class="pickers">
          <div class="field">
            <label for="pick-experiment">From experiment</label>
            <select
              id="pick-experiment"
              value={experimentId}
              onChange={(e) => setExperimentId(e.currentTarget.value)}
            >
              <option value="">choose an experiment…</option>
              {(experiments.data ?? []).map((e) => (
                <option key={e.id} value={e.id}>
                  {e.name} ({e.id})
                </option>
              ))}
            </select>
          </div>
          <form
            class="field"
            onSubmit={(e) => {
              e.preventDefault();
              setSearched(search.trim());
            }}
          >
            <label for="pick-search">Or search runs</label>
            <span class="inline">
              <input
                id="pick-search"
                type="search"
                placeholder="experiment, arm or note"
                value={search}
                onInput={(e) => setSearch(e.currentTarget.value)}
              />
              <button type="submit" disabled={search.trim() === ""}>
                Search
              </button>
            </span>
          </form>
          <form
            class="field"
            onSubmit={(e) => {
              e.preventDefault();
              add(byId);
              setById("");
            }}
          >
            <label for="pick-run-id">Or a run id</label>
            <span class="inline">
              <input
                id="pick-run-id"
                spellcheck={false}
                placeholder="run_…"
                value={byId}
                onInput={(e) => setById(e.currentTarget.value)}
              />
              <button type="submit" disabled={byId.trim() === ""}>
                Add
              </button>
            </span>
          </form>
        </div>
        {experiment.data && (
          <ul class="pick-list" aria-label={`Runs of ${experiment.data.name}`}>
            {experiment.data.runs.map((r) => {
              const chosen = choice.runs.includes(r.id);
              return (
                <li key={r.id}>
                  <label>
                    <input
                      type="checkbox"
                      checked={chosen}
                      onChange={() => (chosen ? remove(r.id) : add(r.id))}
                    />{" "}
                    {r.label} seed {r.seed} <span class={`chip state-${r.state}`}>{r.state}</span>{" "}
                    <span class="muted">{percent(r.top1)}</span>
                  </label>
                </li>
              );
            })}
          </ul>
        )}
        {searched && found.data && (
          <ul class="pick-list" aria-label={`Runs matching ${searched}`}>
            {found.data.map((r) => {
              const chosen = choice.runs.includes(r.id);
              return (
                <li key={r.id}>
                  <label>
                    <input
                      type="checkbox"
                      checked={chosen}
                      onChange={() => (chosen ? remove(r.id) : add(r.id))}
                    />{" "}
                    {r.label} seed {r.seed} <span class="mono muted">{r.experimentId}</span>{" "}
                    <span class={`chip state-${r.state}`}>{r.state}</span>
                  </label>
                </li>
              );
            })}
            {found.data.length === 0 && <li class="muted">No run matches {searched}.</li>}
          </ul>
        )}
        <ul class="chosen-runs" aria-label="Runs compared" data-testid="compared-runs">
          {choice.runs.map((id) => {
            const run = loaded.get(id);
            const error = errors.get(id);
            return (
              <li key={id} class="chip" data-run={id}>
                {run ? <Link to={{ page: "run", id }}>{runName(run)}</Link> : <span class="mono">{id}</span>}
                {error && <span class="error-text"> ({error})</span>}{" "}
                <button
                  type="button"
                  class="link"
                  aria-label={`Remove ${run ? runName(run) : id}`}
                  onClick={() => remove(id)}
                >
                  ×
                </button>
              </li>
            );
          })}
          {choice.runs.length === 0 && <li class="muted">No run chosen yet.</li>}
        </ul>
      </section>
      <div class="pickers">
        <div class="field">
          <label for="compare-key">Metric</label>
          <select
            id="compare-key"
            value={choice.key}
            onChange={(e) => update({ key: e.currentTarget.value })}
          >
            {(keys.includes(choice.key) ? keys : [choice.key, ...keys]).map((k) => (
              <option key={k} value={k} title={keyDescription(runs, k)}>
                {k}
              </option>
            ))}
          </select>
          <span class="muted small" data-testid="metric-description">
            {keyDescription(runs, choice.key) ?? ""}
          </span>
        </div>
        <div class="field">
          <label for="compare-x">Against</label>
          <select
            id="compare-x"
            value={choice.x}
            onChange={(e) => update({ x: e.currentTarget.value as XAxis })}
          >
            {X_AXES.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <LineChart
        title={`${choice.key} against ${xLabel}`}
        xLabel={xLabel}
        yLabel={choice.key}
        x={chart.x}
        series={chart.series}
        markers={chart.markers}
        testId="compare-chart"
      />
    </main>
  );
}
