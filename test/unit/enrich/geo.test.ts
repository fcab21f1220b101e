import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { bundledCountryDatabase, geoFromRecord, geoStep, openGeoDatabase } from '../../../src/enrich/geo.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { httpEvent } from './fixtures.js';

const reader = openGeoDatabase(undefined);

function geoOf(ip: unknown) {
  const event = httpEvent();
  (event as { ip?: unknown }).ip = ip;
  geoStep({ reader, cacheSize: 10 }).apply(event);
  return event.meta.geo;
}

describe('the geo step', () => {
  test('it ships the DB-IP country database inside the npm package', () => {
    assert.ok(existsSync(bundledCountryDatabase()));
    assert.match(bundledCountryDatabase(), /@ip-location-db[/\\]dbip-country-mmdb[/\\]dbip-country\.mmdb$/);
  });

  test('it locates 8.8.8.8 in the US with the bundled database', () => {
    assert.deepEqual(geoOf('8.8.8.8'), { country: 'US' });
  });

  test('it locates IPv6 addresses too', () => {
    const geo = geoOf('2001:4860:4860::8888') as { country: string } | undefined;
    assert.match(geo?.country ?? '', /^[A-Z]{2}$/);
  });

  test('it gives private, loopback and link-local addresses nothing', () => {
    for (const ip of [
      '10.0.0.1',
      '192.168.1.20',
      '172.16.5.4',
      '127.0.0.1',
      '169.254.1.1',
      '::1',
      'fd00::1',
      'fe80::1%eth0',
      '100.64.0.1',
    ]) {
      assert.equal(geoOf(ip), undefined, ip);
    }
  });

  test('it gives values that are not IP addresses nothing, and does not throw', () => {
    for (const ip of ['not-an-ip', '999.1.1.1', '', ' ', 42, null, { ip: '8.8.8.8' }, 'x'.repeat(5000)]) {
      assert.equal(geoOf(ip), undefined, String(ip));
    }
  });

  test('it answers the same from its cache', () => {
    const step = geoStep({ reader, cacheSize: 10 });
    const a = httpEvent({ ip: '8.8.8.8' });
    const b = httpEvent({ ip: '8.8.8.8' });
    step.apply(a);
    step.apply(b);
    assert.equal(a.meta.geo, b.meta.geo);
  });

  test('it reads region and city from a MaxMind city record and from an ip-location-db city record', () => {
    assert.deepEqual(
      geoFromRecord({
        country: { iso_code: 'DE' },
        subdivisions: [{ iso_code: 'BE', names: { en: 'Land Berlin' } }],
        city: { names: { en: 'Berlin' } },
      }),
      { country: 'DE', region: 'Land Berlin', city: 'Berlin' },
    );
    assert.deepEqual(geoFromRecord({ country_code: 'FR', state1: 'Ile-de-France', city: 'Paris' }), {
      country: 'FR',
      region: 'Ile-de-France',
      city: 'Paris',
    });
    assert.deepEqual(geoFromRecord({ country_code: 'US' }), { country: 'US' });
    assert.equal(geoFromRecord(null), undefined);
    assert.equal(geoFromRecord({ city: 'Nowhere' }), undefined);
  });

  test('it refuses at start a database path that cannot be opened, naming enrich.geo.mmdb', () => {
    assert.throws(
      () => openGeoDatabase('/nonexistent/GeoLite2-City.mmdb'),
      (err: unknown) =>
        isBeaconError(err) && err.code === 'BEACON_E_CONFIG_FIELD' && err.message.includes('enrich.geo.mmdb'),
    );
  });
});
