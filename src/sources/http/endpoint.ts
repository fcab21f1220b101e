import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How the router hands a request to an endpoint: `path` and `query` are the request target
 * split at its first `?` (the query without it, '' when none), `started` is the request's
 * `performance.now()` (the ack time is measured from it) and `now` its `Date.now()` (the
 * events' timestamp). Resolves once the request is answered.
 */
export type PathHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: string,
  started: number,
  now: number,
) => Promise<void>;

/** A `PathHandler` for an endpoint served at one path, which it need not be told. */
export type QueryHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
  started: number,
  now: number,
) => Promise<void>;
