import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import type { ChartMarker, ChartSeries } from "../chart-data.ts";
import { type ColorScheme, useColorScheme } from "../theme.ts";

export interface LineChartProps {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly x: readonly number[];
  readonly series: readonly ChartSeries[];
  readonly markers?: readonly ChartMarker[];
  readonly testId?: string;
}

/** Plot height in CSS pixels; the box is reserved before the first point so nothing moves. */
export const CHART_HEIGHT = 220;

/**
 * The ends of an axis around the data: the data's own span, or, for one value (a run's first
 * epoch), a small span around it — never uPlot's default of 0 to 100.
 */
export function domainOf(min: number | null, max: number | null): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max > min) return [min, max];
  const pad = Math.abs(min) * 0.1 || 1;
  return [min - pad, max + pad];
}

/**
 * The x axis's ends: uPlot widens a single x value to 0–100 before it asks the scale's range, so
 * with fewer than two x values the range comes from the data itself (nothing to zoom into);
 * otherwise it is what uPlot asks for (the data's ends, or a range dragged across).
 */
function xDomainOf(u: uPlot, min: number | null, max: number | null): [number, number] {
  const xs = new Set((u.data[0] ?? []).filter((v) => Number.isFinite(v)));
  if (xs.size >= 2) return domainOf(min, max);
  const only = xs.size === 1 ? ([...xs][0] ?? null) : null;
  return domainOf(only, only);
}

/** A y axis with a little room above and below the data. */
function yDomainOf(min: number | null, max: number | null): [number, number] {
  const [lo, hi] = domainOf(min, max);
  const room = (hi - lo) * 0.05;
  return [lo - room, hi + room];
}

const cssColor = (name: string) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";

/** Stage boundaries as dashed vertical lines with their labels, on uPlot's canvas. */
function drawMarkers(markers: readonly ChartMarker[]) {
  return (u: uPlot) => {
    const { ctx, bbox } = u;
    const [lo, hi] = [u.scales.x?.min ?? 0, u.scales.x?.max ?? 0];
    const muted = cssColor("--muted");
    ctx.save();
    ctx.lineWidth = devicePixelRatio;
    ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    for (const marker of markers) {
      if (marker.x < lo || marker.x > hi) continue;
      const at = Math.round(u.valToPos(marker.x, "x", true));
      ctx.strokeStyle = marker.color ?? muted;
      ctx.fillStyle = marker.color ?? muted;
      ctx.beginPath();
      ctx.moveTo(at, bbox.top);
      ctx.lineTo(at, bbox.top + bbox.height);
      ctx.stroke();
      ctx.fillText(marker.label, at + 3 * devicePixelRatio, bbox.top + 12 * devicePixelRatio);
    }
    ctx.restore();
  };
}

function axis(label: string, scheme: ColorScheme, size?: number): uPlot.Axis {
  void scheme; // read the colours again when the scheme changes
  const fg = cssColor("--muted");
  const line = cssColor("--line");
  return {
    label,
    stroke: fg,
    grid: { stroke: line, width: 1 },
    ticks: { stroke: line, width: 1 },
    ...(size ? { size } : {}),
  };
}

/**
 * A uPlot line chart sized to its container, with stage boundaries marked and zoom on x: drag
 * across the plot, or type a range (keyboard and touch); "Reset zoom" returns to the whole run.
 * The chart is rebuilt only when its series, markers or colour scheme change; new points are set on the existing chart (the zoom is kept while zoomed).
 * The legend is ours, so its height is reserved too. The figure carries the x range shown
 * (`data-x-min`, `data-x-max`) and the number of markers for tests and assistive tools.
 */
