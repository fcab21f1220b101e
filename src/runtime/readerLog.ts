import { BeaconError } from '../errors/beaconError.js';
import type { EventLog } from '../log/eventLog.js';
import type { LocalLogReader } from '../log/local/index.js';

/**
 * The primary's (or the delivery thread's) view of the log: it reads every partition but appends to none (its
 * collectors do), so `append` refuses loudly instead of silently writing a partition that
 * has a live writer in another process.
 */
export function readOnlyLog(
  reader: LocalLogReader,
  why = 'the primary process does not append; collectors own the partitions',
): EventLog {
  return {
    append: () => Promise.reject(new BeaconError('BEACON_E_LOG_CLOSED', why)),
    cursor: (name, options) => reader.cursor(name, options),
    forgetCursor: (name) => reader.forgetCursor(name),
    usage: () => reader.usage(),
    close: () => reader.close(),
  };
}
