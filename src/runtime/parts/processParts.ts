import type { Logger } from 'pino';
import { STOP_STAGES, type Part } from './part.js';

/**
 * The started parts of one process and its readiness. `stop` runs once, whoever asks first
 * (a signal, the primary, a failed start-up): readiness off at once, so a load balancer stops
 * sending, then every stage of STOP_STAGES in order.
 */
export class ProcessParts {
  private readonly parts: Part[] = [];
  private started = false;
  private stopping: Promise<void> | undefined;
  private readonly stoppingListeners: (() => void)[] = [];

  constructor(private readonly logger: Logger) {}

  /** Adds a started part. */
  add<T extends Part>(started: T): T {
    this.parts.push(started);
    return started;
  }

  /** Every part is started: /readyz answers 200 from now until stop. */
  markReady(): void {
    this.started = true;
  }

  /** Started and not stopping: what /readyz answers. */
  get ready(): boolean {
    return this.started && this.stopping === undefined;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  names(): string[] {
    return this.parts.map((p) => p.name);
  }

  /** Called once when stopping begins, before any part stops (readiness held elsewhere: another thread's /readyz). */
  onStopping(listener: () => void): void {
    this.stoppingListeners.push(listener);
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    let begin!: () => void;
    this.stopping = new Promise<void>((r) => (begin = r)).then(() => this.stopStages());
    for (const listener of this.stoppingListeners) listener();
    begin();
    return this.stopping;
  }

  private async stopStages(): Promise<void> {
    for (const stage of STOP_STAGES) {
      const due = this.parts.filter((p) => p.stage === stage);
      if (due.length === 0) continue;
      this.logger.debug({ stage, parts: due.map((p) => p.name) }, 'stopping');
      await Promise.all(due.map((p) => p.stop()));
    }
  }
}
