// Compiles the `alerts.channels` section of safehold.yaml: durations to
// milliseconds, secrets resolved (a URL given as a secret is checked once
// read), plan names checked, defaults left to the channels themselves (null
// means "the channel's default", documented in docs/alerts.md).

import type { AlertChannelConfig, Secret } from './types.ts';
import type { RawConfig } from './schema.ts';
import type { PathSegment } from './yaml-source.ts';
import type { CompileContext } from './compile-context.ts';
import type { SecretSpec } from './secrets.ts';
import { parseDuration } from './values.ts';

type RawChannels = NonNullable<NonNullable<NonNullable<RawConfig>['alerts']>['channels']>;

/** What compiling the channels needs of the configuration's CompileContext. */
export type AlertCompileContext = Pick<CompileContext, 'secret' | 'secretMap' | 'problem' | 'reference'>;

const msOrNull = (t: string | undefined): number | null => (t === undefined ? null : parseDuration(t)!);
const delays = (d: string[] | undefined): number[] | null => (d === undefined ? null : d.map((x) => parseDuration(x)!));
const timing = (c: { retryDelays?: string[]; timeout?: string }) => ({
  retryDelaysMs: delays(c.retryDelays),
  timeoutMs: msOrNull(c.timeout),
});

export function compileAlertChannels(
  raw: RawChannels | undefined,
  ctx: AlertCompileContext,
  plans: Readonly<Record<string, unknown>>,
): AlertChannelConfig[] {
  return Object.entries(raw ?? {}).map(([name, c]): AlertChannelConfig => {
    const path: PathSegment[] = ['alerts', 'channels', name];
    const url = (spec: SecretSpec) => secretUrl(ctx, [...path, 'url'], spec);
    const common = {
      name,
      events: ('events' in c && c.events) || null,
      minSeverity: ('minSeverity' in c && c.minSeverity) || null,
    };
    switch (c.type) {
      case 'webhook':
        return {
          ...common,
          type: 'webhook',
          url: c.url,
          secret: c.secret === undefined ? null : ctx.secret([...path, 'secret'], c.secret),
          headers: ctx.secretMap([...path, 'headers'], c.headers),
          ...timing(c),
        };
      case 'email':
        return {
          ...common,
          type: 'email',
          host: c.host,
          port: c.port ?? null,
          secure: c.secure ?? false,
          startTls: c.startTls ?? 'opportunistic',
          user: c.user ?? null,
          password: c.password === undefined ? null : ctx.secret([...path, 'password'], c.password),
          from: c.from,
          to: c.to,
          subjectPrefix: c.subjectPrefix ?? null,
          ...timing(c),
        };
      case 'snmp':
        return {
          ...common,
          type: 'snmp',
          host: c.host,
          port: c.port ?? 162,
          community: ctx.secret([...path, 'community'], c.community),
          timeoutMs: msOrNull(c.timeout),
        };
      case 'command':
        return {
          ...common,
          type: 'command',
          command: c.command,
          env: ctx.secretMap([...path, 'env'], c.env),
          timeoutMs: msOrNull(c.timeout),
        };
      case 'healthchecks':
        (c.plans ?? []).forEach((p, i) => {
          ctx.reference([...path, 'plans', i], 'plan', 'plans', p, plans);
        });
        return { ...common, type: 'healthchecks', url: url(c.url), plans: c.plans ?? null, ...timing(c) };
      case 'ntfy':
        return {
          ...common,
          type: 'ntfy',
          url: url(c.url),
          token: c.token === undefined ? null : ctx.secret([...path, 'token'], c.token),
          ...timing(c),
        };
      case 'chat':
        return { ...common, type: 'chat', format: c.format, url: url(c.url), ...timing(c) };
    }
  });
}

/** A URL given as a secret, resolved; a value that is not an http(s) URL is a problem (which never shows it). */
function secretUrl(ctx: AlertCompileContext, path: PathSegment[], spec: SecretSpec): Secret {
  const s = ctx.secret(path, spec);
  if (s.source === 'unresolved') return s;
  let ok = false;
  try {
    const u = new URL(s.value);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {}
  const from = s.source.replace(/^env:/, 'environment variable ').replace(/^file:/, 'file ');
  if (!ok) ctx.problem(path, `expected an http(s) URL in ${from}`);
  return s;
}
