// The alert schemas of safehold.yaml (zod): the channels (webhook, email,
// snmp, command, healthchecks, ntfy, chat), the filters every channel may
// have (events, minSeverity), and the `alerts` section that names them. Part
// of the schema of schema.ts; docs/alerts.md documents it.

import { z } from 'zod';
import { argv, bool, duration, envMap, named, nameOf, obj, port, secret, secretRef, text } from './schema-values.ts';
import { ALERT_EVENTS, SEVERITIES } from '../core/alert-event.ts';

const alertEvents = z
  .array(z.enum(ALERT_EVENTS, { error: `expected one of ${ALERT_EVENTS.join(', ')}` }), {
    error: 'expected a list of event names',
  })
  .optional()
  .describe('Events sent on this channel (default: all but run-started and run-succeeded).');

const minSeverity = z
  .enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` })
  .optional()
  .describe('Alerts less severe than this are not sent on this channel (default: every severity).');

/** What every channel but healthchecks may filter on. */
const filters = { events: alertEvents, minSeverity };

const URL_EXPECTED = 'expected an http(s) URL';
const httpUrl = z
  .string({ error: URL_EXPECTED })
  .url({ error: URL_EXPECTED })
  .refine((u) => /^https?:/i.test(u), { error: URL_EXPECTED });

/**
 * A URL that is itself a secret: written inline (checked here) or from
 * { env } / { file } (checked once read). A bad one is never echoed.
 */
const SECRET_URL_BAD = 'not an http(s) URL (the value is a secret: not shown)';
const secretUrl = z.union(
  [
    z
      .string()
      .url({ error: SECRET_URL_BAD })
      .regex(/^https?:/i, { error: SECRET_URL_BAD }),
    secretRef,
  ],
  {
    error: (iss) =>
      typeof iss.input === 'string' ? SECRET_URL_BAD : 'expected an http(s) URL, { env: NAME } or { file: PATH }',
  },
);

const retryDelays = z.array(duration).optional().describe('Waits before the 2nd, 3rd, … attempt (default [30s, 2m]).');
const timeout = duration.optional().describe('Per attempt (default 10s).');

const channel = z.discriminatedUnion(
  'type',
  [
    obj({
      type: z.literal('webhook'),
      ...filters,
      url: httpUrl,
      secret: secret.optional().describe('Signs each body: X-Safehold-Signature: sha256=<HMAC>.'),
      headers: envMap.optional().describe('Extra request headers (values are secrets).'),
      retryDelays,
      timeout,
    }),
    obj({
      type: z.literal('email'),
      ...filters,
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
      ...filters,
      host: text,
      port: port.optional().describe('Default 162.'),
      community: secret.describe('SNMP v2c community (a secret).'),
      timeout: duration.optional(),
    }),
    obj({
      type: z.literal('command'),
      ...filters,
      command: argv.describe('Gets the alert JSON on stdin.'),
      env: envMap.optional(),
      timeout: duration.optional().describe('Default 30s.'),
    }),
    obj({
      type: z.literal('healthchecks'),
      url: secretUrl.describe('The check ping URL (a secret); /start, /fail are added for run start and failure.'),
      plans: z
        .array(nameOf('plan'), { error: 'expected a list of plan names' })
        .min(1, { error: 'expected at least one plan name' })
        .optional()
        .describe('Ping for runs of these plans only (default: every plan).'),
      retryDelays,
      timeout,
    }),
    obj({
      type: z.literal('ntfy'),
      ...filters,
      url: secretUrl.describe('Server and topic, e.g. https://ntfy.sh/my-topic (a secret).'),
      token: secret.optional().describe('Access token, sent as Authorization: Bearer (a secret).'),
      retryDelays,
      timeout,
    }),
    obj({
      type: z.literal('chat'),
      ...filters,
      format: z.enum(['slack', 'discord', 'matrix'], { error: "expected format 'slack', 'discord' or 'matrix'" }),
      url: secretUrl.describe('The incoming webhook URL (a secret).'),
      retryDelays,
      timeout,
    }),
  ],
  {
    error: (iss) =>
      (iss.code as string) === 'invalid_type'
        ? 'expected a map with a type and its settings'
        : "expected type 'webhook', 'email', 'snmp', 'command', 'healthchecks', 'ntfy' or 'chat'",
  },
);

export const alerts = obj({
  channels: named('channel', channel, 'Alert channels by name.').optional(),
});
