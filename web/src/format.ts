/** Number, byte, duration and time formatting for the page: one style everywhere. */
import { scaleBytes } from '../../src/ops/byteUnits.js';

const counts = new Intl.NumberFormat('en-US');
const rates = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** 12,345 */
export function count(n: number): string {
  return counts.format(Math.round(n));
}

/** 0.4/s, 12/s, 1,234/s */
export function rate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0/s';
  return `${perSecond < 10 ? rates.format(perSecond) : counts.format(Math.round(perSecond))}/s`;
}

/** 1.2 MiB */
export function bytes(n: number): string {
  const { value, unit } = scaleBytes(n);
  return `${unit === 'B' ? Math.round(value) : value.toFixed(value < 10 ? 1 : 0)} ${unit}`;
}

/** 0.4 s, 12 s, 3 min 5 s, 2 h 10 min, 3 d 4 h */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds % 60);
    return s === 0 ? `${m} min` : `${m} min ${s} s`;
  }
  if (seconds < 86_400) {
    const h = Math.floor(seconds / 3600);
    const m = Math.round((seconds % 3600) / 60);
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(seconds / 86_400);
  const h = Math.round((seconds % 86_400) / 3600);
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

/** "12 s ago", "just now" */
export function ago(thenMs: number, nowMs: number): string {
  const s = (nowMs - thenMs) / 1000;
  if (s < 1) return 'just now';
  return `${duration(s)} ago`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** 14:02:11 (local time) */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 14:02:11.042 (local time) */
export function clockMs(ms: number): string {
  return `${clock(ms)}.${pad(new Date(ms).getMilliseconds(), 3)}`;
}

/** A prop value as one short line: strings bare, everything else as JSON, cut at `max` characters. */
export function short(value: unknown, max = 40): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
