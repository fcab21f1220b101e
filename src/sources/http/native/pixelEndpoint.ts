import { pageEvent } from '../../../event/fromSubmitted.js';
import { isRejection } from '../../../event/rejection.js';
import { checkProps } from '../../../event/rules.js';
import type { PathHandler } from '../endpoint.js';
import { parseQuery } from '../query.js';
import { sendPixel } from '../responses.js';
import type { NativeIntake } from './nativeIntake.js';
import { trackedType } from './trackedType.js';

/** `GET /t/<type>[.gif]?<props>`: one event whose props are the query, answered 204 or with a 1x1 GIF. */
export function createPixelEndpoint(intake: NativeIntake): PathHandler {
  const { rules, cors, refuse, factsOf, schemaCheck, commit } = intake;

  return async function pixel(req, res, path, query, started, now) {
    const corsHeaders = cors.headersFor(req.headers.origin);
    const tracked = trackedType(path, rules, true);
    if (isRejection(tracked)) return refuse(req, res, tracked.code, tracked.message, corsHeaders);
    const props = parseQuery(query);
    // A query yields flat props (depth 1, or 2 with repeated keys) no bigger than 6x the query.
    const sizeBound = query.length * 6 + 2;
    if (rules.propsDepth < 2 || sizeBound > rules.propsBytes) {
      const badProps = checkProps(props, rules, sizeBound);
      if (badProps) return refuse(req, res, badProps.code, badProps.message, corsHeaders);
    }
    const event = pageEvent(tracked.type, props, factsOf(req, res, now));
    const invalid = schemaCheck?.(event);
    if (invalid) return refuse(req, res, invalid.code, invalid.message, corsHeaders);
    intake.received();
    if (await commit([event], req, res, corsHeaders, started)) sendPixel(res, tracked.gif, corsHeaders);
  };
}
