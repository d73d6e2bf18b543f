import type { TrainingEvent } from "../core/events.ts";
import type { ExperimentSpec } from "../core/spec.ts";

/**
 * Server paths stay on the server: what a trainer reports (checkpoint locations, failure
 * messages naming a file) is stored and served relative to the data folder, and a spec's
 * relative `dataset.root` is resolved against it only when a trainer starts.
 */
export function withoutDataDir(text: string, dataDir: string): string {
  const prefix = dataDir.endsWith("/") ? dataDir : `${dataDir}/`;
  return text.split(prefix).join("");
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === "string") return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  }
  return value;
}

/** The event with every string relative to the data folder. */
export function eventWithoutDataDir(event: TrainingEvent, dataDir: string): TrainingEvent {
  // Only strings change, so the shape (and the type) is the event's own.
  return mapStrings(event, (s) => withoutDataDir(s, dataDir)) as TrainingEvent;
}

/** The spec a trainer gets: a relative dataset root resolved against the data folder. */
export function specForTrainer(spec: ExperimentSpec, dataDir: string): ExperimentSpec {
  const root = spec.dataset.root;
  if (root === undefined || root.startsWith("/")) return spec;
  return { ...spec, dataset: { ...spec.dataset, root: `${dataDir.replace(/\/$/, "")}/${root}` } };
}
