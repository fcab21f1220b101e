import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRejection } from '../../event/rejection.js';
import { parseJsonBody, type ProtocolIntake } from './protocolIntake.js';
import type { ProtocolEndpoint } from './protocols.js';

/**
 * The HTTP side shared by the protocols that take one JSON event per `POST` at one path
 * (Plausible's `/api/event`, Umami's `/api/send`): the path with or without its trailing
 * slash, CORS preflights, 405 for other methods, the body read through the intake's bounds and
 * parsed as JSON whatever its media type. `accept` gets the parsed body and does the rest
 * (its own checks, mapping, commit, answer).
 */

export interface ParsedJson {
  value: unknown;
  /** An upper bound on the props' size, known from the raw body. */
  bound: number;
}

export type AcceptJson = (
  json: ParsedJson,
  req: IncomingMessage,
  res: ServerResponse,
  started: number,
  now: number,
) => Promise<void>;

export function createSingleEventEndpoint(path: string, intake: ProtocolIntake, accept: AcceptJson): ProtocolEndpoint {
  return {
    bodyBytes: intake.bodyLimits.bodyBytes,
    owns: (candidate) => candidate === path || candidate === path + '/',
    async handle(req, res, _path, _query, started, now) {
      if (req.method === 'OPTIONS') return intake.preflight(req, res);
      if (req.method !== 'POST') return intake.refuseMethod(req, res, 'POST, OPTIONS');
      const body = await intake.body(req, res);
      if (body === undefined) return;
      const parsed = parseJsonBody(body);
      if (isRejection(parsed)) return intake.refuse(req, res, parsed.code, parsed.message);
      return accept(parsed, req, res, started, now);
    },
  };
}
