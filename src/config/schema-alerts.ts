// The alert schemas of safehold.yaml (zod): the channels (webhook, email,
// snmp, command), the events each one sends, and the `alerts` section that
// names them. Part of the schema of schema.ts; docs/alerts.md documents it.

import { z } from 'zod';
import { argv, bool, duration, envMap, named, obj, port, secret, text } from './schema-values.ts';
import { ALERT_EVENTS } from '../core/alert-event.ts';

const alertEvents = z
  .array(z.enum(ALERT_EVENTS, { error: `expected one of ${ALERT_EVENTS.join(', ')}` }), {
    error: 'expected a list of event names',
  })
  .optional()
  .describe('Events sent on this channel (default: all).');

const channel = z.discriminatedUnion(
  'type',
  [
    obj({
      type: z.literal('webhook'),
      events: alertEvents,
      url: z.string({ error: 'expected an http(s) URL' }).url({ error: 'expected an http(s) URL' }),
      secret: secret.optional().describe('Signs each body: X-Safehold-Signature: sha256=<HMAC>.'),
      headers: envMap.optional().describe('Extra request headers (values are secrets).'),
      retryDelays: z.array(duration).optional().describe('Waits before the 2nd, 3rd, … attempt (default [30s, 2m]).'),
      timeout: duration.optional().describe('Per attempt (default 10s).'),
    }),
    obj({
      type: z.literal('email'),
      events: alertEvents,
      host: text,
      port: port.optional().describe('Default 587 (465 with secure).'),
      secure: bool.optional().describe('Implicit TLS (port 465).'),
      startTls: z.enum(['required', 'opportunistic', 'never']).optional().describe("Default 'opportunistic'."),
      user: text.optional(),
      password: secret.optional(),
      from: text,
      to: z.array(text, { error: 'expected a list of addresses' }).min(1, { error: 'expected at least one address' }),
      subjectPrefix: text.optional(),
      retryDelays: z.array(duration).optional(),
      timeout: duration.optional(),
    }),
    obj({
      type: z.literal('snmp'),
      events: alertEvents,
      host: text,
      port: port.optional().describe('Default 162.'),
      community: secret.describe('SNMP v2c community (a secret).'),
      timeout: duration.optional(),
    }),
    obj({
      type: z.literal('command'),
      events: alertEvents,
      command: argv.describe('Gets the alert JSON on stdin.'),
      env: envMap.optional(),
      timeout: duration.optional().describe('Default 30s.'),
    }),
  ],
  {
    error: (iss) =>
      (iss.code as string) === 'invalid_type'
        ? 'expected a map with a type and its settings'
        : "expected type 'webhook', 'email', 'snmp' or 'command'",
  },
);

export const alerts = obj({
  channels: named('channel', channel, 'Alert channels by name.').optional(),
});
