// Builds the AWS SDK client of an S3 backend. The SDK is imported here, on
// first use, so commands on local repositories never load it. Credentials
// come from the s3 settings (filled in by the configuration), else from the
// environment given in the backend options, else from the SDK's standard
// chain (AWS_* variables, shared profile files). The SDK's own retries and
// checksum defaults are off: the retry layer above retries, and the backend
// sends and checks its own SHA-256 checksums.

import http from 'node:http';
import https from 'node:https';
import type { S3Client } from '@aws-sdk/client-s3';
import { SafeholdError } from '../../core/errors.ts';
import type { BackendOptions } from './backend-options.ts';
import type { S3Location } from './s3-location.ts';

export type S3Sdk = typeof import('@aws-sdk/client-s3');

export interface S3Connection {
  sdk: S3Sdk;
  client: S3Client;
  region: string;
}

/** Milliseconds to open a connection, and that a socket may stay idle mid-request. */
const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 120_000;

export async function connectS3(loc: S3Location, opts: BackendOptions, connections: number): Promise<S3Connection> {
  const s3 = opts.s3 ?? {};
  const env = opts.env ?? process.env;
  const region = s3.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const credentials = staticCredentials(opts);
  const sdk = await import('@aws-sdk/client-s3');
  const agent = { keepAlive: true, maxSockets: connections, noDelay: true };
  const client = new sdk.S3Client({
    region,
    endpoint: loc.endpoint,
    forcePathStyle: s3.pathStyle ?? loc.endpoint !== undefined,
    followRegionRedirects: loc.endpoint === undefined,
    ...(credentials ? { credentials } : {}),
    ...(credentials === undefined && (s3.profile ?? env.AWS_PROFILE) ? { profile: s3.profile ?? env.AWS_PROFILE } : {}),
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: new http.Agent(agent),
      httpsAgent: new https.Agent(agent),
      connectionTimeout: CONNECT_TIMEOUT_MS,
      socketTimeout: IDLE_TIMEOUT_MS,
    },
  });
  return { sdk, client, region };
}

/**
 * Static credentials from the s3 settings, or from a non-default environment
 * given in the options; undefined leaves the SDK's standard chain to find them.
 */
function staticCredentials(
  opts: BackendOptions,
): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  const s3 = opts.s3 ?? {};
  if (s3.accessKeyId !== undefined || s3.secretAccessKey !== undefined) {
    if (!s3.accessKeyId || !s3.secretAccessKey) {
      throw new SafeholdError('CONFIG', 'S3 credentials need both an access key id and a secret access key');
    }
    return pick(s3.accessKeyId, s3.secretAccessKey, s3.sessionToken);
  }
  const env = opts.env;
  if (env && env !== process.env && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return pick(env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN);
  }
  return undefined;
}

function pick(accessKeyId: string, secretAccessKey: string, sessionToken: string | undefined) {
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}
