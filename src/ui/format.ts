/** Number formats shared by the pages (tables, chart labels, the log). */

export const percent = (value: number | null | undefined, digits = 2): string =>
  value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;

/**
 * A speed-up as a ratio, 1.30× (the API stores ratio − 1, the paper's +29.7%; the baseline reads
 * 1.00×, not 0). One formatter for every page: src/core/vocabulary.ts.
 */
export { speedupRatio as speedup } from "../core/vocabulary.ts";

export const seconds = (value: number | null | undefined): string =>
  value === null || value === undefined
    ? "–"
    : value < 100
      ? `${value.toFixed(1)} s`
      : `${Math.round(value)} s`;

/** 1234567 → 1.23M. */
export function compact(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [size, unit] of units)
    if (Math.abs(value) >= size) return `${(value / size).toPrecision(3)}${unit}`;
  return value.toPrecision(3);
}

export const fixed = (value: number | null | undefined, digits = 3): string =>
  value === null || value === undefined ? "–" : value.toFixed(digits);

export const dateTime = (iso: string): string => new Date(iso).toLocaleString();
