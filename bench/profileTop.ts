/**
 * The top entries of a V8 CPU profile (`node --cpu-prof`), by self time, as a share of the
 * samples that were not idle; `--by file` sums them per source file instead.
 *
 *   node --import tsx bench/profileTop.ts <file.cpuprofile> [--top 30] [--by function|file] [--from S --to S] [--inclusive]
 *
 * `--inclusive` counts a function in every sample it is on the stack of (its callees included).
 * `--from`/`--to` keep only the samples taken that many seconds after the profile began (the
 * measured run that bench/hotPath.ts prints, so start-up and module loading are left out).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

const file = process.argv[2];
if (file === undefined) {
  console.error(
    'usage: node --import tsx bench/profileTop.ts <file.cpuprofile> [--top 30] [--by function|file] [--from S --to S]',
  );
  process.exit(2);
}
const flag = (name: string) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const top = Number(flag('--top') ?? 30);
const byFile = flag('--by') === 'file';
const inclusive = process.argv.includes('--inclusive');
const from = Number(flag('--from') ?? 0) * 1e6;
const to = Number(flag('--to') ?? Infinity) * 1e6;
const profile = JSON.parse(readFileSync(file, 'utf8')) as {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
};

// Hits per node within the window (µs since the profile began), from the sample list.
const hitsOf = new Map<number, number>();
let at = 0;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i]!;
  if (at < from || at > to) continue;
  const id = profile.samples[i]!;
  hitsOf.set(id, (hitsOf.get(id) ?? 0) + 1);
}

const IDLE = new Set(['(idle)', '(program)']);
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const keyOf = (node: ProfileNode): string => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^.*\/(node_modules|src|dist)\//, '$1/').replace(/^node:/, '');
  return byFile ? where || '(native)' : `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
};
const self = new Map<string, number>();
let busy = 0;
let idle = 0;
for (const node of profile.nodes) {
  const hits = hitsOf.get(node.id) ?? 0;
  if (hits === 0) continue;
  if (IDLE.has(node.callFrame.functionName)) {
    idle += hits;
    continue;
  }
  busy += hits;
  // Self time: this node's key; inclusive: every distinct key on its stack, once.
  const keys = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = inclusive ? parentOf.get(id) : undefined)
    keys.add(keyOf(byId.get(id)!));
  for (const key of keys) self.set(key, (self.get(key) ?? 0) + hits);
}
console.log(`${busy} busy samples, ${idle} idle/program (${((100 * idle) / Math.max(1, busy + idle)).toFixed(0)} %)`);
for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${((100 * hits) / busy).toFixed(1).padStart(5)} %  ${key}`);
