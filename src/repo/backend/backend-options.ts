// What a backend may be given besides its location: the settings of remote
// backends (S3-compatible object storage, SFTP) and of the layers the factory
// puts around them (retries, rate limit, metadata cache). The backend factory
// (factory.ts) is the one place that reads these; configuration and CLI only
// fill them in.

import type { Clock } from '../../core/clock.ts';
import type { RetryEvent } from './retrying-backend.ts';

export interface S3Options {
  /** Credentials; when absent, the AWS SDK's standard chain (AWS_* variables, profile). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  region?: string;
  profile?: string;
  /** Path-style addressing (host/bucket/key); default true for an explicit endpoint, false for AWS. */
  pathStyle?: boolean;
  storageClass?: string;
  /** Server-side encryption: 'AES256' or 'aws:kms' (with kmsKeyId). */
  sse?: { type: 'AES256' | 'aws:kms'; kmsKeyId?: string };
  /** Conditional creation (If-None-Match: *): 'auto' probes the server once; 'off' uses the documented fallback. */
  conditionalWrites?: 'auto' | 'on' | 'off';
  /** Objects larger than this many bytes go up as multipart uploads (default 64 MiB). */
  multipartThreshold?: number;
  /** Bytes per part of a multipart upload (default 16 MiB, at least 5 MiB). */
  partSize?: number;
  /** Keys per listing request (default 1000, S3's maximum). */
  listPageSize?: number;
}

export interface SftpOptions {
  /** Private key file (else the SSH agent in SSH_AUTH_SOCK). */
  keyFile?: string;
  keyPassphrase?: string;
  /** known_hosts file the host key is pinned against (default ~/.ssh/known_hosts). */
  knownHosts?: string;
  /** TCP_NODELAY on the SSH socket (default true; turning it off slows transfers a lot, for measurements only). */
  noDelay?: boolean;
}

export interface BackendOptions {
  /** Requests in flight at once (remote backends; default 8). */
  connections?: number;
  /** Bytes per second, per direction (remote backends; default unlimited). */
  rateLimit?: { upload?: number; download?: number };
  /** Directory of the local metadata cache (index, snapshots, trees); null: no cache. */
  cacheDir?: string | null;
  /** Retries of transient faults (remote backends). */
  retry?: {
    maxAttempts?: number;
    baseDelayMs?: number;
    maxDelayMs?: number;
    /** One request that has not answered after this long is retried (default 10 minutes). */
    timeoutMs?: number;
    /** Told of each retry (for logs). */
    onRetry?: (e: RetryEvent) => void;
  };
  clock?: Clock;
  /** Environment the backend may read credentials from (default process.env). */
  env?: NodeJS.ProcessEnv;
  s3?: S3Options;
  sftp?: SftpOptions;
}
