import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { BeaconError } from '../errors/beaconError.js';
import type { AdminRequest } from './adminRequest.js';
import type { ApiRoute } from './route.js';

/**
 * Where admin endpoints may be called from: `api.adminRequireTls` (only over https) and
 * `api.adminNetworks` (only from listed networks). Both are checked before the token, so a
 * stolen admin token is of no use from outside the listed networks or over plain http.
 *
 * "Admin endpoints" are the routes of class `admin` (status, dead letters, config, replay)
 * and any route needing the `admin` scope. Behind a proxy (`server.trustProxy`) the client is
 * the *last* X-Forwarded-For address, the one the proxy itself added: earlier ones are
 * whatever the client sent, so trusting them would let anyone claim a listed address. Over
 * a proxy, TLS is the last X-Forwarded-Proto value, which the proxy must set.
 */
export interface AdminAccessConfig {
  adminNetworks: readonly string[];
  adminRequireTls: boolean;
}

/** Refuses a request to a route, or lets it through (undefined). */
export type RouteGuard = (route: Pick<ApiRoute, 'class' | 'scope'>, req: AdminRequest) => BeaconError | undefined;

interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `192.168.1.7` (one host), `::1`, `fd00::/8`; a string saying what is wrong otherwise. */
export function parseNetwork(text: string): Network | string {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (!family || rest.length > 0)
    return `expected an address or CIDR network such as 10.0.0.0/8, 192.168.1.7 or fd00::/8; got ${JSON.stringify(text)}`;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (prefixText !== undefined && !/^\d+$/.test(prefixText))
  ) {
    return `the prefix of ${JSON.stringify(text)} must be a whole number from 0 to ${max}`;
  }
  return { address, prefix, family };
}

/** One entry of `api.adminNetworks`, checked when the config loads. */
export const adminNetworkSchema = z.string().superRefine((text, ctx) => {
  const parsed = parseNetwork(text);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is `10.0.0.1`. */
function unmapIpv4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The last value of a comma-separated header (the hop nearest to Beacon). */
function lastValue(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const last = header.slice(header.lastIndexOf(',') + 1).trim();
  return last === '' ? undefined : last;
}

export function adminClientAddress(req: AdminRequest, trustProxy: boolean): string | undefined {
  const ip = trustProxy ? (lastValue(req.headers['x-forwarded-for']) ?? req.remoteAddress) : req.remoteAddress;
  return ip === undefined ? undefined : unmapIpv4(ip);
}

export function adminRequestIsTls(req: AdminRequest, trustProxy: boolean): boolean {
  if (req.tls) return true;
  return trustProxy && lastValue(req.headers['x-forwarded-proto'])?.toLowerCase() === 'https';
}

export function isAdminRoute(route: Pick<ApiRoute, 'class' | 'scope'>): boolean {
  return route.class === 'admin' || route.scope === 'admin';
}

/** The guard for admin routes; undefined when neither setting limits anything. */
export function createAdminAccess(config: AdminAccessConfig, trustProxy: boolean): RouteGuard | undefined {
  const { adminNetworks, adminRequireTls } = config;
  if (!adminRequireTls && adminNetworks.length === 0) return undefined;
  const allowed = new BlockList();
  for (const text of adminNetworks) {
    const network = parseNetwork(text);
    if (typeof network === 'string')
      throw new BeaconError('BEACON_E_CONFIG_FIELD', `api.adminNetworks: ${network}`, { field: 'api.adminNetworks' });
    allowed.addSubnet(network.address, network.prefix, network.family);
  }
  return (route, req) => {
    if (!isAdminRoute(route)) return undefined;
    if (adminRequireTls && !adminRequestIsTls(req, trustProxy)) {
      return new BeaconError(
        'BEACON_E_ADMIN_TLS_REQUIRED',
        `${req.path} is an admin endpoint and api.adminRequireTls is on: call it over https`,
      );
    }
    if (adminNetworks.length > 0) {
      const ip = adminClientAddress(req, trustProxy);
      const family = ip === undefined ? undefined : isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
      if (ip === undefined || family === undefined || !allowed.check(ip, family)) {
        return new BeaconError(
          'BEACON_E_ADMIN_NETWORK',
          `${req.path} is an admin endpoint and answers only clients in api.adminNetworks (${adminNetworks.join(', ')}); this request came from ${ip ?? 'an unknown address'}`,
        );
      }
    }
    return undefined;
  };
}
