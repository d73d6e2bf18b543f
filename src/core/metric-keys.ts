import type { EpochRecord } from "./events.ts";

/**
 * The scalar series a run stores, one value per epoch (`GET /v1/runs/{id}/metrics?key=`). One
 * naming scheme: lower-case `snake_case` words, a dotted prefix for the split a value was
 * measured on (`train.`, `test.`), none for the run's own rates and sizes. The JSON fields of
 * events and resources are camelCase (`trainLoss` in `epoch.completed`); a metric key is not a
 * JSON field but the name of a series, and keeps this form. Documented in docs/service.md.
 */
export const METRIC_KEYS = {
  "train.loss": "mean training loss over the epoch's steps",
  "train.accuracy": "training top-1 over the epoch's steps, in [0, 1]",
  lr: "learning rate at the epoch's last step",
  images_per_second: "training images per second over the epoch",
  epoch_seconds: "seconds the epoch took (training steps, evaluation and checkpoint)",
  flops_per_image: "mean forward FLOPs per image over the epoch's steps",
  depth: "blocks the epoch trained",
  tokens: "tokens per image the epoch trained",
  "test.top1": "top-1 of the online model on the test split, in [0, 1] (evaluated epochs)",
  "test.best": "best top-1 of the online model and its EMA copies (evaluated epochs)",
} as const satisfies Record<string, string>;

export type FixedMetricKey = keyof typeof METRIC_KEYS;

/** Each EMA copy's top-1: `test.ema.<name>`, with the name the spec gives it. */
export const EMA_METRIC_PREFIX = "test.ema.";
const EMA_NAME = /^[a-z][a-z0-9_-]*$/;

/** What a key measures, or undefined when it is not a key of the scheme. */
export function metricKeyDescription(key: string): string | undefined {
  if (Object.hasOwn(METRIC_KEYS, key)) return METRIC_KEYS[key as FixedMetricKey];
  if (key.startsWith(EMA_METRIC_PREFIX) && EMA_NAME.test(key.slice(EMA_METRIC_PREFIX.length))) {
    return `top-1 of the EMA copy ${key.slice(EMA_METRIC_PREFIX.length)} (evaluated epochs)`;
  }
  return undefined;
}

/** The series an epoch adds (non-finite values are left out: a series holds numbers only). */
export function epochMetrics(e: EpochRecord): Record<string, number> {
  const fixed: Record<FixedMetricKey, number | undefined> = {
    "train.loss": e.trainLoss,
    "train.accuracy": e.trainAccuracy,
    lr: e.lr,
    images_per_second: e.imagesPerSecond,
    epoch_seconds: e.epochSeconds,
    flops_per_image: e.flopsPerImage,
    depth: e.architecture.depth,
    tokens: e.architecture.tokens,
    "test.top1": e.evaluation?.online,
    "test.best": e.evaluation?.best,
  };
  const emas = Object.entries(e.evaluation?.ema ?? {}).map(([name, value]) => [
    `${EMA_METRIC_PREFIX}${name}`,
    value,
  ]);
  return Object.fromEntries(
    [...Object.entries(fixed), ...emas].filter(
      (entry): entry is [string, number] => typeof entry[1] === "number" && Number.isFinite(entry[1]),
    ),
  );
}
