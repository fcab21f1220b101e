import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildTracker, TRACKER_OUT, TRACKER_SOURCES } from '../../scripts/build-tracker.mjs';

/**
 * dist/tracker/beacon.js as `npm run build` makes it, built here first when it is missing or
 * older than any file under tracker/src (so a test never runs against a stale bundle). Beacon
 * reads the bundle when it starts: call this before `startBeacon`.
 */
export async function ensureTrackerBundle(): Promise<string> {
  const built = mtime(TRACKER_OUT);
  const newest = Math.max(...readdirSync(TRACKER_SOURCES).map((name) => mtime(join(TRACKER_SOURCES, name))));
  if (built === 0 || built < newest) await buildTracker();
  return TRACKER_OUT;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
