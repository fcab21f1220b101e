import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { adminRoutes, type AdminDeps } from '../../../src/api/adminRoutes.js';
import { adminFallback } from '../../../src/api/nodeAdapter.js';
import { opsRoutes } from '../../../src/api/opsRoutes.js';
import { queryRoutes } from '../../../src/api/query/routes.js';
import type { ApiRoute } from '../../../src/api/route.js';
import { throughputRoute } from '../../../src/api/throughputRoute.js';
import { ThroughputHistory } from '../../../src/ops/throughputHistory.js';
import { disabledStoreReader } from '../../../src/store/index.js';
import { reloadRoute } from '../../../src/reload/index.js';
import type { ConfigReloader } from '../../../src/reload/index.js';

/**
 * docs/openapi.yaml against the routes Beacon serves. The routes are built here from the same
 * factories the runtime uses (src/runtime/parts/delivery.ts, assemble.ts); a new factory there
 * belongs in `declaredRoutes` too. Handlers are not called, so the dependencies are inert.
 */
interface Operation {
  summary?: string;
  parameters?: { $ref?: string; name?: string; in?: string }[];
  responses?: Record<string, unknown>;
  'x-beacon-class'?: string;
  'x-beacon-scope'?: string;
}

const spec = parse(readFileSync(fileURLToPath(new URL('../../../docs/openapi.yaml', import.meta.url)), 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, unknown>>;
};

function declaredRoutes(): ApiRoute[] {
  const inert = () => {
    throw new Error('not called by this test');
  };
  const adminDeps = {
    config: {},
    version: 'test',
    startedAt: 0,
    sinkStatus: () => [],
    logUsage: inert,
    replay: inert,
    deadLetters: {},
  } as unknown as AdminDeps;
  return [
    ...opsRoutes({ metrics: inert, ready: () => true }),
    ...adminRoutes(adminDeps),
    throughputRoute(new ThroughputHistory([])),
    ...queryRoutes(disabledStoreReader(), { now: () => 0 }),
    reloadRoute({} as ConfigReloader),
  ];
}

/** Served outside the ApiRoute list: `/healthz` by the HTTP adapter itself (checked below). */
const ADAPTER_ROUTES = [{ method: 'GET', path: '/healthz' }];

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function operations(): { method: string; path: string; op: Operation }[] {
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

function resolve(ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local $refs: ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      spec,
    );
}

describe('docs/openapi.yaml', () => {
  test('is an OpenAPI 3.1 document', () => {
    assert.match(spec.openapi, /^3\.1\./);
    assert.ok(Object.keys(spec.paths).length > 0);
  });

  test('documents every declared route with its summary, class and scope', () => {
    for (const route of declaredRoutes()) {
      const op = spec.paths[route.path]?.[route.method.toLowerCase()];
      assert.ok(op, `${route.method} ${route.path} is served but not in docs/openapi.yaml`);
      assert.equal(op.summary, route.summary, `${route.method} ${route.path}: summary`);
      assert.equal(op['x-beacon-class'], route.class, `${route.method} ${route.path}: x-beacon-class`);
      assert.equal(op['x-beacon-scope'], route.scope, `${route.method} ${route.path}: x-beacon-scope`);
      assert.ok(op.responses?.['200'], `${route.method} ${route.path}: no 200 response`);
    }
  });

  test('documents nothing that is not served', () => {
    const served = new Set([...declaredRoutes(), ...ADAPTER_ROUTES].map((r) => `${r.method} ${r.path}`));
    for (const { method, path } of operations())
      assert.ok(served.has(`${method} ${path}`), `docs/openapi.yaml lists ${method} ${path}, which no route serves`);
  });

  test('declares every {param} of a path as a path parameter', () => {
    for (const { method, path, op } of operations()) {
      const declared = new Set(
        (op.parameters ?? [])
          .map((p) => (p.$ref ? (resolve(p.$ref) as { name?: string; in?: string }) : p))
          .filter((p) => p.in === 'path')
          .map((p) => p.name),
      );
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g))
        assert.ok(declared.has(name), `${method} ${path}: path parameter ${name} is not declared`);
    }
  });

  test('has no $ref that points nowhere', () => {
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`));
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref')
            assert.ok(resolve(String(value)) !== undefined, `${at}: $ref ${String(value)} resolves to nothing`);
          else walk(value, `${at}/${key}`);
        }
      }
    };
    walk(spec, '#');
  });

  test('the adapter-served routes are served: GET /healthz answers 200 without reaching the API', async () => {
    let status = 0;
    let reachedApi = false;
    const res = { writeHead: (s: number) => (status = s), end: () => undefined } as unknown as ServerResponse;
    const handled = await adminFallback(async () => {
      reachedApi = true;
      return undefined;
    })({ method: 'GET', headers: {} } as IncomingMessage, res, new URL('http://beacon/healthz'));
    assert.equal(handled, true);
    assert.equal(status, 200);
    assert.equal(reachedApi, false);
  });
});
