// A line chart of points over time drawn with uPlot (canvas): the value
// under the cursor in the legend while hovering, drag across to zoom into a
// time range, double-click to zoom out again. Drawn at the width of its
// container (measured, so it fits a phone and a wide screen); the figure's
// data-zoomed attribute says whether a zoom is in force (tests read it).

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { time } from '../format.ts';

export interface ChartPoint {
  x: number;
  y: number;
  label?: string;
}

const H = 220;
const HOUR_S = 3600;

/** The value of a CSS custom property of the page (canvas cannot use var()). */
function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function options(
  title: string,
  width: number,
  points: ChartPoint[],
  formatY: (v: number) => string,
  onZoom: (zoomed: boolean) => void,
): uPlot.Options {
  const accent = cssVar('--accent', '#2563eb');
  const muted = cssVar('--muted', '#667085');
  const line = cssVar('--line', '#dde3ea');
  const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
  const xs = points.map((p) => p.x / 1000);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  return {
    width,
    height: H,
    cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 9 } },
    scales: {
      // One time only: an hour either side, so the point sits in the middle.
      x: { time: true, ...(x0 === x1 ? { range: [x0 - HOUR_S, x1 + HOUR_S] as uPlot.Range.MinMax } : {}) },
      y: { range: (_u, min, max) => [Math.min(0, min), max > min ? max * 1.05 : Math.max(1, max * 1.25)] },
    },
    axes: [
      axis,
      // A label equal to the one below it (whole bytes, rounded durations) is left out.
      {
        ...axis,
        size: 72,
        values: (_u, ticks) => ticks.map((t, i) => (i > 0 && formatY(ticks[i - 1]!) === formatY(t) ? '' : formatY(t))),
      },
    ],
    series: [
      { label: 'time', value: (_u, v) => (v === null ? '—' : time(v * 1000)) },
      {
        label: title,
        stroke: accent,
        width: 2,
        points: { show: true, size: 7, stroke: accent, fill: cssVar('--card', '#fff') },
        value: (_u, v, _s, idx) => {
          if (v === null) return '—';
          const p = idx === null ? undefined : points[idx];
          return `${formatY(v)}${p?.label ? ` (${p.label})` : ''}`;
        },
      },
    ],
    hooks: {
      setScale: [
        (u, key) => {
          if (key !== 'x') return;
          const { min, max } = u.scales.x;
          onZoom(xs.length > 1 && min !== undefined && max !== undefined && (min > x0 || max < x1));
        },
      ],
    },
  };
}

export function LineChart({
  title,
  points,
  formatY,
}: {
  title: string;
  points: ChartPoint[];
  formatY: (v: number) => string;
}) {
  const box = useRef<HTMLElement>(null);
  const plotEl = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const fig = box.current;
    const el = plotEl.current;
    if (!fig || !el || points.length === 0) return;
    const width = () => Math.max(260, Math.floor(fig.clientWidth));
    const zoomed = (z: boolean) => fig.setAttribute('data-zoomed', String(z));
    const data: uPlot.AlignedData = [points.map((p) => p.x / 1000), points.map((p) => p.y)];
    const u = new uPlot(options(title, width(), points, formatY, zoomed), data, el);
    zoomed(false);
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: H }));
    ro.observe(fig);
    return () => {
      ro.disconnect();
      u.destroy();
    };
    // Rebuilt when the points change in value, not on every render of the page (a zoom would be lost).
  }, [title, formatY, JSON.stringify(points)]);

  return (
    <figure className="chart" ref={box} data-points={points.length}>
      <figcaption>{title}</figcaption>
      {points.length === 0 ? <p className="muted empty">No data yet.</p> : null}
      <div ref={plotEl} role="img" aria-label={title} />
      {points.length > 1 ? <p className="muted small hint">Drag across to zoom, double-click to zoom out.</p> : null}
    </figure>
  );
}
