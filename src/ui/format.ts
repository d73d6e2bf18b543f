/** Number formats shared by the pages (tables, chart labels, the log). */

export const percent = (value: number | null | undefined, digits = 2): string =>
  value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;

/** A speed-up as the paper writes it: +29.7%. */
export const speedup = (value: number | null | undefined): string =>
  value === null || value === undefined ? "–" : `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)}%`;

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
