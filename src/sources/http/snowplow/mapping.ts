import { isIP } from 'node:net';
import { compatibleType } from '../../../event/compatibleType.js';
import { uuidv7 } from '../../../event/ids.js';
import type { TrackedEvent } from '../../../event/trackedEvent.js';
import { checkProps, checkType, MAX_ID_CHARS, MAX_URL_CHARS, type EventRules } from '../../../event/rules.js';
import { type Rejection } from '../../../event/rejection.js';
import { type RequestFacts } from '../../../event/fromSubmitted.js';
import {
  contextEntities,
  decodeJsonField,
  schemaName,
  unwrapEvent,
  type SelfDescribingJson,
} from './selfDescribing.js';

/**
 * One tracker-protocol event (the name-value pairs of a `GET /i` query, or one element of a
 * tp2 POST's `payload_data`) turned into a TrackedEvent. docs/protocols.md#snowplow has the
 * table; in short:
 *
 * - type by the event kind `e`: `pv` page_view, `pp` page_ping, `se` structured_event, `tr`
 *   transaction, `ti` transaction_item; `ue` the name of its schema
 *   (`iglu:com.acme/viewed_product/jsonschema/1-0-0` -> `viewed_product`, made a valid type by
 *   compatibleType); any other or no `e`: `snowplow_event`.
 * - props: the kind's own fields with readable names (`se_ca` -> `category`...), numbers as
 *   numbers; for `ue` the self-describing event's `data`.
 * - id: `eid` (a client-given id, so a tracker's resend is caught by the id memory).
 * - clientTs: Snowplow's derived timestamp: `ttm` when sent; else, with `dtm` before `stm`,
 *   the receive time minus the time the event waited on the device (`stm - dtm`), which
 *   corrects a wrong device clock; else the receive time. No `dtm` and no `ttm`: no clientTs.
 * - partyId: `tnuid`, else `nuid`, else the network user id the collector assigned
 *   (./networkUserId.ts); sessionId: `sid`; pageViewId: the `web_page` context's `id`.
 * - ip: the `ip` parameter, else the request's address (none with `SP-Anonymous`); ua: the
 *   `ua` parameter, else the User-Agent header; url: `url`, else the Referer; referrer: `refr`.
 * - meta: `{source: 'snowplow', userId?: uid, snowplow: {e, schema?, contexts?, params?, errors?}}`:
 *   the full schema URI of a `ue`, the decoded context entities, and every other parameter as
 *   sent (aid, p, tv, tna, duid, vid, dtm, stm, res...). A field that cannot be decoded stays in
 *   `params` as sent, and `errors` says why: the event is still stored.
 *
 * Refused (a Rejection): an `aid` outside `snowplow.appIds` when that list is set, and what
 * every intake refuses (a type the configured pattern refuses, props or meta beyond the size
 * and depth limits).
 */

export interface SnowplowMappingOptions {
  /** The app ids accepted; undefined: any. */
  appIds: ReadonlySet<string> | undefined;
  /** The request carried `SP-Anonymous`: the collector keeps no address of the client. */
  anonymous: boolean;
}

/** Tracker-protocol parameters, every value as the text it was sent as. */
export type TrackerParams = Record<string, string>;

type FieldKind = 'text' | 'number';

/** Per event kind: its Beacon type and the parameters that become its props (param -> [prop, kind]). */
const KINDS: Readonly<
  Record<string, { type: string; fields: Readonly<Record<string, readonly [string, FieldKind]>> }>
> = {
  pv: { type: 'page_view', fields: { page: ['title', 'text'] } },
  pp: {
    type: 'page_ping',
    fields: {
      page: ['title', 'text'],
      pp_mix: ['minXOffset', 'number'],
      pp_max: ['maxXOffset', 'number'],
      pp_miy: ['minYOffset', 'number'],
      pp_may: ['maxYOffset', 'number'],
    },
  },
  se: {
    type: 'structured_event',
    fields: {
      se_ca: ['category', 'text'],
      se_ac: ['action', 'text'],
      se_la: ['label', 'text'],
      se_pr: ['property', 'text'],
      se_va: ['value', 'number'],
    },
  },
  tr: {
    type: 'transaction',
    fields: {
      tr_id: ['orderId', 'text'],
      tr_af: ['affiliation', 'text'],
      tr_tt: ['total', 'number'],
      tr_tx: ['tax', 'number'],
      tr_sh: ['shipping', 'number'],
      tr_ci: ['city', 'text'],
      tr_st: ['state', 'text'],
      tr_co: ['country', 'text'],
      tr_cu: ['currency', 'text'],
    },
  },
  ti: {
    type: 'transaction_item',
    fields: {
      ti_id: ['orderId', 'text'],
      ti_sk: ['sku', 'text'],
      ti_nm: ['name', 'text'],
      ti_ca: ['category', 'text'],
      ti_pr: ['price', 'number'],
      ti_qu: ['quantity', 'number'],
      ti_cu: ['currency', 'text'],
    },
  },
};
/** A `ue` whose schema cannot be read, and any kind this table does not know. */
export const SELF_DESCRIBING_FALLBACK_TYPE = 'self_describing_event';
export const UNKNOWN_KIND_TYPE = 'snowplow_event';

