// Compiles the `targets:` section: defaults per kind (ports, users,
// timeouts), paths resolved against the configuration file's folder, secrets
// resolved, each target's site checked.

import nodePath from 'node:path';
import type { RawConfig } from './schema.ts';
import type { DeviceTarget, Target } from './types.ts';
import type { PathSegment } from './yaml-source.ts';
import { DEFAULTS, entries, ms } from './compile-context.ts';
import type { CompileContext } from './compile-context.ts';

type RawTarget = NonNullable<NonNullable<RawConfig>['targets']>[string];

export function compileTargets(ctx: CompileContext, raw: NonNullable<RawConfig>['targets']): Record<string, Target> {
  return Object.fromEntries(entries(raw).map(([name, t]) => [name, compileTarget(ctx, name, t, ['targets', name])]));
}

function compileTarget(ctx: CompileContext, name: string, t: RawTarget, path: PathSegment[]): Target {
  const site = ctx.siteOf(path, t.site);
  switch (t.kind) {
    case 'files':
      return {
        kind: 'files',
        name,
        site,
        units: Object.fromEntries(
          entries(t.units).map(([u, spec]) => [
            u,
            {
              paths: spec.paths.map((p) => nodePath.resolve(ctx.baseDir, p)),
              exclude: spec.exclude ?? [],
            },
          ]),
        ),
      };
    case 'command':
      return {
        kind: 'command',
        name,
        site,
        listUnits: t.listUnits ?? null,
        backup: t.backup,
        restore: t.restore ?? null,
        probe: t.probe ?? null,
        timeoutMs: ms(t.timeout, DEFAULTS.commandTimeoutMs),
        env: ctx.secretMap([...path, 'env'], t.env),
      };
    case 'device': {
      const a = t.adapter;
      const timeoutMs = ms(a.timeout, DEFAULTS.adapterTimeoutMs);
      const adapter: DeviceTarget['adapter'] =
        a.http !== undefined
          ? {
              type: 'http',
              url: a.http.url,
              token:
                a.http.token === undefined ? null : ctx.secret([...path, 'adapter', 'http', 'token'], a.http.token),
              timeoutMs,
            }
          : { type: 'command', command: a.command!, timeoutMs, env: ctx.secretMap([...path, 'adapter', 'env'], a.env) };
      return { kind: 'device', name, site, adapter };
    }
    case 'postgres':
    case 'mariadb':
      return {
        kind: t.kind,
        name,
        site,
        host: t.host ?? '127.0.0.1',
        port: t.port ?? (t.kind === 'postgres' ? 5432 : 3306),
        user: t.user ?? (t.kind === 'postgres' ? 'postgres' : 'root'),
        password: t.password === undefined ? null : ctx.secret([...path, 'password'], t.password),
        databases: t.databases ?? '*',
        exclude: t.exclude ?? [],
        timeoutMs: ms(t.timeout, DEFAULTS.dumpTimeoutMs),
      };
    case 'sqlite':
      return {
        kind: 'sqlite',
        name,
        site,
        dir: nodePath.resolve(ctx.baseDir, t.dir),
        files: t.files ?? '*.db',
        timeoutMs: ms(t.timeout, DEFAULTS.dumpTimeoutMs),
      };
  }
}
