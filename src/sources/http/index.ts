/**
 * The HTTP collector: `GET /t/<type>` (pixel), `POST /t/<type>` (one event, JSON or sendBeacon
 * text), `POST /batch` (JSON array or NDJSON), with CORS, body limits and gzip/deflate.
 * Every other path goes to `fallback`. See docs/http-api.md for the user-facing contract.
 */
export { createHttpServer, type BeaconHttpServer, type HttpServerDeps } from './server.js';
