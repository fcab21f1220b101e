/**
 * One alert instance's state machine: `ok` → `pending` (the condition holds, not yet for
 * `for`) → `firing` → back to `ok` when it stops holding.
 *
 * Promises it keeps:
 * - One `fire` when the condition has held for `for` (counted from when it began), one
 *   `resolve` when it stops holding after firing; nothing when it clears while pending.
 * - While firing, at most one `remind` per `renotifyAfter` (none when it is 0).
 * - A round that cannot tell (`active: undefined`) changes nothing.
 */
export type AlertPhase = 'ok' | 'pending' | 'firing';

export type Transition = 'fire' | 'remind' | 'resolve';

/** What a firing alert needs to survive a restart (see firingState.ts). */
export interface FiringRecord {
  since: number;
  firedAt: number;
  lastNotifiedAt: number;
}

export class AlertTracker {
  phase: AlertPhase = 'ok';
  /** When the condition began (pending or firing). */
  since: number | undefined;
  firedAt: number | undefined;
  lastNotifiedAt: number | undefined;

  constructor(
    private readonly forMs: number,
    private readonly renotifyAfterMs: number,
  ) {}

  /** Continues a firing alert that was firing before a restart. */
  static resume(forMs: number, renotifyAfterMs: number, record: FiringRecord): AlertTracker {
    const t = new AlertTracker(forMs, renotifyAfterMs);
    t.phase = 'firing';
    t.since = record.since;
    t.firedAt = record.firedAt;
    t.lastNotifiedAt = record.lastNotifiedAt;
    return t;
  }

  step(active: boolean | undefined, now: number, since?: number): Transition | undefined {
    if (active === undefined) return undefined;
    if (!active) {
      const wasFiring = this.phase === 'firing';
      this.phase = 'ok';
      this.since = undefined;
      return wasFiring ? 'resolve' : undefined;
    }
    if (this.phase === 'firing') {
      if (this.renotifyAfterMs > 0 && now - this.lastNotifiedAt! >= this.renotifyAfterMs) {
        this.lastNotifiedAt = now;
        return 'remind';
      }
      return undefined;
    }
    // A rule that knows when its condition began says so; else it began this round (or when first pending).
    this.since = since ?? (this.phase === 'pending' ? this.since! : now);
    this.phase = 'pending';
    if (now - this.since >= this.forMs) {
      this.phase = 'firing';
      this.firedAt = now;
      this.lastNotifiedAt = now;
      return 'fire';
    }
    return undefined;
  }

  record(): FiringRecord | undefined {
    if (this.phase !== 'firing') return undefined;
    return { since: this.since!, firedAt: this.firedAt!, lastNotifiedAt: this.lastNotifiedAt! };
  }
}
