import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { anonymizeIp, ipAnonymizeStep, type AnonymizeOptions } from '../../../src/enrich/ipAnonymize.js';
import { formatIpv6, parseIpv6 } from '../../../src/enrich/ipAddress.js';
import { inCodecOrder, jsonText } from '../../../src/event/codecs/json.js';
import { httpEvent } from './fixtures.js';

const truncate = (ipv4Prefix = 24, ipv6Prefix = 48): AnonymizeOptions => ({ mode: 'truncate', ipv4Prefix, ipv6Prefix });

describe('IP anonymisation', () => {
  test('by default it keeps the /24 of an IPv4 address', () => {
    assert.equal(anonymizeIp('203.0.113.77', truncate()), '203.0.113.0');
    assert.equal(anonymizeIp('127.0.0.1', truncate()), '127.0.0.0');
  });

  test('it keeps the configured IPv4 prefix', () => {
    assert.equal(anonymizeIp('203.0.113.77', truncate(16)), '203.0.0.0');
    assert.equal(anonymizeIp('203.0.113.77', truncate(20)), '203.0.112.0');
    assert.equal(anonymizeIp('203.0.113.77', truncate(32)), '203.0.113.77');
    assert.equal(anonymizeIp('203.0.113.77', truncate(0)), '0.0.0.0');
  });

  test('by default it keeps the /48 of an IPv6 address, printed in RFC 5952 form', () => {
    assert.equal(anonymizeIp('2001:db8:85a3:8d3:1319:8a2e:370:7348', truncate()), '2001:db8:85a3::');
    assert.equal(anonymizeIp('2001:0DB8:0000:0001:0000:0000:0000:0001', truncate()), '2001:db8::');
  });

  test('it keeps the configured IPv6 prefix', () => {
    assert.equal(anonymizeIp('2001:db8:85a3:8d3:1319:8a2e:370:7348', truncate(24, 64)), '2001:db8:85a3:8d3::');
    assert.equal(anonymizeIp('2001:db8:85a3:8d3:1319:8a2e:370:7348', truncate(24, 56)), '2001:db8:85a3:800::');
    assert.equal(
      anonymizeIp('2001:db8:85a3:8d3:1319:8a2e:370:7348', truncate(24, 128)),
      '2001:db8:85a3:8d3:1319:8a2e:370:7348',
    );
    assert.equal(anonymizeIp('::1', truncate()), '::');
    assert.equal(anonymizeIp('fe80::1%eth0', truncate(24, 16)), 'fe80::');
  });

  test('it reads embedded IPv4 tails and compresses the longest zero run', () => {
    assert.deepEqual(parseIpv6('64:ff9b::192.0.2.1'), [0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0201]);
    assert.deepEqual(parseIpv6('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    assert.deepEqual(parseIpv6('1:2:3:4:5:6:1.2.3.4'), [1, 2, 3, 4, 5, 6, 0x0102, 0x0304]);
    assert.equal(formatIpv6([1, 0, 0, 2, 0, 0, 0, 3]), '1:0:0:2::3');
    assert.equal(formatIpv6([1, 0, 2, 3, 4, 5, 6, 7]), '1:0:2:3:4:5:6:7');
    assert.equal(formatIpv6([0, 0, 0, 0, 0, 0, 0, 0]), '::');
  });

  test('full removes the address and none keeps it', () => {
    assert.equal(anonymizeIp('203.0.113.77', { ...truncate(), mode: 'full' }), undefined);
    assert.equal(anonymizeIp('203.0.113.77', { ...truncate(), mode: 'none' }), '203.0.113.77');
  });

  test('the step rewrites event.ip in place, keeping the event in the json codec order', () => {
    const event = httpEvent({ ip: '198.51.100.23', ua: 'x' });
    ipAnonymizeStep(truncate()).apply(event);
    assert.equal(event.ip, '198.51.100.0');
    assert.ok(inCodecOrder(event));
  });

  test('with full the step leaves no ip in the written event', () => {
    const event = httpEvent({ ip: '198.51.100.23' });
    ipAnonymizeStep({ ...truncate(), mode: 'full' }).apply(event);
    assert.equal(event.ip, undefined);
    assert.ok(!jsonText(event).includes('198.51'));
    assert.ok(!('ip' in JSON.parse(jsonText(event))));
    assert.equal(event.meta.ipInvalid, undefined);
  });

  test('with none the step leaves the address as received', () => {
    const event = httpEvent({ ip: '198.51.100.23' });
    ipAnonymizeStep({ ...truncate(), mode: 'none' }).apply(event);
    assert.equal(event.ip, '198.51.100.23');
  });

  test('it removes a value that is not an IP address and flags meta.ipInvalid, never writing it', () => {
    const step = ipAnonymizeStep(truncate());
    for (const ip of ['not-an-ip', '1.2.3.4.5', '', '999.0.0.1', 'x'.repeat(5000), 42, { a: 1 }]) {
      const event = httpEvent();
      (event as { ip?: unknown }).ip = ip;
      step.apply(event);
      assert.equal(event.ip, undefined, String(ip));
      assert.equal(event.meta.ipInvalid, true);
    }
  });

  test('it leaves an event without an ip untouched', () => {
    const event = httpEvent();
    ipAnonymizeStep(truncate()).apply(event);
    assert.deepEqual(Object.keys(event), ['id', 'type', 'ts', 'props', 'meta']);
    assert.deepEqual(event.meta, { source: 'http' });
  });
});
