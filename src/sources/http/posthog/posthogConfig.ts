import { z } from 'zod';

/**
 * The `posthog` config section: the PostHog capture API (docs/protocols.md#posthog). The
 * project API keys (`phc_...`) a sender may use; posthog-js shows its key to anyone, so a key
 * identifies a project more than it guards a secret, but it still gates who may write, and
 * `check-config` and the admin API redact it (src/config/redact.ts).
 */
export const posthogSchema = z
  .strictObject({
    /** Serve /e/, /i/v0/e/, /capture/, /batch/, /track/, /engage/, /flags, /decide and /array/<key>/config (off by default). */
    enabled: z.boolean().default(false),
    /** Project API keys accepted (`api_key` or `token` in the body, `token` in the query, or `Authorization: Bearer`). */
    apiKeys: z.array(z.string().min(1, 'a project API key cannot be empty')).default([]),
  })
  .superRefine((s, ctx) => {
    if (s.enabled && s.apiKeys.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiKeys'],
        message:
          'posthog.enabled needs at least one project API key in posthog.apiKeys (the phc_... key your clients send)',
      });
    }
  });

export type PostHogConfig = z.output<typeof posthogSchema>;
