import { unescape } from 'node:querystring';
import { checkType, type EventRules } from '../../../event/rules.js';
import type { Rejection } from '../../../event/rejection.js';

export const TRACK_PREFIX = '/t/';

/**
 * The event type of `/t/<type>` (GET and POST), percent-decoded and checked against
 * `server.limits.typePattern`. For the pixel (`pixel: true`) a `.gif` suffix is no part of
 * the type: `/t/view.gif` is type `view`, answered with a GIF (`gif: true`).
 */
export function trackedType(
  path: string,
  rules: EventRules,
  pixel: boolean,
): { type: string; gif: boolean } | Rejection {
  let type = path.slice(TRACK_PREFIX.length);
  const gif = pixel && type.endsWith('.gif');
  if (gif) type = type.slice(0, -4);
  if (type.includes('%')) type = unescape(type);
  return checkType(type, rules) ?? { type, gif };
}
