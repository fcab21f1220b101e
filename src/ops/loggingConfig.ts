import { z } from 'zod';

/** The `logging` config section: how much Beacon's own log says. */
export const loggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type LoggingConfig = z.output<typeof loggingSchema>;
