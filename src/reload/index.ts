export { ConfigReloader, type ReloadOutcome, type ReloaderDeps, type SinkSet } from './reloader.js';
export { diffConfig, type ConfigDiff } from './configDiff.js';
export { reloadRoute } from './reloadRoute.js';
export { onReloadSignal } from './signal.js';
