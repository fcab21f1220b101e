import { parser } from '@prometheus-io/lezer-promql';

/**
 * Reads PromQL the way Prometheus does (its own Lezer grammar, @prometheus-io/lezer-promql) to
 * find the metric names an expression selects, and reads the text exposition format to find
 * what a process exports. Used to check that dashboards and alert rules query real metrics.
 */

/** Grafana's built-in interval variables are not PromQL; they stand for a duration. */
const GRAFANA_DURATIONS = /\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g;

export interface ParsedQuery {
  /** Metric names of every vector selector, in order of appearance. */
  metrics: string[];
  /** Offsets of syntax errors; empty when the expression parses. */
  errors: number[];
}

export function parsePromql(expr: string): ParsedQuery {
  const text = expr.replace(GRAFANA_DURATIONS, '5m');
  const metrics: string[] = [];
  const errors: number[] = [];
  parser.parse(text).iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === 'VectorSelector') {
        const name = node.node.getChild('Identifier');
        if (name) metrics.push(text.slice(name.from, name.to));
      }
    },
  });
  return { metrics, errors };
}

export interface Exposition {
  /** Family name to its `# TYPE` (counter, gauge, histogram, summary, untyped). */
  types: Map<string, string>;
  /** Names that have at least one sample line (histograms as name_bucket, name_sum, name_count). */
  sampled: Set<string>;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const sampled = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    else if (line && !line.startsWith('#')) sampled.add(/^[^{\s]+/.exec(line)![0]);
  }
  return { types, sampled };
}

/**
 * Why `name` is not usable in a query against this exposition, or undefined when it is: it must
 * have samples, either as a family of its own or as a histogram's (or summary's) `_bucket`,
 * `_sum` or `_count` series.
 */
export function missingMetric(name: string, exposition: Exposition): string | undefined {
  const series = /^(.*)_(bucket|sum|count)$/.exec(name);
  const base = series?.[1];
  const baseType = base === undefined ? undefined : exposition.types.get(base);
  if (baseType !== undefined && !exposition.types.has(name)) {
    const ok = series![2] === 'bucket' ? baseType === 'histogram' : baseType === 'histogram' || baseType === 'summary';
    if (!ok) return `${name}: ${base} is a ${baseType}, which has no _${series![2]} series`;
  } else if (!exposition.types.has(name)) {
    return `${name} is not exported`;
  }
  return exposition.sampled.has(name) ? undefined : `${name} is exported but has no series yet`;
}
