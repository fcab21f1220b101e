import type * as Redis from 'redis';
import { lazyRequire } from './lazyRequire.js';

/** The `redis` package (~1,400 modules with its bloom/search/json/time-series modules), loaded by the first redis sink or source. */
export const redis = lazyRequire<typeof Redis>('redis');
