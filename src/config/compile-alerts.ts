// Compiles the `alerts.channels` section of safehold.yaml: durations to
// milliseconds, secrets resolved, defaults left to the channels themselves
// (null means "the channel's default", documented in docs/alerts.md).

import type { AlertChannelConfig, Secret } from './types.ts';
import type { RawConfig } from './schema.ts';
import type { PathSegment } from './yaml-source.ts';
import type { SecretSpec } from './secrets.ts';
import { parseDuration } from './values.ts';

type RawChannels = NonNullable<NonNullable<NonNullable<RawConfig>['alerts']>['channels']>;

export interface SecretResolver {
  one(path: PathSegment[], spec: SecretSpec): Secret;
  map(path: PathSegment[], rec: Record<string, SecretSpec> | undefined): Record<string, Secret>;
}

const msOrNull = (t: string | undefined): number | null => (t === undefined ? null : parseDuration(t)!);
const delays = (d: string[] | undefined): number[] | null => (d === undefined ? null : d.map((x) => parseDuration(x)!));

export function compileAlertChannels(raw: RawChannels | undefined, secrets: SecretResolver): AlertChannelConfig[] {
  return Object.entries(raw ?? {}).map(([name, c]): AlertChannelConfig => {
    const path: PathSegment[] = ['alerts', 'channels', name];
    const events = c.events ?? null;
    switch (c.type) {
      case 'webhook':
        return {
          name,
          events,
          type: 'webhook',
          url: c.url,
          secret: c.secret === undefined ? null : secrets.one([...path, 'secret'], c.secret),
          headers: secrets.map([...path, 'headers'], c.headers),
          retryDelaysMs: delays(c.retryDelays),
          timeoutMs: msOrNull(c.timeout),
        };
      case 'email':
        return {
          name,
          events,
          type: 'email',
          host: c.host,
          port: c.port ?? null,
          secure: c.secure ?? false,
          startTls: c.startTls ?? 'opportunistic',
          user: c.user ?? null,
          password: c.password === undefined ? null : secrets.one([...path, 'password'], c.password),
          from: c.from,
          to: c.to,
          subjectPrefix: c.subjectPrefix ?? null,
          retryDelaysMs: delays(c.retryDelays),
          timeoutMs: msOrNull(c.timeout),
        };
      case 'snmp':
        return {
          name,
          events,
          type: 'snmp',
          host: c.host,
          port: c.port ?? 162,
          community: secrets.one([...path, 'community'], c.community),
          timeoutMs: msOrNull(c.timeout),
        };
      case 'command':
        return {
          name,
          events,
          type: 'command',
          command: c.command,
          env: secrets.map([...path, 'env'], c.env),
          timeoutMs: msOrNull(c.timeout),
        };
    }
  });
}
