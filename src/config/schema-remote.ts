// Zod schema of the remote settings of a repository destination (one whose
// `location` is s3:… or sftp:…): S3 credentials and options, SFTP key and
// known_hosts files, parallel connections, rate limits and the metadata
// cache directory. compile-destinations.ts turns them into the backend
// factory's BackendOptions (src/repo/backend/backend-options.ts).

import { z } from 'zod';
import { bool, count, obj, path, secret, text } from './schema-values.ts';
import { SIZE_RE } from './values.ts';

const SIZE_EXPECTED =
  "expected a size per second like '10MiB' or '500KB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";
const rate = z.string({ error: SIZE_EXPECTED }).regex(SIZE_RE, { error: SIZE_EXPECTED });

export const s3Settings = obj({
  accessKeyId: secret
    .optional()
    .describe('Access key id (default: the AWS SDK chain: AWS_ACCESS_KEY_ID, the profile, …).'),
  secretAccessKey: secret.optional().describe('Secret access key: { env: NAME } or { file: PATH }. Never printed.'),
  region: text.optional().describe("Region (default: AWS_REGION, else 'us-east-1')."),
  profile: text.optional().describe('Profile of the AWS shared configuration files.'),
  pathStyle: bool
    .optional()
    .describe('Path-style addressing (host/bucket/key); default true for an explicit endpoint, false for AWS.'),
  storageClass: text.optional().describe("Storage class of the objects written, e.g. 'STANDARD_IA'."),
  sse: obj({
    type: z.enum(['AES256', 'aws:kms'], { error: "expected 'AES256' or 'aws:kms'" }),
    kmsKeyId: text.optional().describe("KMS key id (with type 'aws:kms')."),
  })
    .optional()
    .describe('Server-side encryption.'),
  conditionalWrites: z
    .enum(['auto', 'on', 'off'], { error: "expected 'auto', 'on' or 'off'" })
    .optional()
    .describe(
      "Create lock and config objects with If-None-Match: * ('auto' probes the server once; 'off' uses the fallback; default 'auto').",
    ),
}).describe('Settings of an s3: location.');

export const sftpSettings = obj({
  keyFile: path.optional().describe('Private key file (default: the SSH agent of SSH_AUTH_SOCK).'),
  keyPassphrase: secret.optional().describe('Passphrase of an encrypted keyFile: { env: NAME } or { file: PATH }.'),
  knownHosts: path
    .optional()
    .describe('known_hosts file the host key is checked against (default ~/.ssh/known_hosts).'),
}).describe('Settings of an sftp: location.');

export const remoteSettings = {
  s3: s3Settings.optional(),
  sftp: sftpSettings.optional(),
  connections: count.optional().describe('Remote repositories: requests in flight at once (default 8).'),
  rateLimit: obj({
    upload: rate.optional().describe("Bytes per second sent, e.g. '10MiB' (default unlimited)."),
    download: rate.optional().describe('Bytes per second received (default unlimited).'),
  })
    .optional()
    .describe('Remote repositories: bandwidth limits.'),
  cacheDir: path
    .optional()
    .describe('Remote repositories: directory of the local cache of index, snapshot and tree files.'),
};
