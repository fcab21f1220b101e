// Lists runtime import cycles among src/**/*.ts (type-only imports are ignored, as tsc erases them).
// Usage: node scripts/import-cycles.mjs [dir]; exits 1 when there is a cycle.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';
const root = resolve(process.argv[2] ?? 'src');
const files = [];
(function walk(d) {
  for (const n of readdirSync(d)) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
  }
})(root);
const graph = new Map();
const re = /^(import|export)\s+(type\s+)?([^;]*?)\s*from\s+'([^']+)'/gms;
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const deps = new Set();
  for (const m of text.matchAll(re)) {
    const [, , typeOnly, clause, spec] = m;
    if (typeOnly || !spec.startsWith('.')) continue;
    const braces = clause.match(/\{([^}]*)\}/);
    const outside = clause
      .replace(/\{[^}]*\}/, '')
      .replace(/,/g, '')
      .trim();
    if (braces && outside === '') {
      const names = braces[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (names.length > 0 && names.every((n) => n.startsWith('type '))) continue;
    }
    const target = resolve(dirname(f), spec.replace(/\.js$/, '.ts'));
    deps.add(target);
  }
  graph.set(
    f,
    [...deps].filter((d) => graph.has(d) || files.includes(d)),
  );
}
let index = 0;
const idx = new Map(),
  low = new Map(),
  stack = [],
  on = new Set(),
  sccs = [];
function strong(v) {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  on.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!idx.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const c = [];
    let w;
    do {
      w = stack.pop();
      on.delete(w);
      c.push(w);
    } while (w !== v);
    if (c.length > 1 || (graph.get(v) ?? []).includes(v)) sccs.push(c);
  }
}
for (const f of files) if (!idx.has(f)) strong(f);
for (const c of sccs) console.log(`cycle (${c.length} files): ${c.map((f) => relative(process.cwd(), f)).join(', ')}`);
console.log(`${sccs.length} runtime import cycle group(s) among ${files.length} files`);
if (sccs.length > 0) process.exitCode = 1;
