/**
 * The Snowplow tracker protocol (docs/protocols.md#snowplow): Snowplow trackers send to Beacon
 * by changing their collector URL. Config in snowplowConfig.ts, the event mapping in
 * mapping.ts (self-describing JSON in selfDescribing.ts), the network user id cookie in
 * networkUserId.ts, the HTTP side in snowplowApi.ts.
 */
export {
  createSnowplowApi,
  SNOWPLOW_POST_PATH,
  type SnowplowApi,
  type SnowplowApiDeps,
  type SnowplowSettings,
} from './snowplowApi.js';
export { snowplowEvent, derivedTimestamp, type TrackerParams } from './mapping.js';
export { snowplowSchema, type SnowplowConfig } from './snowplowConfig.js';
