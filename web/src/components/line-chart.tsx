// A dependency-free SVG line chart: points over time, drawn at the width of
// its container (measured, so labels keep their size on a phone and on a wide
// screen), with the y range, the first and last time on the axes, and a
// tooltip (<title>) on each point.

import { useEffect, useRef, useState } from 'react';
import { time } from '../format.ts';

export interface ChartPoint {
  x: number;
  y: number;
  label?: string;
}

const H = 220;
const PAD = { left: 64, right: 16, top: 14, bottom: 30 };

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
  const [W, setW] = useState(640);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setW(Math.max(260, Math.floor(el.clientWidth)));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [points.length === 0]);
  if (points.length === 0) {
    return (
      <figure className="chart" ref={box}>
        <figcaption>{title}</figcaption>
        <p className="muted empty">No data yet.</p>
      </figure>
    );
  }
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const y1 = Math.max(...ys, 0);
  const y0 = Math.min(...ys, 0);
  const spanX = x1 - x0 || 1;
  const spanY = y1 - y0 || 1;
  const px = (x: number) =>
    points.length === 1
      ? PAD.left + (W - PAD.left - PAD.right) / 2
      : PAD.left + ((x - x0) / spanX) * (W - PAD.left - PAD.right);
  const py = (y: number) => H - PAD.bottom - ((y - y0) / spanY) * (H - PAD.top - PAD.bottom);
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * spanY);
  return (
    <figure className="chart" ref={box}>
      <figcaption>{title}</figcaption>
      <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
        {grid.map((g) => (
          <g key={g} className="grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={py(g)} y2={py(g)} />
            <text x={PAD.left - 6} y={py(g) + 4} textAnchor="end">
              {formatY(g)}
            </text>
          </g>
        ))}
        <text className="axis" x={PAD.left} y={H - 8}>
          {time(x0)}
        </text>
        {points.length > 1 ? (
          <text className="axis" x={W - PAD.right} y={H - 8} textAnchor="end">
            {time(x1)}
          </text>
        ) : null}
        <path className="line" d={path} fill="none" />
        {points.map((p, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the points of one series, redrawn whole
          <circle key={i} className="point" cx={px(p.x)} cy={py(p.y)} r={4}>
            <title>{`${time(p.x)}: ${formatY(p.y)}${p.label ? ` (${p.label})` : ''}`}</title>
          </circle>
        ))}
      </svg>
    </figure>
  );
}
