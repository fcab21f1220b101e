import { markCorrupt } from '../../../enrich/corruption.js';
import { pageEvent } from '../../../event/fromSubmitted.js';
import { isRejection } from '../../../event/rejection.js';
import { checkProps } from '../../../event/rules.js';
import type { PathHandler } from '../endpoint.js';
import { sendNoContent } from '../responses.js';
import { mediaKind, parseJson } from './jsonBody.js';
import type { NativeIntake } from './nativeIntake.js';
import { trackedType } from './trackedType.js';

/** `POST /t/<type>`: one event whose props are the JSON body (also sendBeacon's text/plain), answered 204. */
export function createSingleEventPost(intake: NativeIntake): PathHandler {
  const { rules, cors, refuse, body, factsOf, schemaCheck, verifyChecksum, commit } = intake;

  return async function single(req, res, path, query, started, now) {
    const corsHeaders = cors.headersFor(req.headers.origin);
    const tracked = trackedType(path, rules, false);
    if (isRejection(tracked)) return refuse(req, res, tracked.code, tracked.message, corsHeaders);
    if (mediaKind(req.headers['content-type']) !== 'json') {
      return refuse(
        req,
        res,
        'BEACON_E_UNSUPPORTED_MEDIA_TYPE',
        'POST /t/<type> takes application/json or text/plain (JSON text)',
        corsHeaders,
      );
    }
    const buffer = await body(req, res, corsHeaders);
    if (buffer === undefined) return;
    let props: unknown = {};
    if (buffer.length > 0) {
      const parsed = parseJson(buffer.toString('utf8'));
      if (isRejection(parsed)) return refuse(req, res, parsed.code, parsed.message, corsHeaders);
      props = parsed.value;
    }
    if (typeof props !== 'object' || props === null || Array.isArray(props)) {
      return refuse(req, res, 'BEACON_E_BAD_EVENT', 'the body must be a JSON object (the event props)', corsHeaders);
    }
    const badProps = checkProps(props as Record<string, unknown>, rules, buffer.length * 6 + 2);
    if (badProps) return refuse(req, res, badProps.code, badProps.message, corsHeaders);
    const event = pageEvent(tracked.type, props as Record<string, unknown>, factsOf(req, res, now));
    const corrupt = verifyChecksum?.(query, buffer);
    if (corrupt !== undefined) markCorrupt(event, corrupt);
    const invalid = schemaCheck?.(event);
    if (invalid) return refuse(req, res, invalid.code, invalid.message, corsHeaders);
    intake.received();
    if (await commit([event], req, res, corsHeaders, started)) sendNoContent(res, corsHeaders);
  };
}
