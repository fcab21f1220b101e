import type { ErrorCode } from '../errors/codes.js';

/**
 * Why an input is not an event. Validation returns a `Rejection` instead of throwing, so a
 * batch with many bad events costs no stack traces, and the per-index answer is built from the
 * same values.
 */
export interface Rejection {
  code: ErrorCode;
  message: string;
}

/** Tells a Rejection from a successful result (an event, a parsed value, a list). */
export function isRejection<T extends object>(value: T | Rejection): value is Rejection {
  return (
    typeof (value as Partial<Rejection>).code === 'string' && typeof (value as Partial<Rejection>).message === 'string'
  );
}
