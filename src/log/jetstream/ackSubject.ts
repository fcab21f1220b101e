/** What JetStream says about one delivered message, in the reply (ack) subject it sent it with. */
export interface DeliveryInfo {
  /** How many times this message has been delivered (1 the first time). */
  deliveryCount: number;
  /** The message's sequence number in the stream. */
  streamSeq: number;
  /** When the stream stored the message, in ms since the epoch. */
  storedAtMs: number;
  /** Messages of the consumer not yet delivered when this one was. */
  pending: number;
}

/**
 * Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<streamSeq>.<consumerSeq>.<nanos>.<pending>`,
 * or the newer form with `<domain>.<accountHash>` after `ACK` and a random token at the end.
 * Undefined for a subject that is not a JetStream ack subject.
 */
export function parseAckSubject(reply: string | undefined): DeliveryInfo | undefined {
  if (!reply) return undefined;
  const t = reply.split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') return undefined;
  const base = t.length === 9 ? 4 : t.length >= 12 ? 6 : -1;
  if (base < 0) return undefined;
  const deliveryCount = Number(t[base]);
  const streamSeq = Number(t[base + 1]);
  // Nanoseconds overflow a double's exact range; milliseconds do not.
  const nanos = t[base + 3] ?? '';
  const storedAtMs = nanos.length > 6 ? Number(nanos.slice(0, -6)) : 0;
  const pending = Number(t[base + 4]);
  if (!Number.isSafeInteger(deliveryCount) || !Number.isSafeInteger(streamSeq) || !Number.isFinite(storedAtMs))
    return undefined;
  return { deliveryCount, streamSeq, storedAtMs, pending: Number.isSafeInteger(pending) ? pending : 0 };
}
