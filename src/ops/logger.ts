import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout (pino). `level` comes from config `logging.level`. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that writes nothing, for tests and CLI commands that print their own output. */
export const silentLogger: Logger = pino({ level: 'silent' });
