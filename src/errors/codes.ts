/**
 * Every error code a user can meet, in one place. `docs/errors.md` lists each of them and a
 * test fails when the two disagree. `status` is the HTTP status used when the error reaches a
 * client; `hint` tells the user what to do next.
 */
export const ERROR_CODES = {
  // config
  BEACON_E_CONFIG_FIELD: {
    status: 500,
    hint: 'Fix the named field in your config file or BEACON_ environment variable.',
  },
  BEACON_E_CONFIG_UNKNOWN_KEY: { status: 500, hint: 'Remove the key or correct its spelling.' },
  BEACON_E_CONFIG_PARSE: { status: 500, hint: 'The file must be valid YAML or JSON; check the line named.' },
  BEACON_E_CONFIG_UNREACHABLE: { status: 500, hint: 'Check the path or URL, or that the config server is up.' },
  BEACON_E_RELOAD_REFUSED: {
    status: 422,
    hint: 'Beacon kept running with its previous config. Fix what the message names (check it first with `beacon check-config --config ...`), then reload again.',
  },
  BEACON_E_SCHEMA_LOAD: {
    status: 500,
    hint: 'A file under schemas.dir or schemas.types cannot be read or is not a valid JSON Schema; fix the file named (ajv says what is wrong) and start again.',
  },
  // intake (HTTP and queue sources)
  BEACON_E_BODY_TOO_LARGE: { status: 413, hint: 'Send smaller requests or raise server.limits.bodyBytes.' },
  BEACON_E_DECOMPRESSED_TOO_LARGE: {
    status: 413,
    hint: 'The decompressed body exceeds server.limits.decompressedBytes.',
  },
  BEACON_E_BAD_ENCODING: {
    status: 400,
    hint: 'Content-Encoding must be gzip, deflate or identity, and the body must match it.',
  },
  BEACON_E_BAD_JSON: { status: 400, hint: 'The body must be valid JSON (or NDJSON for /batch).' },
  BEACON_E_BAD_EVENT: { status: 400, hint: 'Each event must be a JSON object with a string "type".' },
  BEACON_E_BAD_TYPE: { status: 400, hint: 'Event types must match server.limits.typePattern.' },
  BEACON_E_PROPS_TOO_LARGE: { status: 400, hint: 'Keep props under server.limits.propsBytes when encoded as JSON.' },
  BEACON_E_PROPS_TOO_DEEP: { status: 400, hint: 'Flatten props to at most server.limits.propsDepth levels.' },
  BEACON_E_BATCH_TOO_LARGE: { status: 413, hint: 'Send at most server.limits.batchEvents events per batch.' },
  BEACON_E_JSON_TOO_DEEP: {
    status: 400,
    hint: 'The JSON nests deeper than server.limits.jsonDepth; flatten the data (splitting the request does not help) or raise the limit.',
  },
  BEACON_E_JSON_TOO_MANY_ELEMENTS: {
    status: 413,
    hint: 'The body holds more array elements and object members than server.limits.jsonElements; send fewer events per request or raise the limit.',
  },
  BEACON_E_BUSY: {
    status: 503,
    hint: 'Too many large bodies were being read at once (server.limits.largeBodiesAtOnce); retry after the Retry-After delay, or send smaller requests.',
  },
  BEACON_E_UNSUPPORTED_MEDIA_TYPE: { status: 415, hint: 'Send application/json, text/plain or application/x-ndjson.' },
  BEACON_E_NOT_FOUND: { status: 404, hint: 'See the endpoint list in the README.' },
  BEACON_E_METHOD_NOT_ALLOWED: {
    status: 405,
    hint: 'See the endpoint list in the README for the methods each path takes.',
  },
  BEACON_E_REQUEST_TIMEOUT: { status: 408, hint: 'Send the whole request within server.requestTimeoutMs.' },
  BEACON_E_BAD_REQUEST: {
    status: 400,
    hint: "The request is not valid HTTP/1.1 (node's parser refused it: a bad method, header or chunk); fix the client or the proxy in front.",
  },
  BEACON_E_HEADERS_TOO_LARGE: {
    status: 431,
    hint: "The request line and headers together exceed node's 16 KiB (--max-http-header-size); send a shorter URL (a POST body instead of a long query) or fewer cookies.",
  },
  BEACON_E_EXPECTATION_FAILED: {
    status: 417,
    hint: 'Beacon only understands `Expect: 100-continue`; drop any other Expect header.',
  },
  BEACON_E_BOT_DROPPED: {
    status: 204,
    hint: 'Not an error: enrich.bots.drop is on and the user agent is a bot; the client got its usual answer. Turn drop off to keep bot events.',
  },
  BEACON_E_DUPLICATE_DROPPED: {
    status: 204,
    hint: 'Not an error: enrich.duplicates.action is drop and the event repeats a recent request or client event id; the client got its usual answer. Set action to flag to keep duplicates.',
  },
  BEACON_E_CORRUPT_DROPPED: {
    status: 204,
    hint: 'Not an error: enrich.corruption.action is drop and the payload did not match the checksum its client sent (cs); the client got its usual answer. Set action to flag or dead-letter to keep such events.',
  },
  BEACON_E_CORRUPT_DEAD_LETTERED: {
    status: 204,
    hint: 'Not an error: enrich.corruption.action is dead-letter and the payload did not match its checksum (cs); the events are in dataDir/dlq/corrupt-<partition>.ndjson with the reason, and the client got its usual answer.',
  },
  BEACON_E_TRACKER_NOT_BUILT: {
    status: 404,
    hint: 'The browser tracker bundle is missing: run `npm run build` (it writes dist/tracker/beacon.js) and restart Beacon.',
  },
  BEACON_E_IDENTITY_SALT: {
    status: 500,
    hint: 'Cookieless ids need a writable dataDir/identity directory for the daily salt; check its permissions and free space.',
  },
  BEACON_E_SCHEMA_INVALID: {
    status: 400,
    hint: "The event's props do not match the JSON Schema of its type (schemas.mode is strict); fix the sender, or the schema (docs/schemas.md). `beacon validate` checks a file of events offline.",
  },
  BEACON_E_SEGMENT_UNAUTHORIZED: {
    status: 401,
    hint: 'Send a write key listed in segment.writeKeys as the HTTP Basic user name (what Segment SDKs do with their writeKey), or as "writeKey" in the JSON body.',
  },
  BEACON_E_SNOWPLOW_APP_ID: {
    status: 403,
    hint: "The Snowplow event's app id (`aid`, the tracker's appId) is not in snowplow.appIds: add it there, or fix the tracker's appId. An empty list accepts any app id.",
  },
  BEACON_E_POSTHOG_UNAUTHORIZED: {
    status: 401,
    hint: 'Give the PostHog client a project API key listed in posthog.apiKeys (its `api_key` / `token`).',
  },
  BEACON_E_PLAUSIBLE_DOMAIN: {
    status: 403,
    hint: 'Send events for a domain listed in plausible.domains, or add the domain there (an empty list accepts any).',
  },
  BEACON_E_UMAMI_WEBSITE: {
    status: 403,
    hint: 'Send events for a website id listed in umami.websites, or add it there (an empty list accepts any).',
  },
  BEACON_E_GA_UNAUTHORIZED: {
    status: 401,
    hint: 'Send measurement_id (or firebase_app_id) and api_secret in the query string, as a stream listed in ga4.streams.',
  },
  BEACON_E_INTERNAL: {
    status: 500,
    hint: 'A bug in Beacon: the request was not accepted. Retry, and report it with the server log line.',
  },
  // log
  BEACON_E_LOG_FULL: {
    status: 503,
    hint: 'Retry after the Retry-After delay; sinks are behind. Raise log.maxBytes or fix the slow sink.',
  },
  BEACON_E_LOG_CLOSED: { status: 503, hint: 'Beacon is shutting down; retry against another instance.' },
  BEACON_E_LOG_IO: { status: 500, hint: 'Check the disk under dataDir (space, permissions).' },
  BEACON_E_LOG_UNAVAILABLE: {
    status: 503,
    hint: 'The shared log (NATS JetStream, log.servers) did not acknowledge in time, so nothing was accepted: retry. Check that the NATS servers are up and the stream has a quorum (`nats stream info <log.stream>`).',
  },
  BEACON_E_LOG_CONFIG: {
    status: 500,
    hint: 'The JetStream stream or consumer does not fit what Beacon needs (the message names the setting): fix log.* or the stream (nats stream edit/rm), then start again.',
  },
  // sinks and dispatch
  BEACON_E_SINK_REJECTED: {
    status: 500,
    hint: 'The destination refused these events for good; see the reason, fix and run `beacon replay`.',
  },
  BEACON_E_SINK_UNREACHABLE: {
    status: 500,
    hint: 'Beacon keeps retrying; check that the destination is up and reachable.',
  },
  BEACON_E_SINK_FATAL: {
    status: 500,
    hint: 'The sink stopped; fix its config and restart Beacon. Events wait in the log.',
  },
  BEACON_E_SINK_UNKNOWN: { status: 404, hint: 'Run `beacon status` to list the configured sinks.' },
  BEACON_E_REPLAY: { status: 400, hint: 'Check the replay options with `beacon replay --help`.' },
  BEACON_E_REPLAY_POSITION: {
    status: 400,
    hint: 'A replay position names partitions that exist, each with a whole number in the range the message gives (see `beacon status` and docs/operations.md#replay); or replay from start, end or a time.',
  },
  BEACON_E_CURSOR_UNREADABLE: {
    status: 500,
    hint: 'The sink stopped rather than guess where it was: move the named cursor file aside to deliver the retained log again, or write a position within range into it, then restart (docs/operations.md#replay).',
  },
  // query and admin API
  BEACON_E_UNAUTHORIZED: {
    status: 401,
    hint: 'Send `Authorization: Bearer <token>` with a token from api.tokens (the CLI reads BEACON_TOKEN; /live also takes ?token=).',
  },
  BEACON_E_FORBIDDEN: {
    status: 403,
    hint: 'This endpoint needs a token with the named scope; ask for one or use a token listed with that scope in api.tokens.',
  },
  BEACON_E_BAD_QUERY: {
    status: 400,
    hint: 'Fix the named query-string parameter; docs/http-api.md lists what each endpoint takes.',
  },
  BEACON_E_ADMIN_TLS_REQUIRED: {
    status: 403,
    hint: 'api.adminRequireTls is on: call admin endpoints over https (server.tls, or a TLS proxy sending X-Forwarded-Proto: https with server.trustProxy).',
  },
  BEACON_E_ADMIN_LOOPBACK_ONLY: {
    status: 403,
    hint: 'No api.tokens are configured, so the admin and query API and /live answer only on the machine itself. Configure api.tokens (docs/security.md) to call them from elsewhere, or use an SSH tunnel.',
  },
  BEACON_E_HOST_NOT_ALLOWED: {
    status: 403,
    hint: 'The Host header is not a name Beacon knows as its own (against DNS rebinding): use localhost or an IP address, or add the name to api.allowedHosts (docs/security.md).',
  },
  BEACON_E_ORIGIN_NOT_ALLOWED: {
    status: 403,
    hint: "A page of another origin tried to change state or open /live; only Beacon's own page and origins listed in server.cors.origins (not *) may (docs/security.md).",
  },
  BEACON_E_ADMIN_NETWORK: {
    status: 403,
    hint: 'Admin endpoints only answer clients in api.adminNetworks; call from a listed network (e.g. on the host itself) or add yours.',
  },
  // query stores (store.type postgres | mysql | clickhouse)
  BEACON_E_STORE_UNAVAILABLE: {
    status: 503,
    hint: 'The store database did not answer (the writer and every replica); the message names each server and why. Check they are up and reachable, then retry.',
  },
  BEACON_E_STORE_TIMEOUT: {
    status: 504,
    hint: 'The query ran past store.queryTimeout and was cancelled; the server stays in use. Narrow the query (a shorter from/to range, a type, fewer where conditions) or raise store.queryTimeout.',
  },
  BEACON_E_STORE_QUERY: {
    status: 500,
    hint: 'The store database refused the query; the message says what to fix (a missing table or column, a grant, a column type), see docs/query-stores.md.',
  },
  // embedded store (store.type embedded) and the query endpoints
  BEACON_E_STORE_OPEN: {
    status: 500,
    hint: 'The embedded store file under dataDir/store could not be opened: stop the other Beacon using this dataDir (one process per dataDir), free the disk, or move a damaged file away and rebuild the store with `beacon replay --sink _store --from-start`.',
  },
  BEACON_E_STORE_IO: {
    status: 500,
    hint: 'The embedded store failed on a query: check the disk under dataDir/store (space, permissions) and the server log; raise store.memoryLimit or store.maxTempBytes if the message says memory or temp space ran out.',
  },
  BEACON_E_STORE_OFF: {
    status: 404,
    hint: 'store.type is none, so there is nothing to query: set store.type to embedded (the default) or to a SQL store and restart.',
  },
  BEACON_E_EVENT_NOT_FOUND: {
    status: 404,
    hint: 'No stored event has this id: check the id, or wait a moment if it was just sent (the store trails the log by its batch wait); events past store.retention are deleted.',
  },
  // TLS and alerts
  BEACON_E_TLS_FILE: {
    status: 500,
    hint: 'Check server.tls: cert, key (and ca) must be readable PEM files, and the key must belong to the certificate.',
  },
  BEACON_E_ALERT_NOTIFY: {
    status: 500,
    hint: "An alert message could not be sent; Beacon retries for the channel's retryFor. Check the channel's host, credentials or URL against the reason logged.",
  },
  // web page
  BEACON_E_WEB_NOT_BUILT: {
    status: 503,
    hint: 'The web page is not in dist/web: run `npm run build` (or `node scripts/build-web.mjs`) where Beacon is installed, then reload.',
  },
  // CLI
  BEACON_E_NOT_RUNNING: { status: 500, hint: 'Start Beacon with `beacon start`, or pass --url for a remote instance.' },
  BEACON_E_ROLE_CONFIG: {
    status: 500,
    hint: 'The role cannot run with this config; the message names the field to change, or run `beacon start` with the default --role all.',
  },
  // installed packages (bin/beacon of the tarball, .deb and RPM: deploy/package/beacon.sh)
  BEACON_E_NODE_VERSION: {
    status: 500,
    hint: "Install Node.js 20.10 or newer (Debian bookworm's own nodejs is 18: use the NodeSource or nodejs.org build), or point BEACON_NODE at one.",
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
