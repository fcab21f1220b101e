import { ERROR_CODES, type ErrorCode } from './codes.js';

/** An error a user can act on: a stable code, a message naming what was wrong, and the HTTP status. */
export class BeaconError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BeaconError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  get hint(): string {
    return ERROR_CODES[this.code].hint;
  }

  /** The JSON body a client receives: `{code, message}` as DESIGN.md fixes it. */
  toBody(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isBeaconError(err: unknown): err is BeaconError {
  return err instanceof BeaconError;
}
