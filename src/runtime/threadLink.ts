import type { AdminRequest, AdminResponse } from '../api/adminRequest.js';
import type { LiveToCollector, LiveToPrimary } from '../live/ipcLink.js';
import type { MetricJson } from '../alerts/index.js';
import type { LoadOptions } from '../config/load.js';

/**
 * What crosses between the intake thread (HTTP, enrichment, the log writer of p0) and the
 * delivery thread (log reader, cursors, sink loops, store, alerts, admin and query API) of
 * one process. Never an event per message: events cross through the log files. A message per
 * group commit (the durable watermark), per admin request, per /metrics scrape, per second
 * (intake counters), per live batch while someone watches.
 */
export interface DeliveryThreadData {
  /** The config document after env overrides: the thread validates it again (a zod result does not cross threads). */
  raw: Record<string, unknown>;
  /** How the config was loaded, for reloads (without its callbacks). */
  reloadFrom?: Omit<LoadOptions, 'onWarning'>;
}

export type ToDeliveryThread =
  /** The writer has recovered p0 (a torn tail cut): open the reader, with p0 durable below `durable`. */
  | { t: 'begin'; durable: number }
  /** New durable watermark of p0: cursors may read below it. One per group commit. */
  | { t: 'durable'; seq: number }
  /** Intake listens (or stops listening): part of what /readyz answers. */
  | { t: 'intakeReady'; ready: boolean }
  /** An append was refused as full: run retention now rather than at its next tick. */
  | { t: 'logFull' }
  | { t: 'admin'; id: number; req: AdminRequest }
  /** The intake thread's registry, for /metrics and the alert rules. */
  | { t: 'metrics'; id: number; data: MetricJson[] }
  /** Once a second: intake counters for the throughput history. */
  | { t: 'intakeTotals'; received: number; rejected: number }
  | { t: 'reload' }
  /** Stop delivery (sinks flush, cursors commit), then answer `stopped`. Intake has stopped and the writer is closed. */
  | { t: 'stop' }
  | LiveToPrimary;

export type FromDeliveryThread =
  | { t: 'started' }
  /** Start-up failed: the error as the process would have printed it. */
  | { t: 'failed'; code?: string; message: string; details?: unknown; stack?: string }
  | { t: 'adminResult'; id: number; res: AdminResponse | null }
  | { t: 'collectMetrics'; id: number }
  /** Retention deleted sealed segments of p0: the writer re-reads its usage (it may have been full). */
  | { t: 'segmentsDeleted' }
  | { t: 'stopped' }
  | LiveToCollector;
