import { z } from 'zod';

/** The `umami` config section: Umami's `POST /api/send` (docs/protocols.md#umami). */
export const umamiSchema = z.strictObject({
  /** Serve POST /api/send (off by default). */
  enabled: z.boolean().default(false),
  /** Website ids (UUIDs) accepted as `payload.website`; empty: any website. */
  websites: z.array(z.string().min(1)).default([]),
});

export type UmamiConfig = z.output<typeof umamiSchema>;
