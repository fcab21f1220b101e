#!/usr/bin/env node
// Writes the nginx config that puts N Beacon collectors behind one TLS entry point
// (deploy/nginx/README.md explains every choice). Plain Node, no dependencies, so it runs
// wherever the config is built:
//
//   node deploy/nginx/generate.mjs --collector 10.0.0.11:8290 --collector 10.0.0.12:8290 \
//     --server-name collect.example.com > /etc/nginx/conf.d/beacon.conf
//
// deploy/nginx/beacon.conf is this script's output for the DEFAULTS below; a test keeps the two equal.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/** The values beacon.conf was generated with; each is a flag of the same name. */
export const DEFAULTS = Object.freeze({
  collectors: ['10.0.0.11:8290', '10.0.0.12:8290', '10.0.0.13:8290'],
  serverName: 'collect.example.com',
  cert: '/etc/nginx/tls/beacon.fullchain.pem',
  key: '/etc/nginx/tls/beacon.key',
  httpsListen: '443',
  httpListen: '80',
  bodySize: '1m',
  failTimeout: '5s',
  accessLog: '/var/log/nginx/beacon.access.log',
  api: [],
});

const FLAGS = {
  collector: { type: 'string', multiple: true },
  api: { type: 'string', multiple: true },
  'server-name': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'https-listen': { type: 'string' },
  'http-listen': { type: 'string' },
  'body-size': { type: 'string' },
  'fail-timeout': { type: 'string' },
  'access-log': { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean' },
};

const USAGE = `usage: node deploy/nginx/generate.mjs --collector HOST:PORT [--collector HOST:PORT ...] [options]

  --collector HOST:PORT  a Beacon collector (repeat for each; at least one)
  --api HOST:PORT        a server for /api/ (--role api or dispatcher; repeat for each); default: the collectors
  --server-name NAME     the public host name (default ${DEFAULTS.serverName})
  --cert PATH            certificate file, the full chain (default ${DEFAULTS.cert})
  --key PATH             its private key (default ${DEFAULTS.key})
  --https-listen ADDR    nginx listen address for HTTPS, [HOST:]PORT (default ${DEFAULTS.httpsListen})
  --http-listen ADDR     nginx listen address for plain HTTP, [HOST:]PORT (default ${DEFAULTS.httpListen})
  --body-size SIZE       largest request body; keep it equal to Beacon's server.limits.bodyBytes (default ${DEFAULTS.bodySize})
  --fail-timeout TIME    how long nginx leaves a failed collector out (default ${DEFAULTS.failTimeout})
  --access-log PATH      access log with the upstream each request went to (default ${DEFAULTS.accessLog})
  --out PATH             write the config here instead of stdout`;

/**
 * @typedef {object} NginxOptions
 * @property {string[]} collectors  HOST:PORT of each collector
 * @property {string} serverName
 * @property {string} cert
 * @property {string} key
 * @property {string} httpsListen  [HOST:]PORT
 * @property {string} httpListen   [HOST:]PORT
 * @property {string} bodySize     nginx size (1m, 512k)
 * @property {string} failTimeout  nginx time (5s)
 * @property {string} accessLog
 * @property {string[]} api        HOST:PORT of each server for /api/; empty: the collectors serve it
 */

const HOST_PORT = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;
const LISTEN = /^(?:(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):)?\d{1,5}$/;
const SIZE = /^\d+[kKmM]?$/;
const TIME = /^\d+(?:ms|s|m)?$/;
const NAME = /^[A-Za-z0-9.*-]+$/;
const PATH = /^[^\s;'"{}]+$/;

/** Throws an Error naming the first option that would make a broken config. */
export function checkOptions(/** @type {NginxOptions} */ o) {
  if (o.collectors.length === 0) throw new Error('give at least one --collector HOST:PORT');
  for (const c of o.collectors) if (!HOST_PORT.test(c)) throw new Error(`--collector ${JSON.stringify(c)}: expected HOST:PORT such as 10.0.0.11:8290`);
  if (new Set(o.collectors).size !== o.collectors.length) throw new Error('a --collector is listed twice; each collector once');
  for (const a of o.api) if (!HOST_PORT.test(a)) throw new Error(`--api ${JSON.stringify(a)}: expected HOST:PORT such as 10.0.0.21:8290`);
  if (new Set(o.api).size !== o.api.length) throw new Error('an --api server is listed twice; each once');
  if (!NAME.test(o.serverName)) throw new Error(`--server-name ${JSON.stringify(o.serverName)}: expected a host name such as collect.example.com`);
  for (const [flag, value] of [['--https-listen', o.httpsListen], ['--http-listen', o.httpListen]]) {
    if (!LISTEN.test(value)) throw new Error(`${flag} ${JSON.stringify(value)}: expected PORT or HOST:PORT`);
  }
  if (!SIZE.test(o.bodySize)) throw new Error(`--body-size ${JSON.stringify(o.bodySize)}: expected an nginx size such as 1m or 512k`);
  if (!TIME.test(o.failTimeout)) throw new Error(`--fail-timeout ${JSON.stringify(o.failTimeout)}: expected an nginx time such as 5s`);
  for (const [flag, value] of [['--cert', o.cert], ['--key', o.key], ['--access-log', o.accessLog]]) {
    if (!PATH.test(value)) throw new Error(`${flag} ${JSON.stringify(value)}: expected a path without spaces, quotes, braces or semicolons`);
  }
}

/** The port part of a listen address. */
function portOf(listen) {
  return listen.slice(listen.lastIndexOf(':') + 1);
}

/** The upstream each request went to (two when nginx retried), for the access log. */
function logFormat() {
  return `log_format beacon_upstream '$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent '
                           'upstream=$upstream_addr upstream_status=$upstream_status '
                           'request_time=$request_time upstream_time=$upstream_response_time';`;
}

/** Proxy settings both servers share; a location that sets its own proxy_set_header repeats them (nginx does not merge those). */
function proxySettings(o) {
  return `    # Equal to Beacon's server.limits.bodyBytes, so nginx refuses what Beacon would, with Beacon's answer.
    client_max_body_size ${o.bodySize};
    # Bodies stay in memory: nginx holds each whole body (proxy_request_buffering, on by default)
    # so it can send it again to the next collector.
    client_body_buffer_size ${o.bodySize};
    error_page 413 = @beacon_body_too_large;

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    # Beacon (server.trustProxy: true) takes the client from the first X-Forwarded-For hop, so
    # nginx, the edge, replaces whatever the client put there instead of appending to it.
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;

    # A server that refuses or drops the connection, times out, or answers 502/503 (stopping,
    # log full): the request goes to the next one. Only GETs here; event paths add POSTs below.
    proxy_next_upstream error timeout http_502 http_503;
    proxy_next_upstream_tries ${Math.min(3, o.collectors.length)};
    proxy_next_upstream_timeout 30s;
    proxy_connect_timeout 2s;
    proxy_send_timeout 15s;
    # Above log.appendTimeout (15 s on a JetStream log): a collector waiting out a leader
    # election answers before nginx gives up on it.
    proxy_read_timeout 20s;

    access_log ${o.accessLog} beacon_upstream;`;
}

/**
 * The event paths: pixels and single events, batches, the Segment-compatible API. Their POSTs
 * are re-sent to the next collector too (non_idempotent): Beacon answers 2xx only once events
 * are durable, and events with a client id are recognised by that id wherever they land
 * again (README: "Retries and duplicates").
 */
function eventLocations() {
  const retry = 'proxy_next_upstream error timeout http_502 http_503 non_idempotent;';
  return ['location /t/', 'location = /batch', 'location /v1/']
    .map((loc) => `    ${loc} {
        proxy_pass http://beacon_collectors;
        ${retry}
    }`)
    .join('\n');
}

/** The servers behind /api/ when they are not the collectors (scaled mode: --role api or dispatcher). */
function apiUpstream(o) {
  if (o.api.length === 0) return '';
  const servers = o.api.map((a) => `    server ${a} max_fails=1 fail_timeout=${o.failTimeout};`).join('\n');
  return `
upstream beacon_api_servers {
${servers}
    keepalive 16;
    keepalive_timeout 60s;
}
`;
}

/** Beacon's own 413 answer, for bodies nginx refuses before Beacon sees them. */
function tooLargeLocation(o) {
  return `    location @beacon_body_too_large {
        default_type application/json;
        return 413 '{"code":"BEACON_E_BODY_TOO_LARGE","message":"the request body is larger than ${o.bodySize} (the proxy limit, equal to server.limits.bodyBytes); send smaller batches"}\\n';
    }`;
}

/**
 * The nginx config (for the `http {}` block) for `o`. Pure: the same options give the same text.
 * @param {NginxOptions} o
 * @returns {string}
 */
export function renderNginxConfig(o) {
  checkOptions(o);
  const httpsPort = portOf(o.httpsListen);
  const redirectHost = httpsPort === '443' ? '$host' : `$host:${httpsPort}`;
  const servers = o.collectors.map((c) => `    server ${c} max_fails=1 fail_timeout=${o.failTimeout};`).join('\n');
  return `# Beacon behind nginx: ${o.collectors.length} collector${o.collectors.length === 1 ? '' : 's'}, consistent URI hashing, TLS, retries on the next collector.
#
# Generated by deploy/nginx/generate.mjs: regenerate it (rather than edit it) when collectors
# come and go. It belongs in the http {} block (e.g. /etc/nginx/conf.d/beacon.conf).
# deploy/nginx/README.md says why each setting is what it is.

${logFormat()}

upstream beacon_collectors {
    # An exact repeat of a request reaches the collector that saw it first, whose duplicate
    # memory flags it (Divolte's rule). Consistent (ketama): adding or removing a collector
    # moves only about 1/N of the URIs, so the other collectors' memories stay useful.
    hash $request_uri consistent;
${servers}
    # Idle connections kept open to the collectors, per nginx worker.
    keepalive 32;
    # Shorter than Beacon's server.keepAliveTimeoutMs (65 s): nginx closes an idle connection
    # before Beacon would, so it never sends a request on a connection Beacon is closing.
    keepalive_timeout 60s;
    keepalive_requests 10000;
}
${apiUpstream(o)}
# Plain HTTP: events are taken as they are; everything else moves to HTTPS.
server {
    listen ${o.httpListen};
    server_name ${o.serverName};
    server_tokens off;

${proxySettings(o)}

    # Event paths answer here, without a redirect: a 301/302 turns a POST into a GET (the
    # events are lost), and a pixel or an SDK with an http:// URL baked in should not pay a
    # second round trip per event.
${eventLocations()}

    # The web page, the API, /live and /beacon.js: HTTPS only.
    location / {
        return 301 https://${redirectHost}$request_uri;
    }

${tooLargeLocation(o)}
}

server {
    listen ${o.httpsListen} ssl http2;
    server_name ${o.serverName};
    server_tokens off;

    ssl_certificate ${o.cert};
    ssl_certificate_key ${o.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    # TLS 1.2: forward-secret AEAD suites only (Mozilla's intermediate list without the DHE
    # suites, which would need a dhparam file). TLS 1.3 suites are all modern.
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off;
    # Resumed sessions skip the full handshake: a 10 MB cache holds about 40 000 sessions,
    # shared by every nginx worker. No tickets: their keys would need rotating to keep
    # forward secrecy, and the cache resumes sessions without them.
    ssl_session_cache shared:beacon_tls:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;
    add_header Strict-Transport-Security "max-age=63072000" always;

${proxySettings(o)}

    # Event paths (POSTs too are re-sent to the next collector).
${eventLocations()}

    # The query and admin API. Not re-sent when a POST fails: a replay or a reload is not
    # idempotent. (Each process answers for its own sinks: see README, "The API".)
    location /api/ {
        proxy_pass http://${o.api.length > 0 ? 'beacon_api_servers' : 'beacon_collectors'};
    }

    # The web page, /beacon.js, /healthz, /readyz.
    location / {
        proxy_pass http://beacon_collectors;
    }

    # The live stream: a WebSocket, held open.
    location = /live {
        proxy_pass http://beacon_collectors;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_read_timeout 1h;
        proxy_send_timeout 1h;
    }

    # Prometheus scrapes each collector directly: through the hash it would reach one
    # collector only, and the metrics are not for the public.
    location = /metrics {
        default_type application/json;
        return 404 '{"code":"BEACON_E_NOT_FOUND","message":"/metrics is not served through the proxy; scrape each collector directly"}\\n';
    }

${tooLargeLocation(o)}
}
`;
}

/** Options from command-line arguments (DEFAULTS for what is not given). */
export function optionsFromArgs(/** @type {string[]} */ args) {
  const { values } = parseArgs({ args, options: FLAGS, allowPositionals: false, strict: true });
  return {
    help: values.help === true,
    out: values.out,
    options: {
      collectors: values.collector ?? [],
      api: values.api ?? [],
      serverName: values['server-name'] ?? DEFAULTS.serverName,
      cert: values.cert ?? DEFAULTS.cert,
      key: values.key ?? DEFAULTS.key,
      httpsListen: values['https-listen'] ?? DEFAULTS.httpsListen,
      httpListen: values['http-listen'] ?? DEFAULTS.httpListen,
      bodySize: values['body-size'] ?? DEFAULTS.bodySize,
      failTimeout: values['fail-timeout'] ?? DEFAULTS.failTimeout,
      accessLog: values['access-log'] ?? DEFAULTS.accessLog,
    },
  };
}

function main() {
  let parsed;
  try {
    parsed = optionsFromArgs(process.argv.slice(2));
    if (parsed.help) {
      console.log(USAGE);
      return;
    }
    const text = renderNginxConfig(parsed.options);
    if (parsed.out) writeFileSync(parsed.out, text);
    else process.stdout.write(text);
  } catch (err) {
    console.error(`generate.mjs: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
