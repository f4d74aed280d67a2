// Turns the configured alert channels (config/types.ts AlertChannelConfig,
// secrets resolved) into the channels sendAlert delivers on, and gives the
// runner and server one `alert(event)` function: stores and sends, never
// throws, and lets the caller wait for deliveries in flight before exiting.

import type { AlertChannelConfig } from '../config/types.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Clock } from '../core/clock.ts';
import type { AlertEvent } from '../core/alert-event.ts';
import type { AlertChannel } from './dispatch.ts';
import { sendAlert } from './dispatch.ts';

const opt = <K extends string, V>(k: K, v: V | null | undefined): { [P in K]?: V } =>
  v === null || v === undefined ? {} : ({ [k]: v } as { [P in K]?: V });

export function channelsFromConfig(list: readonly AlertChannelConfig[]): AlertChannel[] {
  return list.map((c): AlertChannel => {
    const base = {
      name: c.name,
      ...(c.events ? { events: [...c.events] } : {}),
      ...opt('minSeverity', c.minSeverity),
    };
    switch (c.type) {
      case 'webhook':
        return {
          ...base,
          type: 'webhook',
          webhook: {
            url: c.url,
            ...opt('secret', c.secret?.value),
            ...timing(c),
            ...(Object.keys(c.headers).length
              ? { headers: Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, v.value])) }
              : {}),
          },
        };
      case 'email':
        return {
          ...base,
          type: 'email',
          email: {
            host: c.host,
            ...opt('port', c.port),
            secure: c.secure,
            startTls: c.startTls,
            ...opt('user', c.user),
            ...opt('password', c.password?.value),
            from: c.from,
            to: [...c.to],
            ...opt('subjectPrefix', c.subjectPrefix),
            ...timing(c),
          },
        };
      case 'snmp':
        return {
          ...base,
          type: 'snmp',
          snmp: { host: c.host, port: c.port, community: c.community.value, ...opt('timeoutMs', c.timeoutMs) },
        };
      case 'command':
        return {
          ...base,
          type: 'command',
          command: {
            argv: [...c.command],
            ...opt('timeoutMs', c.timeoutMs),
            ...(Object.keys(c.env).length
              ? { env: Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, v.value])) }
              : {}),
          },
        };
      case 'healthchecks':
        return {
          ...base,
          type: 'healthchecks',
          ...(c.plans ? { plans: [...c.plans] } : {}),
          healthchecks: { url: c.url.value, ...timing(c) },
        };
      case 'ntfy':
        return { ...base, type: 'ntfy', ntfy: { url: c.url.value, ...opt('token', c.token?.value), ...timing(c) } };
      case 'chat':
        return { ...base, type: 'chat', chat: { format: c.format, url: c.url.value, ...timing(c) } };
    }
  });
}

/** The retry delays and timeout of a channel that retries, as its sender takes them (unset: its default). */
function timing(c: { retryDelaysMs: readonly number[] | null; timeoutMs: number | null }): {
  retryDelaysMs?: number[];
  timeoutMs?: number;
} {
  return { ...opt('retryDelaysMs', c.retryDelaysMs ? [...c.retryDelaysMs] : null), ...opt('timeoutMs', c.timeoutMs) };
}

export interface Alerter {
  /** Stores and sends `e` in the background. */
  alert(e: AlertEvent): void;
  /** Waits for every delivery started so far. */
  flush(): Promise<void>;
}

export function alerter(
  catalog: Catalog,
  channels: readonly AlertChannelConfig[],
  clock: Clock,
  onError?: (msg: string) => void,
): Alerter {
  const list = channelsFromConfig(channels);
  const inFlight = new Set<Promise<unknown>>();
  return {
    alert(e) {
      const p = sendAlert(catalog, e, list, clock).then(
        (r) => {
          if (r.recordError) onError?.(`alert ${e.event}: not stored in the catalog: ${r.recordError}`);
          for (const d of r.deliveries)
            if (!d.ok && !d.suppressed) onError?.(`alert ${e.event} on channel ${d.channel}: ${d.detail}`);
          for (const m of r.outcomeErrors ?? []) onError?.(`alert ${e.event}: ${m}`);
        },
        (err: unknown) => onError?.(`alert ${e.event}: ${err instanceof Error ? err.message : String(err)}`),
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    async flush() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
