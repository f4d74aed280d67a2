// Parses an S3 repository location: `s3:https://host[:port]/bucket[/prefix]`
// (an explicit endpoint, any S3-compatible server) or `s3:bucket[/prefix]`
// (Amazon S3 itself, region from the options or AWS_REGION). Credentials
// never belong in a location: one given as user:secret@ is refused, and the
// message shows the location with them hidden.

import { redactLocation } from './redact-location.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface S3Location {
  /** Origin of an explicit endpoint (`https://host:port`), or undefined for Amazon S3. */
  endpoint: string | undefined;
  bucket: string;
  /** Key prefix without leading or trailing slash; '' for the bucket's root. */
  prefix: string;
  /** The location as shown in messages: canonical, never with credentials. */
  display: string;
}

/** Bucket names S3-compatible servers accept (Ceph and others allow more than AWS does). */
const LENIENT_BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;
/** Amazon S3's rule: 3–63 lowercase letters, digits, dots and hyphens. */
const AWS_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseS3Location(location: string): S3Location {
  if (!location.startsWith('s3:')) throw bad(location, "it does not start with 's3:'");
  const rest = location.slice(3);
  if (/^https?:\/\//i.test(rest)) return parseEndpointForm(location, rest);
  if (rest.startsWith('//')) {
    throw bad(location, 'write s3:https://host/bucket for a server, or s3:bucket/prefix for Amazon S3 (not s3://)');
  }
  const [bucket = '', ...parts] = rest.split('/');
  if (!AWS_BUCKET.test(bucket)) {
    throw bad(
      location,
      `${JSON.stringify(bucket)} is not a valid bucket name (3–63 lowercase letters, digits, dots, hyphens)`,
    );
  }
  const prefix = checkPrefix(location, parts);
  return { endpoint: undefined, bucket, prefix, display: `s3:${bucket}${prefix ? `/${prefix}` : ''}` };
}

function parseEndpointForm(location: string, rest: string): S3Location {
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw bad(location, 'the endpoint is not a valid URL');
  }
  if (url.username || url.password) {
    throw bad(
      location,
      'credentials do not belong in the location: use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or the s3 settings of the configuration',
    );
  }
  if (url.search || url.hash || /[?#]/.test(rest)) throw bad(location, 'it has a query or fragment');
  // The path as written: URL would resolve "a/../b" away.
  const rawPath = rest.replace(/^https?:\/\/[^/]*/i, '');
  const [bucket = '', ...parts] = safeDecode(location, rawPath).replace(/^\//, '').split('/');
  if (bucket === '') throw bad(location, 'no bucket: write s3:https://host[:port]/bucket[/prefix]');
  if (!LENIENT_BUCKET.test(bucket)) throw bad(location, `${JSON.stringify(bucket)} is not a valid bucket name`);
  const prefix = checkPrefix(location, parts);
  const endpoint = url.origin;
  return { endpoint, bucket, prefix, display: `s3:${endpoint}/${bucket}${prefix ? `/${prefix}` : ''}` };
}

/** Joins the prefix segments, ignoring a trailing slash; refuses empty, '.' and '..' segments. */
function checkPrefix(location: string, parts: string[]): string {
  if (parts.length > 0 && parts.at(-1) === '') parts = parts.slice(0, -1);
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || /[\\\0]/.test(p)) {
      throw bad(location, `the prefix has an invalid segment ${JSON.stringify(p)}`);
    }
  }
  return parts.join('/');
}

function safeDecode(location: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw bad(location, 'the path has an invalid %-escape');
  }
}

function bad(location: string, why: string): SafeholdError {
  return new SafeholdError('USAGE', `invalid S3 location ${JSON.stringify(redactLocation(location))}: ${why}`);
}
