import { BeaconError } from '../errors/beaconError.js';

/**
 * The argument checks of the StoreReader seam, which every reader applies before it queries
 * (the API's parameter parsing gives friendlier messages; these keep a reader safe when
 * called from code). Each throws BEACON_E_BAD_QUERY naming the argument.
 */

export function wholeMs(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new BeaconError(
      'BEACON_E_BAD_QUERY',
      `${name} must be epoch milliseconds (a whole number, not negative); got ${value}`,
    );
}

export function positive(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new BeaconError('BEACON_E_BAD_QUERY', `${name} must be a whole number of at least 1; got ${value}`);
}

/** A half-open range `[from, to)`; an empty one (from = to) is allowed and matches nothing. */
export function checkRange(from: number, to: number): void {
  wholeMs('from', from);
  wholeMs('to', to);
  if (to < from)
    throw new BeaconError(
      'BEACON_E_BAD_QUERY',
      `the range ends (to=${to}) before it starts (from=${from}): give from <= to`,
    );
}
