// Compiles the destinations of safehold.yaml: a repository (local by `path`,
// or anywhere by `location`: s3:…, sftp:… or a local path) with its remote
// settings turned into the backend factory's options (secrets resolved,
// shown redacted), or a directory of generations. Settings that cannot apply
// to where the repository is (requireMount on a bucket, s3 settings on an
// sftp: location, …) are problems, each saying why.

import nodePath from 'node:path';
import type { RawConfig } from './schema.ts';
import type { Destination, RepositoryDestination, Secret } from './types.ts';
import type { PathSegment } from './yaml-source.ts';
import type { CompileContext } from './compile-context.ts';
import { DEFAULTS, entries } from './compile-context.ts';
import { parseSizeOrPercent } from './values.ts';
import { hideFields, redactedSecret } from './secrets.ts';
import type { BackendOptions, S3Options, SftpOptions } from '../repo/backend/backend-options.ts';
import { redactLocation } from '../repo/backend/factory.ts';
import { parseSftpLocation } from '../repo/backend/sftp-location.ts';
import { parseS3Location } from '../repo/backend/s3-location.ts';

type RawDestination = NonNullable<NonNullable<RawConfig>['destinations']>[string];
type RawRepository = Extract<RawDestination, { type: 'repository' }>;

/** Requests in flight at once to a remote repository unless configured. */
export const DEFAULT_CONNECTIONS = 8;

export function compileDestinations(
  ctx: CompileContext,
  raw: NonNullable<RawConfig>['destinations'],
): Record<string, Destination> {
  return Object.fromEntries(entries(raw).map(([name, d]) => [name, compileDestination(ctx, name, d)]));
}

function compileDestination(ctx: CompileContext, name: string, d: RawDestination): Destination {
  const path: PathSegment[] = ['destinations', name];
  const common = {
    name,
    requireMount: d.requireMount ?? false,
    minFree: d.minFree === undefined ? null : parseSizeOrPercent(d.minFree)!,
    site: ctx.siteOf(path, d.site),
  };
  if (d.type === 'repository') return compileRepository(ctx, path, d, common);
  const keep = d.generations?.keep ?? DEFAULTS.generationsKept;
  const naming = d.generations?.naming ?? (keep === 2 ? 'old' : 'numbered');
  if (keep < 1) ctx.problem([...path, 'generations', 'keep'], 'expected at least 1');
  else if (naming === 'old' && keep !== 2) {
    ctx.problem(
      [...path, 'generations', 'naming'],
      `naming 'old' keeps exactly 2 generations (<name> and <name>.old), not ${keep}: use 'numbered' or 'timestamped'`,
    );
  }
  return {
    type: 'directory',
    ...common,
    path: nodePath.resolve(ctx.baseDir, d.path),
    generations: { keep, naming },
  };
}

function compileRepository(
  ctx: CompileContext,
  path: PathSegment[],
  d: RawRepository,
  common: Pick<RepositoryDestination, 'name' | 'requireMount' | 'minFree' | 'site'>,
): RepositoryDestination {
  const where = repositoryLocation(ctx, path, d);
  const password = ctx.secret([...path, 'password'], d.password);
  if (where.remote === null) {
    for (const k of ['s3', 'sftp', 'connections', 'rateLimit', 'cacheDir'] as const) {
      if (d[k] !== undefined)
        ctx.problem([...path, k], `applies to remote repositories only (s3: or sftp: locations), not to ${where.path}`);
    }
    return { type: 'repository', ...common, ...where, password, backendOptions: {} };
  }
  const remote = where.remote;
  const why = remote === 's3' ? 'an object store has no' : 'a repository reached over SFTP has no local';
  if (d.requireMount !== undefined)
    ctx.problem([...path, 'requireMount'], `applies to local repositories only: ${why} mount point to check`);
  if (d.minFree !== undefined)
    ctx.problem(
      [...path, 'minFree'],
      `applies to local repositories only: ${why} file system whose free space to read`,
    );
  const other = remote === 's3' ? 'sftp' : 's3';
  if (d[other] !== undefined)
    ctx.problem([...path, other], `${other} settings need an ${other}: location, and this location is ${remote}:`);
  return {
    type: 'repository',
    ...common,
    ...where,
    password,
    backendOptions: remoteOptions(ctx, path, d, remote),
  };
}

/** Where the repository is: exactly one of `path` and `location`, the location's scheme known and its shape right. */
function repositoryLocation(
  ctx: CompileContext,
  path: PathSegment[],
  d: RawRepository,
): Pick<RepositoryDestination, 'path' | 'location' | 'remote'> {
  const local = (p: string) => {
    const abs = nodePath.resolve(ctx.baseDir, p);
    return { path: abs, location: abs, remote: null };
  };
  if (d.path !== undefined && d.location !== undefined) {
    ctx.problem([...path, 'location'], "give either 'path' (a local directory) or 'location', not both");
    return local(d.path);
  }
  if (d.path !== undefined) return local(d.path);
  if (d.location === undefined) {
    ctx.problem(path, "a repository needs 'path' (a local directory) or 'location' (s3:…, sftp:… or a local path)");
    return local('.');
  }
  const scheme = locationScheme(d.location);
  if (scheme === null) return local(d.location);
  const shown = redactLocation(d.location);
  const problem = locationProblem(scheme, d.location);
  if (problem !== null) ctx.problem([...path, 'location'], problem);
  return {
    path: shown,
    location: d.location,
    remote: scheme === 's3' || scheme === 'sftp' ? scheme : null,
  };
}

