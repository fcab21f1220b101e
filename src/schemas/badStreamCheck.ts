import type { z } from 'zod';

/**
 * Schema-invalid events that go to the bad stream (`schemas.mode: bad`, and a queue source's in
 * `strict` mode) are delivered only to sinks with `badStream: only` or `include`; every other
 * sink commits past them. With schemas configured and no such sink, an invalid event would be
 * answered 2xx and reach no sink and no dead letter, so such a config is refused at load.
 */
export function checkBadStreamSink(
  config: {
    schemas: {
      dir?: string | undefined;
      types: Record<string, string>;
      mode: 'bad' | 'strict';
      requireSchema: boolean;
    };
    sources: unknown[];
    sinks: readonly { badStream: 'exclude' | 'only' | 'include' }[];
  },
  ctx: z.RefinementCtx,
): void {
  const { schemas } = config;
  const checks = schemas.dir !== undefined || Object.keys(schemas.types).length > 0 || schemas.requireSchema;
  if (!checks) return;
  const toBadStream = schemas.mode === 'bad' || config.sources.length > 0;
  if (!toBadStream) return;
  const takesBad = config.sinks.some((s) => s.badStream === 'only' || s.badStream === 'include');
  if (takesBad) return;
  const message =
    schemas.mode === 'bad'
      ? 'schemas.mode is "bad" but no sink takes the bad stream, so invalid events would reach no destination: add `badStream: only` to a sink (e.g. a file sink for bad rows) or set schemas.mode: strict'
      : 'schemas.mode is "strict" but queue sources cannot refuse an event, so their invalid events go to the bad stream, and no sink takes it: add `badStream: only` to a sink (e.g. a file sink for bad rows)';
  ctx.addIssue({ code: 'custom', path: ['schemas', 'mode'], message });
}
