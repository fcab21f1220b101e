import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAdminAccess, parseNetwork } from '../../../src/api/adminAccess.js';
import type { AdminRequest } from '../../../src/api/adminRequest.js';
import { validateConfig } from '../../../src/config/load.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';

const adminRoute = { class: 'admin', scope: 'admin' } as const;
const statusRoute = { class: 'admin', scope: 'read' } as const;
const queryRoute = { class: 'realtime', scope: 'read' } as const;

function req(remoteAddress: string, extra: Partial<AdminRequest> = {}): AdminRequest {
  return { method: 'GET', path: '/api/v1/config', query: {}, headers: {}, remoteAddress, ...extra };
}

describe('admin access (api.adminNetworks, api.adminRequireTls)', () => {
  it('lets everything through when neither is set', () => {
    assert.equal(createAdminAccess({ adminNetworks: [], adminRequireTls: false }, false), undefined);
  });

  it('checks IPv4 and IPv6 networks and single addresses, and reads an IPv4-mapped peer as IPv4', () => {
    const guard = createAdminAccess(
      { adminNetworks: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'], adminRequireTls: false },
      false,
    )!;
    assert.equal(guard(adminRoute, req('10.200.3.4')), undefined);
    assert.equal(guard(adminRoute, req('::ffff:10.1.1.1')), undefined);
    assert.equal(guard(adminRoute, req('192.168.1.7')), undefined);
    assert.equal(guard(adminRoute, req('fd12:3456::1')), undefined);
    assert.equal(guard(adminRoute, req('192.168.1.8'))?.code, 'BEACON_E_ADMIN_NETWORK');
    assert.equal(guard(adminRoute, req('2001:db8::1'))?.code, 'BEACON_E_ADMIN_NETWORK');
    assert.equal(
      guard(adminRoute, req(undefined as unknown as string))?.code,
      'BEACON_E_ADMIN_NETWORK',
      'no address: refused',
    );
  });

  it('guards class-admin routes (status) and admin-scope routes, not the query API', () => {
    const guard = createAdminAccess({ adminNetworks: ['10.0.0.0/8'], adminRequireTls: false }, false)!;
    assert.equal(guard(statusRoute, req('127.0.0.1'))?.code, 'BEACON_E_ADMIN_NETWORK');
    assert.equal(guard({ class: 'ops', scope: 'admin' }, req('127.0.0.1'))?.code, 'BEACON_E_ADMIN_NETWORK');
    assert.equal(guard(queryRoute, req('127.0.0.1')), undefined);
  });

  it('requires TLS to Beacon itself, or X-Forwarded-Proto https only from a trusted proxy', () => {
    const direct = createAdminAccess({ adminNetworks: [], adminRequireTls: true }, false)!;
    assert.equal(direct(adminRoute, req('127.0.0.1', { tls: true })), undefined);
    assert.equal(
      direct(adminRoute, req('127.0.0.1', { headers: { 'x-forwarded-proto': 'https' } }))?.code,
      'BEACON_E_ADMIN_TLS_REQUIRED',
      'a header from an untrusted client means nothing',
    );
    const proxied = createAdminAccess({ adminNetworks: [], adminRequireTls: true }, true)!;
    assert.equal(proxied(adminRoute, req('127.0.0.1', { headers: { 'x-forwarded-proto': 'https' } })), undefined);
    assert.equal(
      proxied(adminRoute, req('127.0.0.1', { headers: { 'x-forwarded-proto': 'https, http' } }))?.code,
      'BEACON_E_ADMIN_TLS_REQUIRED',
      'the last hop counts',
    );
  });

  it('validates networks when the config loads', () => {
    assert.deepEqual(parseNetwork('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'localhost', '10.0.0.0/8/1', '10.0.0.0/x'])
      assert.equal(typeof parseNetwork(bad), 'string', bad);
    try {
      validateConfig({ api: { adminNetworks: ['10.0.0.0/33'] } });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(isBeaconError(err));
      assert.match(
        err.message,
        /api\.adminNetworks\[0\]: the prefix of "10\.0\.0\.0\/33" must be a whole number from 0 to 32/,
      );
    }
  });
});
