export { Dispatcher, type DispatcherDeps, type DispatcherSink } from './dispatcher.js';
export type { SinkState, SinkStatus, DeadLetterReplayResult, LogReplayResult } from './status.js';
export { DeadLetterFile, type DeadLetterEntry } from './deadLetter.js';
