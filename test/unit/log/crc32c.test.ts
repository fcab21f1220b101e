import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '../../../src/log/local/crc32c.js';

/** Bit-at-a-time reference, obviously right and slow. */
function slowCrc32c(buf: Uint8Array): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  test('matches the standard check value for "123456789"', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  });

  test('matches the RFC 3720 (iSCSI) vectors', () => {
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    const ascending = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    assert.equal(crc32c(ascending), 0x46dd794e);
    const descending = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));
    assert.equal(crc32c(descending), 0x113fdb5c);
  });

  test('is 0 for no bytes', () => {
    assert.equal(crc32c(Buffer.alloc(0)), 0);
  });

  test('agrees with a bit-at-a-time reference on every length up to 100', () => {
    const data = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 131 + 7) & 0xff));
    for (let n = 0; n <= 100; n++) assert.equal(crc32c(data, 0, n), slowCrc32c(data.subarray(0, n)), `length ${n}`);
  });

  test('continues a previous checksum over a range of a buffer', () => {
    const data = Buffer.from('hello, durable world');
    for (let cut = 0; cut <= data.length; cut++) {
      assert.equal(crc32c(data, cut, data.length, crc32c(data, 0, cut)), crc32c(data));
    }
  });
});
