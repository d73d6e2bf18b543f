import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface ChartSeries {
  readonly label: string;
  /** One value per x (null: no value there, e.g. an epoch without evaluation). */
  readonly values: readonly (number | null)[];
  readonly color: string;
  readonly dash?: readonly number[];
}

export interface LineChartProps {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly x: readonly number[];
  readonly series: readonly ChartSeries[];
  readonly testId?: string;
}

/** Plot height in CSS pixels; the box is reserved before the first point so nothing moves. */
export const CHART_HEIGHT = 220;

/**
 * A uPlot line chart sized to its container. The chart is rebuilt only when its series change
 * (an EMA appears); new points are set on the existing chart. The legend is ours, so its height
 * is reserved too.
 */
export function LineChart({ title, xLabel, yLabel, x, series, testId }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("|");
  const data: uPlot.AlignedData = [x as number[], ...series.map((s) => s.values as (number | null)[])];
  const points = series[0]?.values.filter((v) => v !== null).length ?? 0;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const chart = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: CHART_HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false } },
        axes: [{ label: xLabel }, { label: yLabel, size: 60 }],
        series: [
          { label: xLabel },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            spanGaps: true,
            points: { show: true, size: 5 },
            ...(s.dash ? { dash: [...s.dash] } : {}),
          })),
        ],
      },
      data,
      element,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(200, element.clientWidth), height: CHART_HEIGHT }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape, xLabel, yLabel]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <figure class="chart" data-testid={testId} data-points={points}>
      <figcaption>{title}</figcaption>
      <div class="chart-plot" ref={box} role="img" aria-label={`${title}: ${yLabel} against ${xLabel}`} />
      <ul class="chart-legend" aria-label={`${title} series`}>
        {series.map((s) => (
          <li key={s.label}>
            <span class={s.dash ? "swatch dashed" : "swatch"} style={{ borderColor: s.color }} />
            {s.label}
          </li>
        ))}
      </ul>
    </figure>
  );
}

/** Distinct, colour-blind-safe series colours (Okabe–Ito). */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
export const colorAt = (i: number): string => PALETTE[i % PALETTE.length] ?? "#000000";
