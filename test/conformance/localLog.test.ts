import { after } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalLog } from '../../src/log/local/index.js';
import { runEventLogConformance } from './eventLog.js';

/**
 * The local log against the EventLog contract (its own promises in detail are in
 * test/unit/log/). Small segments and fast retention, so the "full" check can free space.
 */
const dirs: string[] = [];
let dir = '';

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

runEventLogConformance('local', {
  sharedCursors: false,
  async fresh() {
    dir = await mkdtemp(join(tmpdir(), 'beacon-log-conformance-'));
    dirs.push(dir);
  },
  open: ({ maxBytes }) =>
    openLocalLog({
      dir,
      maxBytes: maxBytes ?? 1 << 30,
      segmentBytes: 4096,
      cursorSyncMs: 10,
      retryAfterSeconds: 3,
      retentionIntervalMs: 50,
    }),
  async cleanup() {},
});