export function LineChart({ title, xLabel, yLabel, x, series, markers = [], testId }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const figure = useRef<HTMLElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoomedRef = useRef(false);
  const [zoomed, setZoomed] = useState(false);
  const scheme = useColorScheme();
  const shape = series.map((s) => `${s.label}:${s.color}`).join("|");
  const markerShape = markers.map((m) => `${m.x}:${m.label}:${m.color ?? ""}`).join("|");
  const data: uPlot.AlignedData = [x as number[], ...series.map((s) => s.values as (number | null)[])];
  const points = series[0]?.values.filter((v) => v !== null).length ?? 0;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const showRange = (u: uPlot) => {
      const scale = u.scales.x;
      figure.current?.setAttribute("data-x-min", String(scale?.min ?? ""));
      figure.current?.setAttribute("data-x-max", String(scale?.max ?? ""));
    };
    const chart = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: CHART_HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: true, y: false, setScale: true } },
        scales: {
          x: { time: false, range: xDomainOf },
          y: { range: (_u, min, max) => yDomainOf(min, max) },
        },
        axes: [axis(xLabel, scheme), axis(yLabel, scheme, 60)],
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
        hooks: {
          draw: [drawMarkers(markers)],
          setScale: [
            (u, key) => {
              if (key !== "x") return;
              showRange(u);
            },
          ],
          setSelect: [
            (u) => {
              // A drag selected a range: uPlot zooms to it (setScale: true); say so.
              if (u.select.width > 0) {
                zoomedRef.current = true;
                setZoomed(true);
              }
            },
          ],
        },
      },
      data,
      element,
    );
    plot.current = chart;
    zoomedRef.current = false;
    setZoomed(false);
    showRange(chart);
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(200, element.clientWidth), height: CHART_HEIGHT }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape, markerShape, xLabel, yLabel, scheme]);

  useEffect(() => {
    // New points keep a zoom the user chose; otherwise the axis follows the data.
    plot.current?.setData(data, !zoomedRef.current);
  });

  const resetZoom = () => {
    const chart = plot.current;
    zoomedRef.current = false;
    setZoomed(false);
    if (!chart) return;
    const xs = x.filter((v) => Number.isFinite(v));
    const [min, max] = domainOf(xs.length ? Math.min(...xs) : null, xs.length ? Math.max(...xs) : null);
    chart.setScale("x", { min, max });
  };

  /** The typed range (keyboard and touch users, who cannot drag): any from < to zooms there. */
  const zoomTo = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const value = (name: string) => Number((form.elements.namedItem(name) as HTMLInputElement | null)?.value);
    const [min, max] = [value("from"), value("to")];
    const chart = plot.current;
    if (!chart || !Number.isFinite(min) || !Number.isFinite(max) || !(max > min)) return;
    zoomedRef.current = true;
    setZoomed(true);
    chart.setScale("x", { min, max });
  };

  return (
    <figure
      class="chart"
      ref={figure}
      data-testid={testId}
      data-points={points}
      data-markers={markers.length}
      data-zoomed={zoomed ? "true" : "false"}
    >
      <figcaption>
        <span>{title}</span>
        <span class="inline">
          <details class="zoom-range">
            <summary>Range</summary>
            <form onSubmit={zoomTo} class="inline">
              <input name="from" type="number" step="any" required aria-label={`${title}: ${xLabel} from`} />
              <span aria-hidden="true">–</span>
              <input name="to" type="number" step="any" required aria-label={`${title}: ${xLabel} to`} />
              <button type="submit" class="small">
                Zoom
              </button>
            </form>
          </details>
          <button type="button" class="small" onClick={resetZoom} disabled={!zoomed}>
            Reset zoom
          </button>
        </span>
      </figcaption>
      <div
        class="chart-plot"
        ref={box}
        role="img"
        aria-label={`${title}: ${yLabel} against ${xLabel}${markers.length ? `, ${markers.length} stage boundaries marked` : ""}; drag across the plot, or set its Range, to zoom`}
      />
      <ul class="chart-legend" aria-label={`${title} series`}>
        {series.map((s) => (
          <li key={s.label}>
            <span class={s.dash ? "swatch dashed" : "swatch"} style={{ borderColor: s.color }} />
            {s.label}
          </li>
        ))}
        {markers.length > 0 && (
          <li>
            <span class="swatch marker" />
            stage boundary
          </li>
        )}
      </ul>
    </figure>
  );
}
