/**
 * Every error code a user can meet, in one place. `docs/errors.md` lists each of them and a
 * test fails when the two disagree. `status` is the HTTP status used when the error reaches a
 * client; `hint` tells the user what to do next.
 */
export const ERROR_CODES = {
  // config
  BEACON_E_CONFIG_FIELD: { status: 500, hint: 'Fix the named field in your config file or BEACON_ environment variable.' },
  BEACON_E_CONFIG_UNKNOWN_KEY: { status: 500, hint: 'Remove the key or correct its spelling.' },
  BEACON_E_CONFIG_PARSE: { status: 500, hint: 'The file must be valid YAML or JSON; check the line named.' },
  BEACON_E_CONFIG_UNREACHABLE: { status: 500, hint: 'Check the path or URL, or that the config server is up.' },
  // intake (HTTP and queue sources)
  BEACON_E_BODY_TOO_LARGE: { status: 413, hint: 'Send smaller requests or raise server.limits.bodyBytes.' },
  BEACON_E_DECOMPRESSED_TOO_LARGE: { status: 413, hint: 'The decompressed body exceeds server.limits.decompressedBytes.' },
  BEACON_E_BAD_ENCODING: { status: 400, hint: 'Content-Encoding must be gzip, deflate or identity, and the body must match it.' },
  BEACON_E_BAD_JSON: { status: 400, hint: 'The body must be valid JSON (or NDJSON for /batch).' },
  BEACON_E_BAD_EVENT: { status: 400, hint: 'Each event must be a JSON object with a string "type".' },
  BEACON_E_BAD_TYPE: { status: 400, hint: 'Event types must match server.limits.typePattern.' },
  BEACON_E_PROPS_TOO_LARGE: { status: 400, hint: 'Keep props under server.limits.propsBytes when encoded as JSON.' },
  BEACON_E_PROPS_TOO_DEEP: { status: 400, hint: 'Flatten props to at most server.limits.propsDepth levels.' },
  BEACON_E_BATCH_TOO_LARGE: { status: 413, hint: 'Send at most server.limits.batchEvents events per batch.' },
  BEACON_E_UNSUPPORTED_MEDIA_TYPE: { status: 415, hint: 'Send application/json, text/plain or application/x-ndjson.' },
  BEACON_E_NOT_FOUND: { status: 404, hint: 'See the endpoint list in the README.' },
  BEACON_E_METHOD_NOT_ALLOWED: { status: 405, hint: 'See the endpoint list in the README for the methods each path takes.' },
  BEACON_E_REQUEST_TIMEOUT: { status: 408, hint: 'Send the whole request within server.requestTimeoutMs.' },
  BEACON_E_BOT_DROPPED: { status: 204, hint: 'Not an error: enrich.bots.drop is on and the user agent is a bot; the client got its usual answer. Turn drop off to keep bot events.' },
  BEACON_E_DUPLICATE_DROPPED: { status: 204, hint: 'Not an error: enrich.duplicates.action is drop and the event repeats a recent request or client event id; the client got its usual answer. Set action to flag to keep duplicates.' },
  BEACON_E_INTERNAL: { status: 500, hint: 'A bug in Beacon: the request was not accepted. Retry, and report it with the server log line.' },
  // log
  BEACON_E_LOG_FULL: { status: 503, hint: 'Retry after the Retry-After delay; sinks are behind. Raise log.maxBytes or fix the slow sink.' },
  BEACON_E_LOG_CLOSED: { status: 503, hint: 'Beacon is shutting down; retry against another instance.' },
  BEACON_E_LOG_IO: { status: 500, hint: 'Check the disk under dataDir (space, permissions).' },
  // sinks and dispatch
  BEACON_E_SINK_REJECTED: { status: 500, hint: 'The destination refused these events for good; see the reason, fix and run `beacon replay`.' },
  BEACON_E_SINK_UNREACHABLE: { status: 500, hint: 'Beacon keeps retrying; check that the destination is up and reachable.' },
  BEACON_E_SINK_FATAL: { status: 500, hint: 'The sink stopped; fix its config and restart Beacon. Events wait in the log.' },
  BEACON_E_SINK_UNKNOWN: { status: 404, hint: 'Run `beacon status` to list the configured sinks.' },
  BEACON_E_REPLAY: { status: 400, hint: 'Check the replay options with `beacon replay --help`.' },
  // CLI
  BEACON_E_NOT_RUNNING: { status: 500, hint: 'Start Beacon with `beacon start`, or pass --url for a remote instance.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
