import { z } from 'zod';

/** The `plausible` config section: Plausible's `POST /api/event` (docs/protocols.md#plausible). */
export const plausibleSchema = z.strictObject({
  /** Serve POST /api/event (off by default). */
  enabled: z.boolean().default(false),
  /** Site domains accepted (an event's `domain`, or one of its comma-separated domains); empty: any domain. */
  domains: z.array(z.string().min(1)).default([]),
});

export type PlausibleConfig = z.output<typeof plausibleSchema>;
