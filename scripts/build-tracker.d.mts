/** Types of scripts/build-tracker.mjs for the tests that build the tracker bundle. */
export declare const TRACKER_SOURCES: string;
export declare const TRACKER_OUT: string;
export declare function buildTracker(outFile?: string): Promise<{ path: string; bytes: number; gzipBytes: number }>;