/** Parameters that become top-level fields (or are decoded) and so are not repeated in meta.snowplow.params. */
const TOP_LEVEL = new Set(['e', 'eid', 'url', 'refr', 'ua', 'ip', 'uid', 'nuid', 'tnuid', 'sid']);
const WEB_PAGE_SCHEMA = /^iglu:com\.snowplowanalytics\.snowplow\/web_page\/jsonschema\//;
/** Device and true timestamps are ms since the epoch; anything else is left in params unread. */
const EPOCH_MS = /^\d{1,15}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `target[key] = value`, also for `__proto__` (an ordinary key here, never the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

/**
 * Tracker parameters from one body element: string values as they are, numbers and booleans as
 * their text (the payload_data schema wants strings, some trackers send numbers), objects as
 * JSON (a `ue_pr` or `co` sent unstringified); null and undefined are absent.
 */
export function paramsOf(item: Record<string, unknown>): TrackerParams {
  const params: TrackerParams = {};
  for (const key of Object.keys(item)) {
    const value = item[key];
    if (value === null || value === undefined) continue;
    const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
    setOwn(params, key, text);
  }
  return params;
}

/** A query string's first value per key, as the collector reads GET parameters. */
export function paramsOfQuery(query: Record<string, unknown>): TrackerParams {
  const params: TrackerParams = {};
  for (const key of Object.keys(query)) {
    const value = query[key];
    setOwn(params, key, Array.isArray(value) ? String(value[0]) : String(value));
  }
  return params;
}

function epochMs(text: string | undefined): number | undefined {
  return text !== undefined && EPOCH_MS.test(text) ? Number(text) : undefined;
}

/** Snowplow's derived timestamp (enrich's getDerivedTimestamp), or undefined without any client time. */
export function derivedTimestamp(params: TrackerParams, receivedAt: number): number | undefined {
  const ttm = epochMs(params.ttm);
  if (ttm !== undefined) return ttm;
  const dtm = epochMs(params.dtm);
  if (dtm === undefined) return undefined;
  const stm = epochMs(params.stm);
  return stm !== undefined && dtm < stm ? receivedAt - (stm - dtm) : receivedAt;
}

function idParam(value: string | undefined): string | undefined {
  return value !== undefined && value.length > 0 && value.length <= MAX_ID_CHARS ? value : undefined;
}

function urlParam(value: string | undefined): string | undefined {
  return value !== undefined && value.length > 0 && value.length <= MAX_URL_CHARS ? value : undefined;
}

function fieldValue(text: string, kind: FieldKind): unknown {
  if (kind === 'text') return text;
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

/** Maps one event. `rawBound` bounds the size of anything decoded from it (see checkProps). */
export function snowplowEvent(
  params: TrackerParams,
  facts: RequestFacts,
  rules: EventRules,
  options: SnowplowMappingOptions,
  rawBound: number,
): TrackedEvent | Rejection {
  const aid = params.aid;
  if (options.appIds !== undefined && (aid === undefined || !options.appIds.has(aid))) {
    return {
      code: 'BEACON_E_SNOWPLOW_APP_ID',
      message:
        aid === undefined
          ? 'the event has no app id ("aid") and snowplow.appIds is set'
          : `app id ${JSON.stringify(aid.slice(0, 100))} is not in snowplow.appIds`,
    };
  }

  const e = params.e;
  // Own keys only: `e=constructor` or a `__proto__` parameter must not reach Object.prototype.
  const known = e !== undefined && Object.hasOwn(KINDS, e) ? KINDS[e] : undefined;
  const rest: Record<string, unknown> = {};
  const errors: string[] = [];
  let props: Record<string, unknown> = {};
  let type = known?.type ?? UNKNOWN_KIND_TYPE;
  let schema: string | undefined;

  for (const key of Object.keys(params)) {
    if (TOP_LEVEL.has(key)) continue;
    const text = params[key]!;
    const field = known !== undefined && Object.hasOwn(known.fields, key) ? known.fields[key] : undefined;
    if (field !== undefined) setOwn(props, field[0], fieldValue(text, field[1]));
    else if (key === 'ue_px' || key === 'ue_pr' || key === 'cx' || key === 'co') continue;
    else setOwn(rest, key, text);
  }

  if (e === 'ue') {
    type = SELF_DESCRIBING_FALLBACK_TYPE;
    const key = params.ue_px !== undefined ? 'ue_px' : params.ue_pr !== undefined ? 'ue_pr' : undefined;
    if (key === undefined) errors.push('a self-describing event ("e": "ue") without ue_px or ue_pr');
    else {
      const decoded = decodeJsonField(params[key]!);
      const event = 'error' in decoded ? decoded : unwrapEvent(decoded.value);
      if ('error' in event) {
        errors.push(`${key} ${event.error}`);
        setOwn(rest, key, params[key]);
      } else {
        schema = event.schema;
        type = compatibleType(schemaName(schema), rules.typePattern);
        props = isObject(event.data) ? event.data : { data: event.data };
      }
    }
  }

  let contexts: SelfDescribingJson[] | undefined;
  for (const key of ['cx', 'co'] as const) {
    const raw = params[key];
    if (raw === undefined) continue;
    const decoded = decodeJsonField(raw);
    const entities = 'error' in decoded ? decoded : contextEntities(decoded.value);
    if ('error' in entities) {
      errors.push(`${key} ${entities.error}`);
      setOwn(rest, key, raw);
    } else {
      contexts = (contexts ?? []).concat(entities);
    }
  }

  const badType = checkType(type, rules);
  if (badType) return badType;
  const badProps = checkProps(props, rules, rawBound);
  if (badProps) return badProps;

  const snowplow: Record<string, unknown> = { e: e ?? null };
  if (schema !== undefined) snowplow.schema = schema;
  if (contexts !== undefined) snowplow.contexts = contexts;
  if (Object.keys(rest).length > 0) snowplow.params = rest;
  if (errors.length > 0) snowplow.errors = errors;
  const badMeta = checkProps(snowplow, rules, rawBound);
  if (badMeta)
    return {
      code: badMeta.code,
      message: badMeta.message.replace(/^props/, 'meta.snowplow (contexts and parameters)'),
    };

  const eid = idParam(params.eid);
  // Keys are added in the json codec's order (meta last) so the log can stringify the event as it is.
  const event = { id: eid ?? uuidv7(facts.ts), type, ts: facts.ts, props } as TrackedEvent;
  const clientTs = derivedTimestamp(params, facts.ts);
  if (clientTs !== undefined) event.clientTs = clientTs;
  const partyId = idParam(params.tnuid) ?? idParam(params.nuid) ?? facts.partyId;
  if (partyId !== undefined) event.partyId = partyId;
  const sessionId = idParam(params.sid);
  if (sessionId !== undefined) event.sessionId = sessionId;
  const pageViewId = contexts === undefined ? undefined : webPageId(contexts);
  if (pageViewId !== undefined) event.pageViewId = pageViewId;
  const ip = params.ip !== undefined && isIP(params.ip) !== 0 ? params.ip : options.anonymous ? undefined : facts.ip;
  if (ip !== undefined) event.ip = ip;
  const ua = urlParam(params.ua) ?? facts.ua;
  if (ua !== undefined) event.ua = ua;
  const url = urlParam(params.url) ?? facts.referer;
  if (url !== undefined) event.url = url;
  const referrer = urlParam(params.refr);
  if (referrer !== undefined) event.referrer = referrer;

  event.meta = { source: 'snowplow' };
  if (params.uid !== undefined && params.uid.length > 0) event.meta.userId = params.uid;
  event.meta.snowplow = snowplow;
  if (eid !== undefined) facts.marks?.markClientId(event);
  return event;
}

/** The page view id the browser tracker puts in its `web_page` context on every event of a page. */
function webPageId(contexts: SelfDescribingJson[]): string | undefined {
  for (const entity of contexts) {
    if (!WEB_PAGE_SCHEMA.test(entity.schema) || !isObject(entity.data)) continue;
    return idParam(typeof entity.data.id === 'string' ? entity.data.id : undefined);
  }
  return undefined;
}
