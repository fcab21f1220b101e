/**
 * The local durable log (`log.type: local`). Read README.md in this folder first: it lists
 * the promises this module keeps and the on-disk layout.
 */
export { LocalLog, openLocalLog, type LocalLogOptions } from './localLog.js';
export { PartitionWriter, type PartitionWriterOptions, type CorruptRecord } from './partitionWriter.js';
export { LocalLogReader, type LocalLogReaderOptions } from './logReader.js';
export { nodeLogFs, type LogFs, type LogFile } from './logFs.js';
export { MemoryLogFs } from './memoryFs.js';
export { crc32c } from './crc32c.js';
