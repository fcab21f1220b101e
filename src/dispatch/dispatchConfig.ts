import { z } from 'zod';
import { duration } from '../config/units.js';

/** The `dispatch` config section: how every sink's delivery loop backs off, reports and stops. */
export const dispatchSchema = z.strictObject({
  /** Longest back-off between attempts to a failing sink; it keeps probing at this interval. */
  maxFailoverDuration: duration().default(30_000),
  initialBackoff: duration().default(100),
  /** Log a sink's sent count every this many events (the Canopsis dispatcher's habit). */
  logEvery: z.number().int().min(0).default(1000),
  /** On shutdown, how long sinks may take to flush before Beacon exits anyway. */
  shutdownTimeout: duration().default(10_000),
});

export type DispatchConfig = z.output<typeof dispatchSchema>;
