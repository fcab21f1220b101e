/**
 * What the duplicate check needs to know about an event that is not written with it: whether
 * its `id` came from the client (an idempotency key), and whether it came in a blind resend.
 * Kept beside the events rather than on them (weak sets, so nothing is held past the event's
 * life), so the event's shape and the log's stringify are unchanged.
 *
 * One `ResendMarks` belongs to a process's enrichment chain (`EnrichChain.marks`): the intakes
 * of that process mark the events they build in it (through `RequestFacts.marks`), and the
 * chain's id step reads it. Events marked in another `ResendMarks` (or none) are not checked
 * by id.
 */
export class ResendMarks {
  /** Events whose `id` the client gave: a /batch element's `id`, Segment's `messageId`, PostHog's `uuid`, Snowplow's `eid`. */
  private readonly clientIds = new WeakSet<object>();
  /**
   * Events of a `POST /batch?resend=1`: a client resending blindly what it may already have
   * delivered (beacon.js after `sendBeacon`, which tells nothing of the answer). The id memory
   * drops such an event when it already holds its id, whatever `enrich.duplicates.action` says.
   */
  private readonly resent = new WeakSet<object>();
  /** Resent events the id step found it already held: the chain drops them whatever `enrich.duplicates.action` is. */
  private readonly repeats = new WeakSet<object>();

  /** For intakes whose clients give event ids: the id memory then dedupes their retries. */
  markClientId(event: object): void {
    this.clientIds.add(event);
  }

  /** True when `event`'s id is the client's own (so a repeat of it is a duplicate). */
  hasClientId(event: object): boolean {
    return this.clientIds.has(event);
  }

  markResent(event: object): void {
    this.resent.add(event);
  }

  /** True when `event` came from a request marked `resend=1`. */
  isResent(event: object): boolean {
    return this.resent.has(event);
  }

  markRepeatedResend(event: object): void {
    this.repeats.add(event);
  }

  /** True when the id step found `event` to be a resend of an id it already holds: never written. */
  isRepeatedResend(event: object): boolean {
    return this.repeats.has(event);
  }
}
