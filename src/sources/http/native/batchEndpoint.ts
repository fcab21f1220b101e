import { markCorrupt } from '../../../enrich/corruption.js';
import { batchEvent } from '../../../event/fromSubmitted.js';
import { isRejection } from '../../../event/rejection.js';
import { batchTooLarge } from '../commit.js';
import type { QueryHandler } from '../endpoint.js';
import { sendJson } from '../responses.js';
import { splitBatch } from './batchBody.js';
import { mediaKind, parseJson, stripBom } from './jsonBody.js';
import type { NativeIntake } from './nativeIntake.js';

/** `POST /batch?resend=1`: a blind resend (beacon.js after sendBeacon); events whose id the id memory holds are dropped. */
const RESEND = /(?:^|&)resend=1(?:&|$)/;

/**
 * `POST /batch`: a JSON array or NDJSON of event objects, emitted together; answered 200 with
 * `{accepted, rejected: [{index, code, message}]}` (a bad element refuses only itself).
 */
export function createBatchEndpoint(intake: NativeIntake): QueryHandler {
  const { rules, cors, refuse, body, factsOf, marks, verifyChecksum, checkEach, commit } = intake;
  const { batchBodyLimits, batchEvents } = intake;

  return async function batch(req, res, query, started, now) {
    const corsHeaders = cors.headersFor(req.headers.origin);
    const kind = mediaKind(req.headers['content-type']);
    if (kind === 'unsupported') {
      return refuse(
        req,
        res,
        'BEACON_E_UNSUPPORTED_MEDIA_TYPE',
        'POST /batch takes application/json, text/plain or application/x-ndjson',
        corsHeaders,
      );
    }
    const buffer = await body(req, res, corsHeaders, batchBodyLimits);
    if (buffer === undefined) return;
    const items = splitBatch(stripBom(buffer.toString('utf8')), kind === 'ndjson');
    if (isRejection(items)) return refuse(req, res, items.code, items.message, corsHeaders);
    if (items.length > batchEvents) {
      const tooLarge = batchTooLarge('the batch', items.length, 'events', batchEvents);
      return refuse(req, res, tooLarge.code, tooLarge.message, corsHeaders);
    }

    intake.received(items.length);
    const facts = factsOf(req, res, now, query);
    const { events, rejected } = checkEach(items, (item) => {
      if (item.line === undefined) return batchEvent(item.value, facts, rules, item.bound);
      const parsed = parseJson(item.line);
      return isRejection(parsed) ? parsed : batchEvent(parsed.value, facts, rules, item.bound);
    });
    if (RESEND.test(query) && marks !== undefined) for (const event of events) marks.markResent(event);
    const corrupt = verifyChecksum?.(query, buffer);
    if (corrupt !== undefined) for (const event of events) markCorrupt(event, corrupt);
    if (events.length > 0 && !(await commit(events, req, res, corsHeaders, started))) return;
    sendJson(res, 200, JSON.stringify({ accepted: events.length, rejected }), corsHeaders);
  };
}
