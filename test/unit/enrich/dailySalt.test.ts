import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import { DailySalt } from '../../../src/enrich/identity/dailySalt.js';

describe('the daily salt of cookieless ids', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'beacon-salt-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('is 32 random bytes, written once per UTC day, the same for every reader of the directory', async () => {
    const dir = join(root, 'same');
    const now = () => Date.UTC(2026, 4, 1, 12);
    const a = new DailySalt(dir, now).current();
    const b = new DailySalt(dir, now).current();
    assert.equal(a.length, 32);
    assert.deepEqual(a, b);
    assert.equal((await readFile(join(dir, 'salt-2026-05-01'), 'utf8')).trim(), a.toString('hex'));
    assert.deepEqual(await readdir(dir), ['salt-2026-05-01'], 'no temporary file is left behind');
  });

  it('changes at midnight UTC and deletes every other day, including days left by a long stop', async () => {
    const dir = join(root, 'rotate');
    let now = Date.UTC(2026, 4, 1, 23, 59, 59);
    const salt = new DailySalt(dir, () => now);
    const first = salt.current();
    await writeFile(join(dir, 'salt-2026-04-20'), 'ab'.repeat(32));
    now += 1000;
    const second = salt.current();
    assert.notDeepEqual(first, second);
    assert.deepEqual(await readdir(dir), ['salt-2026-05-02']);
  });

  it('replaces a damaged salt file instead of using it', async () => {
    const dir = join(root, 'damaged');
    const now = () => Date.UTC(2026, 4, 3);
    new DailySalt(dir, now).current();
    await writeFile(join(dir, 'salt-2026-05-03'), 'not a salt');
    const fresh = new DailySalt(dir, now).current();
    assert.equal(fresh.length, 32);
    assert.equal((await readFile(join(dir, 'salt-2026-05-03'), 'utf8')).trim(), fresh.toString('hex'));
  });

  it('fails with BEACON_E_IDENTITY_SALT when the path is taken by a file', async () => {
    const path = join(root, 'a-file');
    await writeFile(path, 'x');
    assert.throws(
      () => new DailySalt(path).current(),
      (err: Error & { code?: string }) => err.code === 'BEACON_E_IDENTITY_SALT' && err.message.includes(path),
    );
  });
});
