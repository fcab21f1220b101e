/**
 * The Segment-compatible API (docs/segment.md): Segment SDKs send to Beacon by changing their
 * host. Config in segmentConfig.ts, the message mapping in mapping.ts, write keys in
 * writeKeys.ts, the HTTP side in segmentApi.ts.
 */
export { createSegmentApi, SEGMENT_PREFIX, type SegmentApi, type SegmentApiDeps } from './segmentApi.js';
export { segmentEvent, normalizeEventName, SEGMENT_CALLS, type SegmentCall } from './mapping.js';
export { segmentSchema, type SegmentConfig } from './segmentConfig.js';
