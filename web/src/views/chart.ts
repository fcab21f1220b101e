import type { Series } from '../parse.js';

/** What the chart draws: series of equal length, one value per `intervalMs`, newest last. */
export interface ChartData {
  intervalMs: number;
  /** Time (epoch ms) of the last point. */
  end: number;
  lines: { name: string; color: string; values: Series }[];
}

const MARGIN = { left: 56, right: 16, top: 14, bottom: 28 };

/** 1, 2, 5, 10, 20, 50...: the smallest such step that splits `max` into at most `ticks` parts. */
export function niceStep(max: number, ticks = 4): number {
  const raw = Math.max(max, 1e-9) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** The index of the point nearest `x` (CSS pixels from the canvas's left edge). */
export function indexAt(canvas: HTMLCanvasElement, x: number, points: number): number {
  const width = canvas.clientWidth - MARGIN.left - MARGIN.right;
  const i = Math.round(((x - MARGIN.left) / width) * (points - 1));
  return Math.max(0, Math.min(points - 1, i));
}

/**
 * Draws a line chart on a canvas by hand (no library): nice y ticks, clock labels on x, a
 * gap where a value is null, and an optional hover marker. Sized to the canvas's CSS box and
 * the device pixel ratio, so it stays sharp.
 */
export function drawChart(canvas: HTMLCanvasElement, data: ChartData, hover?: number): void {
  const cssW = canvas.clientWidth;
  const cssH = canvas.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(cssW * ratio) || canvas.height !== Math.round(cssH * ratio)) {
    canvas.width = Math.round(cssW * ratio);
    canvas.height = Math.round(cssH * ratio);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const styles = getComputedStyle(canvas);
  const ink = styles.getPropertyValue('--chart-ink').trim() || '#5b6472';
  const grid = styles.getPropertyValue('--chart-grid').trim() || '#e5e8ee';

  const n = Math.max(2, data.lines[0]?.values.length ?? 0);
  const plotW = cssW - MARGIN.left - MARGIN.right;
  const plotH = cssH - MARGIN.top - MARGIN.bottom;
  let max = 0;
  for (const l of data.lines) for (const v of l.values) if (v !== null && v > max) max = v;
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const x = (i: number) => MARGIN.left + (i / (n - 1)) * plotW;
  const y = (v: number) => MARGIN.top + plotH - (v / top) * plotH;

  ctx.font = '11px system-ui, -apple-system, "Segoe UI", sans-serif';
  ctx.lineWidth = 1;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (let v = 0; v <= top + step / 2; v += step) {
    ctx.strokeStyle = grid;
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, Math.round(y(v)) + 0.5);
    ctx.lineTo(MARGIN.left + plotW, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillStyle = ink;
    ctx.fillText(`${formatTick(v)}/s`, MARGIN.left - 6, y(v));
  }

  // A clock label every 3 minutes (or every fifth of the window when it is shorter).
  const windowMs = (n - 1) * data.intervalMs;
  const labelEvery =
    windowMs >= 6 * 60_000 ? 3 * 60_000 : Math.max(data.intervalMs, Math.round(windowMs / 5 / 1000) * 1000);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const start = data.end - windowMs;
  for (let t = Math.ceil(start / labelEvery) * labelEvery; t <= data.end; t += labelEvery) {
    const i = (t - start) / data.intervalMs;
    ctx.fillStyle = ink;
    ctx.fillText(hhmm(t, labelEvery < 60_000), x(i), MARGIN.top + plotH + 8);
  }

  ctx.lineJoin = 'round';
  for (const line of data.lines) {
    ctx.strokeStyle = line.color;
    ctx.lineWidth = 1.75;
    ctx.beginPath();
    let drawing = false;
    line.values.forEach((v, i) => {
      if (v === null) {
        drawing = false;
        return;
      }
      if (drawing) ctx.lineTo(x(i), y(v));
      else ctx.moveTo(x(i), y(v));
      drawing = true;
    });
    ctx.stroke();
  }

  if (hover !== undefined && hover >= 0 && hover < n) {
    ctx.strokeStyle = ink;
    ctx.lineWidth = 1;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(Math.round(x(hover)) + 0.5, MARGIN.top);
    ctx.lineTo(Math.round(x(hover)) + 0.5, MARGIN.top + plotH);
    ctx.stroke();
    ctx.setLineDash([]);
    for (const line of data.lines) {
      const v = line.values[hover];
      if (v === null || v === undefined) continue;
      ctx.fillStyle = line.color;
      ctx.beginPath();
      ctx.arc(x(hover), y(v), 3, 0, Math.PI * 2);
      ctx.fill();
    }
  }
}

function formatTick(v: number): string {
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return String(+v.toFixed(2));
}

function hhmm(t: number, seconds: boolean): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return seconds
    ? `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
    : `${p(d.getHours())}:${p(d.getMinutes())}`;
}
