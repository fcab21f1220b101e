import { ApiError, type BeaconApi } from '../api.js';
import { h, setText } from '../dom.js';
import { clock, count, rate } from '../format.js';
import { parseThroughput, type Series, type ThroughputView } from '../parse.js';
import { drawChart, indexAt, type ChartData } from './chart.js';
import type { View } from './view.js';

const REFRESH_MS = 2000;
const LINES = [
  { key: 'received', name: 'received', color: '#2563eb', hint: 'events that reached Beacon (before validation)' },
  {
    key: 'delivered',
    name: 'delivered',
    color: '#16a34a',
    hint: 'events acknowledged by destinations, added up over all of them',
  },
  {
    key: 'rejected',
    name: 'rejected',
    color: '#dc2626',
    hint: 'events or requests refused at intake (bad JSON, too large, bots dropped...)',
  },
] as const;

/** Throughput: received, delivered and rejected per second over the last 15 minutes, from the server's history. */
export function createThroughputView(api: BeaconApi): View {
  const canvas = h('canvas', {
    class: 'chart',
    role: 'img',
    'aria-label': 'Events per second over the last 15 minutes',
  });
  const tooltip = h('div', { class: 'chart-tip', hidden: true });
  const legend = h('div', { class: 'legend' });
  const note = h('p', { class: 'muted' });
  const element = h(
    'section',
    { class: 'view throughput-view', id: 'view-throughput' },
    h(
      'p',
      { class: 'lead' },
      'Events per second over the last 15 minutes, one point per second, as Beacon counted them (the same counters as /metrics).',
    ),
    legend,
    h('div', { class: 'chart-box' }, canvas, tooltip),
    note,
  );
  const values: Record<(typeof LINES)[number]['key'], HTMLElement> = {
    received: h('strong'),
    delivered: h('strong'),
    rejected: h('strong'),
  };
  const totals: Record<(typeof LINES)[number]['key'], HTMLElement> = {
    received: h('span'),
    delivered: h('span'),
    rejected: h('span'),
  };
  const names: Record<(typeof LINES)[number]['key'], HTMLElement> = {
    received: h('span'),
    delivered: h('span'),
    rejected: h('span'),
  };
  for (const l of LINES) {
    names[l.key].textContent = l.name;
    legend.append(
      h(
        'div',
        { class: 'legend-item', title: l.hint },
        swatch(l.color),
        names[l.key],
        values[l.key],
        h('span', { class: 'muted' }, ' last minute · '),
        totals[l.key],
        h('span', { class: 'muted' }, ' in 15 min'),
      ),
    );
  }

  let data: ThroughputView | undefined;
  let hover: number | undefined;
  let timer: number | undefined;
  let inFlight = false;

  const chartData = (d: ThroughputView): ChartData => ({
    intervalMs: d.intervalMs,
    end: d.end,
    lines: LINES.map((l) => ({ name: l.name, color: l.color, values: d[l.key] })),
  });

  function redraw(): void {
    if (data) drawChart(canvas, chartData(data), hover);
  }

  async function load(): Promise<void> {
    if (inFlight) return;
    inFlight = true;
    try {
      data = parseThroughput(await api.get('/api/v1/throughput'));
      setText(note, '');
      // Each destination counts its own deliveries: with two, delivered is twice received.
      setText(
        names.delivered,
        data.sinks.length > 1 ? `delivered (all ${data.sinks.length} destinations)` : 'delivered',
      );
      for (const l of LINES) {
        const series = data[l.key];
        setText(values[l.key], rate(average(series.slice(-60))));
        setText(totals[l.key], count(sum(series)));
      }
      redraw();
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'SHAPE', (err as Error).message);
      setText(
        note,
        e.status === 404
          ? 'This Beacon does not keep a throughput history (GET /api/v1/throughput).'
          : `Throughput unavailable: ${e.message}`,
      );
    } finally {
      inFlight = false;
    }
  }

  canvas.addEventListener('mousemove', (e) => {
    if (!data) return;
    const rect = canvas.getBoundingClientRect();
    hover = indexAt(canvas, e.clientX - rect.left, data.received.length);
    const at = data.end - (data.received.length - 1 - hover) * data.intervalMs;
    tooltip.replaceChildren(
      h('div', { class: 'tip-time' }, clock(at)),
      ...LINES.map((l) => h('div', {}, swatch(l.color), `${l.name}: ${fmt(data![l.key][hover!])}`)),
    );
    tooltip.hidden = false;
    const left = Math.min(e.clientX - rect.left + 12, canvas.clientWidth - 170);
    tooltip.style.left = `${left}px`;
    redraw();
  });
  canvas.addEventListener('mouseleave', () => {
    hover = undefined;
    tooltip.hidden = true;
    redraw();
  });
  window.addEventListener('resize', redraw);

  return {
    id: 'throughput',
    title: 'Throughput',
    element,
    show() {
      void load();
      timer = window.setInterval(() => void load(), REFRESH_MS);
    },
    hide() {
      window.clearInterval(timer);
    },
  };
}

/** Set through the CSSOM: the page's CSP refuses style attributes. */
function swatch(color: string): HTMLElement {
  const el = h('span', { class: 'swatch' });
  el.style.backgroundColor = color;
  return el;
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? 'no data' : rate(v);
}

function sum(series: Series): number {
  let s = 0;
  for (const v of series) if (v !== null) s += v;
  return s;
}

function average(series: Series): number {
  let s = 0;
  let n = 0;
  for (const v of series) {
    if (v === null) continue;
    s += v;
    n++;
  }
  return n === 0 ? 0 : s / n;
}