/** The scheme of a location ('s3', 'sftp', another word before ':'), or null for a local path. */
export function locationScheme(location: string): string | null {
  if (location.startsWith('/') || location.startsWith('.')) return null;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(location);
  return m ? m[1]!.toLowerCase() : null;
}

const S3_FORMS = "'s3:https://host[:port]/bucket[/prefix]' or 's3:bucket[/prefix]'";
const SFTP_FORMS = "'sftp:user@host[:port]:/path'";

/** What is wrong with a remote location's shape (the backends' own parsers say), or null. */
export function locationProblem(scheme: string, location: string): string | null {
  const parse = scheme === 's3' ? parseS3Location : scheme === 'sftp' ? parseSftpLocation : null;
  if (parse === null)
    return `unknown scheme '${scheme}:': expected ${S3_FORMS}, ${SFTP_FORMS} or a local path (write './${location}' for a relative path with a ':')`;
  try {
    parse(location);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

function remoteOptions(
  ctx: CompileContext,
  path: PathSegment[],
  d: RawRepository,
  remote: 's3' | 'sftp',
): BackendOptions {
  const o: BackendOptions = { connections: d.connections ?? DEFAULT_CONNECTIONS };
  const upload = d.rateLimit?.upload === undefined ? undefined : sizeOf(d.rateLimit.upload);
  const download = d.rateLimit?.download === undefined ? undefined : sizeOf(d.rateLimit.download);
  if (upload !== undefined || download !== undefined)
    o.rateLimit = { ...(upload !== undefined && { upload }), ...(download !== undefined && { download }) };
  if (d.cacheDir !== undefined) o.cacheDir = nodePath.resolve(ctx.baseDir, d.cacheDir);
  if (remote === 's3') o.s3 = s3Options(ctx, [...path, 's3'], d.s3);
  else if (d.sftp) o.sftp = sftpOptions(ctx, [...path, 'sftp'], d.sftp);
  return o;
}

function sftpOptions(ctx: CompileContext, path: PathSegment[], s: NonNullable<RawRepository['sftp']>): SftpOptions {
  const o: SftpOptions = {
    ...(s.keyFile !== undefined && { keyFile: nodePath.resolve(ctx.baseDir, s.keyFile) }),
    ...(s.knownHosts !== undefined && { knownHosts: nodePath.resolve(ctx.baseDir, s.knownHosts) }),
  };
  if (s.keyPassphrase === undefined) return o;
  if (s.keyFile === undefined) ctx.problem([...path, 'keyPassphrase'], "a passphrase goes with 'keyFile'");
  const v = ctx.secret([...path, 'keyPassphrase'], s.keyPassphrase);
  o.keyPassphrase = v.value;
  return hideFields(o, { keyPassphrase: redactedSecret(v) });
}

function s3Options(ctx: CompileContext, path: PathSegment[], s: RawRepository['s3']): S3Options {
  if (!s) return {};
  const o: S3Options = {};
  const shown: Partial<Record<keyof S3Options, string>> = {};
  const secret = (k: 'accessKeyId' | 'secretAccessKey') => {
    const spec = s[k];
    if (spec === undefined) return;
    const v: Secret = ctx.secret([...path, k], spec);
    o[k] = v.value;
    shown[k] = redactedSecret(v);
  };
  secret('accessKeyId');
  secret('secretAccessKey');
  if ((s.accessKeyId === undefined) !== (s.secretAccessKey === undefined))
    ctx.problem(
      [...path, s.accessKeyId === undefined ? 'secretAccessKey' : 'accessKeyId'],
      "give both 'accessKeyId' and 'secretAccessKey', or neither (then the AWS SDK's chain: AWS_* variables, profile)",
    );
  if (s.region !== undefined) o.region = s.region;
  if (s.profile !== undefined) o.profile = s.profile;
  if (s.pathStyle !== undefined) o.pathStyle = s.pathStyle;
  if (s.storageClass !== undefined) o.storageClass = s.storageClass;
  if (s.conditionalWrites !== undefined) o.conditionalWrites = s.conditionalWrites;
  if (s.sse) {
    if (s.sse.type === 'AES256' && s.sse.kmsKeyId !== undefined)
      ctx.problem([...path, 'sse', 'kmsKeyId'], "a KMS key goes with type 'aws:kms', not 'AES256'");
    o.sse = { type: s.sse.type, ...(s.sse.kmsKeyId !== undefined && { kmsKeyId: s.sse.kmsKeyId }) };
  }
  return hideFields(o, shown);
}

function sizeOf(text: string): number {
  const r = parseSizeOrPercent(text);
  return r !== null && 'bytes' in r ? r.bytes : 0;
}
