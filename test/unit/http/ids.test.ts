import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '../../../src/event/ids.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('server-made event ids (UUIDv7)', () => {
  test('are RFC 9562 version 7 with the variant bits set', () => {
    for (let i = 0; i < 5000; i++) assert.match(uuidv7(1_700_000_000_000 + (i >> 3)), UUIDV7);
  });

  test('start with the receive time in milliseconds, so they sort by it', () => {
    const ms = 0x0190_f5c2_1234;
    assert.equal(uuidv7(ms).replace(/-/g, '').slice(0, 12), ms.toString(16).padStart(12, '0'));
    const ids = [uuidv7(ms + 2), uuidv7(ms), uuidv7(ms + 1)];
    assert.deepEqual([...ids].sort(), [ids[1], ids[2], ids[0]]);
  });

  test('do not repeat within a millisecond', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50_000; i++) seen.add(uuidv7(1_700_000_000_000));
    assert.equal(seen.size, 50_000);
  });
});
