import type { LimitsConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import type { Rejection } from './rejection.js';

/**
 * The checks every intake applies to an event's type and props (the HTTP collector, the
 * compatible protocols, the queue sources, `validate-file`), compiled once from `server.limits`.
 */

/** Longest client-given `id`, `partyId`, `sessionId` and `pageViewId`. */
export const MAX_ID_CHARS = 128;
/** Longest client-given `url` and `referrer`. */
export const MAX_URL_CHARS = 8192;

/** What the collector checks events against, compiled once from `server.limits`. */
export interface EventRules {
  typePattern: RegExp;
  propsBytes: number;
  propsDepth: number;
}

/**
 * The nesting depth a compatible endpoint (Segment, PostHog, ...) accepts whatever
 * `server.limits.propsDepth` says: the services they stand in for refuse no depth (Segment
 * documents none; its 32 KB per message is the only bound), so a native limit of 8 would
 * lose their events. 64 is far past what analytics SDKs send, keeps the depth walk and
 * JSON.stringify shallow against hostile input, and stays under the deepest document a sink
 * stores (MySQL's JSON type: 100 levels, with `meta` around the context).
 */
export const COMPATIBLE_PROPS_DEPTH = 64;

/**
 * The rules for a compatible endpoint: at least its original service's limits, so no event
 * that service would take is refused for its shape. `originalPropsBytes` is the service's
 * documented size of one message (Segment: 32 KB); the configured limits apply when larger.
 */
export function compatibleRules(rules: EventRules, originalPropsBytes = 0): EventRules {
  return {
    typePattern: rules.typePattern,
    propsBytes: Math.max(rules.propsBytes, originalPropsBytes),
    propsDepth: Math.max(rules.propsDepth, COMPATIBLE_PROPS_DEPTH),
  };
}

export function compileRules(
  limits: Pick<LimitsConfig, 'typePattern' | 'propsBytes' | 'propsDepth'> & Partial<LimitsConfig>,
): EventRules {
  let typePattern: RegExp;
  try {
    typePattern = new RegExp(limits.typePattern);
  } catch (err) {
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `server.limits.typePattern is not a valid regular expression: ${(err as Error).message}`,
      { field: 'server.limits.typePattern', value: limits.typePattern },
    );
  }
  return { typePattern, propsBytes: limits.propsBytes, propsDepth: limits.propsDepth };
}

export function checkType(type: string, rules: EventRules): Rejection | undefined {
  if (rules.typePattern.test(type)) return undefined;
  return {
    code: 'BEACON_E_BAD_TYPE',
    message: `event type ${JSON.stringify(type.slice(0, 100))} does not match server.limits.typePattern`,
  };
}

/**
 * Checks nesting depth (props itself is level 1) and the props' size as compact JSON in UTF-8.
 * `sizeBound` is an upper bound on that size known from the input (6 x the raw bytes: no
 * JSON value re-encodes to more than 6 times its source); when it is within the limit the
 * props are not serialised at all, which keeps the pixel path free of a JSON.stringify.
 */
export function checkProps(
  props: Record<string, unknown>,
  rules: EventRules,
  sizeBound: number,
): Rejection | undefined {
  if (exceedsDepth(props, rules.propsDepth)) {
    return { code: 'BEACON_E_PROPS_TOO_DEEP', message: `props nest deeper than ${rules.propsDepth} levels` };
  }
  if (sizeBound > rules.propsBytes) {
    // Depth is checked first, so JSON.stringify never recurses deeper than propsDepth (<= 64, COMPATIBLE_PROPS_DEPTH).
    const json = JSON.stringify(props);
    if (
      json.length > rules.propsBytes ||
      (json.length * 3 > rules.propsBytes && Buffer.byteLength(json) > rules.propsBytes)
    ) {
      return { code: 'BEACON_E_PROPS_TOO_LARGE', message: `props are larger than ${rules.propsBytes} bytes as JSON` };
    }
  }
  return undefined;
}

/** `container` is at level 1 with `levels` allowed; stops at the first level too deep. */
function exceedsDepth(container: object, levels: number): boolean {
  if (levels < 1) return true;
  if (Array.isArray(container)) {
    for (const value of container) {
      if (typeof value === 'object' && value !== null && exceedsDepth(value as object, levels - 1)) return true;
    }
    return false;
  }
  const record = container as Record<string, unknown>;
  for (const key in record) {
    const value = record[key];
    if (typeof value === 'object' && value !== null && exceedsDepth(value, levels - 1)) return true;
  }
  return false;
}
