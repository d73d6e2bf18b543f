/**
 * What a line chart draws, apart from drawing it (no DOM here, so the pure code that shapes
 * series is tested in Node): its series, its markers and the colours they take.
 */
export interface ChartSeries {
  readonly label: string;
  /** One value per x (null: no value there, e.g. an epoch without evaluation). */
  readonly values: readonly (number | null)[];
  readonly color: string;
  readonly dash?: readonly number[];
}

/** A vertical line at `x` (a stage boundary), drawn over the plot with its label. */
export interface ChartMarker {
  readonly x: number;
  readonly label: string;
  /** The colour of the run it belongs to, when several runs share the chart. */
  readonly color?: string;
}

/** Distinct, colour-blind-safe series colours (Okabe–Ito; its black is grey here, for dark mode). */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C8C8C"];
export const colorAt = (i: number): string => PALETTE[i % PALETTE.length] ?? "#8C8C8C";
