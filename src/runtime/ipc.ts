import type { AdminRequest, AdminResponse } from '../api/adminRequest.js';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { LiveToCollector, LiveToPrimary } from '../live/ipcLink.js';

/**
 * Messages between the primary (log reader, dispatcher, admin state) and its collector
 * workers (HTTP intake, one log partition each), over the cluster IPC channel.
 */
export type WorkerToPrimary =
  /** The partition is recovered (torn tail cut); the collector waits for `start` before taking requests. */
  | { t: 'recovered'; partition: string; durable: number }
  /** The collector listens. */
  | { t: 'ready'; partition: string }
  | { t: 'durable'; partition: string; seq: number }
  | { t: 'admin'; id: number; req: AdminRequest }
  | { t: 'metrics'; id: number; data: MetricObjectWithValues<MetricValue<string>>[] }
  /** Once a second: this collector's intake counters, for the primary's throughput history. */
  | { t: 'intakeTotals'; partition: string; received: number; rejected: number }
  /** Live stream: subscribe while this collector has `/live` viewers, ack each batch. */
  | LiveToPrimary;

export type PrimaryToWorker =
  | { t: 'adminResult'; id: number; res: AdminResponse | null }
  | { t: 'collectMetrics'; id: number }
  | { t: 'start' }
  | { t: 'shutdown' }
  /** Live stream: batches for a subscribed collector (bounded by its acks). */
  | LiveToCollector;

/** Request/response over a message channel: each request gets an id and a timeout. */
export class PendingReplies<T> {
  private next = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: T) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();

  create(timeoutMs: number): { id: number; reply: Promise<T> } {
    const id = this.next++;
    const reply = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no reply over IPC within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
    });
    return { id, reply };
  }

  settle(id: number, value: T): void {
    const w = this.waiting.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiting.delete(id);
    w.resolve(value);
  }

  rejectAll(reason: string): void {
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new Error(reason));
      this.waiting.delete(id);
    }
  }
}
