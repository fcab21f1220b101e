import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../../src/config/load.js';
import { redactConfig } from '../../../../src/config/redact.js';
import { compilePrefix } from '../../../../src/sinks/s3/objectKey.js';

const base = {
  name: 'lake',
  type: 's3',
  bucket: 'events',
  accessKeyId: 'AKIAEXAMPLE',
  secretAccessKey: 'very-secret-value',
};

function problems(sink: Record<string, unknown>): string {
  try {
    validateConfig({ sinks: [sink] });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('s3 sink config', () => {
  it('takes the documented shape with its defaults', () => {
    const config = validateConfig({ sinks: [base] });
    assert.deepEqual(config.sinks[0], {
      ...base,
      codec: 'json',
      batch: { maxEvents: 500, maxWaitMs: 200, inFlight: 1 },
      badStream: 'exclude',
      region: 'us-east-1',
      forcePathStyle: false,
      prefix: 'events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/',
      format: 'parquet',
      roll: { maxBytes: 128 * 1024 * 1024, maxEvents: 1_000_000, maxAge: 300_000 },
    });
  });

  it('refuses an unknown placeholder, ndjson with zstd, and half a pair of credentials, naming the field', () => {
    assert.match(problems({ ...base, prefix: 'events/{user}/' }), /prefix.*unknown placeholder \{user\}/s);
    assert.match(problems({ ...base, prefix: 'events' }), /prefix must end with "\/"/);
    assert.match(problems({ ...base, format: 'ndjson', compression: 'zstd' }), /compression.*gzip or none/s);
    assert.match(
      problems({ name: 'lake', type: 's3', bucket: 'events', accessKeyId: 'x' }),
      /accessKeyId and secretAccessKey go together/,
    );
    assert.match(
      problems({ ...base, accessKeyIdEnv: 'K', secretAccessKeyEnv: 'S' }),
      /either inline .* or by environment/,
    );
  });

  it('redacts both credentials wherever the config is shown', () => {
    const shown = JSON.stringify(redactConfig(validateConfig({ sinks: [base] })));
    assert.doesNotMatch(shown, /very-secret-value|AKIAEXAMPLE/);
    assert.match(shown, /"secretAccessKey":"\*\*\*"/);
  });

  it('partitions by type and UTC hour of the receive time', () => {
    const prefixOf = compilePrefix('events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/m={mm}/');
    const ts = Date.UTC(2026, 0, 2, 3, 4, 5);
    assert.equal(
      prefixOf({ id: 'a', type: 'page.view', ts, props: {}, meta: {} }),
      'events/type=page.view/dt=2026-01-02/hr=03/m=04/',
    );
    assert.equal(
      prefixOf({ id: 'a', type: '../x', ts, props: {}, meta: {} }).split('/').length,
      6,
      'a strange type never adds a folder',
    );
  });

  it('gives every event the prefix of its own minute, hour and day across boundaries, types interleaved', () => {
    const templates = [
      'events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/',
      'events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/m={mm}/',
      'y={yyyy}/m={MM}/',
      'd={dd}/t={type}/',
      'all/',
      '{type}/',
    ];
    const edges = [
      Date.UTC(2026, 11, 31, 23, 59, 59, 999), // the last ms of a year
      Date.UTC(2028, 1, 28, 23, 0, 0), // into a leap day
      Date.UTC(2026, 2, 29, 0, 59, 59, 999), // the hour a European zone changes to summer time
      Date.UTC(1969, 11, 31, 23, 59, 59, 999), // before the epoch: negative ts
      Date.UTC(2026, 5, 15, 12, 29, 59, 999),
    ];
    const events = [];
    for (const edge of edges)
      for (const step of [0, 1, 2, 59_999, 60_000, 3_599_999, 3_600_000, 86_399_999, -1, 86_400_000, 1])
        for (const type of ['page.view', 'click', 'page.view'])
          events.push({ id: 'a', type, ts: edge + step, props: {}, meta: {} });
    // Reversed as well: late events arrive after later ones.
    for (const e of [...events].reverse()) events.push(e);
    for (const template of templates) {
      const remembering = compilePrefix(template);
      for (const event of events) {
        // A fresh function has nothing remembered: what the template gives this event alone.
        assert.equal(
          remembering(event),
          compilePrefix(template)(event),
          `${template} at ${new Date(event.ts).toISOString()}`,
        );
      }
    }
    const hourly = compilePrefix('dt={yyyy}-{MM}-{dd}/hr={HH}/');
    const last = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    assert.equal(hourly({ id: 'a', type: 't', ts: last, props: {}, meta: {} }), 'dt=2026-12-31/hr=23/');
    assert.equal(hourly({ id: 'a', type: 't', ts: last + 1, props: {}, meta: {} }), 'dt=2027-01-01/hr=00/');
    assert.equal(hourly({ id: 'a', type: 't', ts: last, props: {}, meta: {} }), 'dt=2026-12-31/hr=23/');
  });
});
