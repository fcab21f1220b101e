import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplaySource } from '../../../src/api/adminRoutes.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';

function refusal(body: string): { code: string; status: number; message: string } {
  try {
    parseReplaySource(body);
  } catch (err) {
    assert.ok(isBeaconError(err), `not a BeaconError: ${String(err)}`);
    return { code: err.code, status: err.status, message: err.message };
  }
  assert.fail(`${body} was accepted`);
}

describe('the replay body', () => {
  it('refuses a body that is not a JSON object with a coded 400, null included', () => {
    for (const body of ['null', '[]', '"start"', '7', 'true', '{"from":']) {
      const r = refusal(body);
      assert.equal(r.status, 400, body);
      assert.equal(r.code, 'BEACON_E_REPLAY', body);
    }
    assert.match(refusal('null').message, /must be a JSON object .* not null/);
  });

  it('refuses a position that is not an object of whole numbers, naming the partition', () => {
    const cases: [string, RegExp][] = [
      ['{"from":"position","position":[]}', /needs "position" as an object .* not an array/],
      ['{"from":"position","position":null}', /not null/],
      ['{"from":"position"}', /not nothing/],
      ['{"from":"position","position":{"p0":1.5}}', /position "p0": 1\.5 is not a whole number/],
      ['{"from":"position","position":{"p0":"abc"}}', /position "p0": "abc" is not a whole number/],
      ['{"from":"position","position":{"p0":true}}', /position "p0": true is not a whole number/],
      ['{"from":"position","position":{"p0":null}}', /position "p0": null is not a whole number/],
      ['{"from":"position","position":{"p0":1e300}}', /is not a whole number Beacon can hold exactly/],
    ];
    for (const [body, message] of cases) {
      const r = refusal(body);
      assert.equal(r.code, 'BEACON_E_REPLAY_POSITION', body);
      assert.equal(r.status, 400);
      assert.match(r.message, message, body);
    }
  });

  it('never rounds a position past 2^53: 9007199254740993 is refused, not read as ...992', () => {
    const asNumber = refusal('{"from":"position","position":{"p0":9007199254740993}}');
    assert.equal(asNumber.code, 'BEACON_E_REPLAY_POSITION');
    assert.match(asNumber.message, /larger JSON numbers lose digits/);
    const asString = refusal('{"from":"position","position":{"p0":"9007199254740993"}}');
    assert.equal(asString.code, 'BEACON_E_REPLAY_POSITION');
    assert.match(asString.message, /"9007199254740993" is past the end of the log/);
  });

  it('takes whole numbers as JSON numbers or strings of digits, leaving range checks to the log', () => {
    assert.deepEqual(parseReplaySource('{"from":"position","position":{"p0":12,"p1":"77"}}'), {
      kind: 'position',
      position: { p0: 12, p1: 77 },
    });
    // Negative numbers and unknown partitions are shapes the log refuses with its range (Cursor.check).
    assert.deepEqual(parseReplaySource('{"from":"position","position":{"p0":-1}}'), {
      kind: 'position',
      position: { p0: -1 },
    });
    const proto = parseReplaySource('{"from":"position","position":{"__proto__":3}}');
    assert.ok(proto.kind === 'position' && Object.hasOwn(proto.position, '__proto__'), 'a __proto__ key stays a key');
    assert.deepEqual(parseReplaySource(''), { kind: 'dead-letter' });
    assert.deepEqual(parseReplaySource('{"from":"start"}'), { kind: 'start' });
  });
});
