// Batch deletes of an S3 backend: DeleteObjects with at most 1000 keys per
// request (S3's limit), the requests in parallel (each waits for a connection
// slot). The answer lists the keys that could not be deleted: a missing key
// is not an error (as for remove); any other key error fails the call with
// one message naming the files and the server's reasons. Deleting is
// idempotent, so the retry layer may repeat the whole batch.

import { mapLimit } from '../../core/concurrency.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Send } from './s3-multipart.ts';
import { keyErrorKind } from './s3-errors.ts';

/** S3's maximum of keys per DeleteObjects request. */
export const DELETE_BATCH = 1000;

/** One key the server did not delete. */
export interface KeyFailure {
  key: string;
  code: string;
  message: string;
}

/** Deletes `keys` (duplicates allowed) in batches; returns the keys that failed, missing ones excluded. */
export async function deleteObjects(
  send: Send,
  Bucket: string,
  keys: readonly string[],
  parallel: number,
): Promise<KeyFailure[]> {
  const unique = [...new Set(keys)];
  const batches: string[][] = [];
  for (let i = 0; i < unique.length; i += DELETE_BATCH) batches.push(unique.slice(i, i + DELETE_BATCH));
  const answers = await mapLimit(batches, parallel, (batch) =>
    send(({ sdk, client }) =>
      client.send(
        new sdk.DeleteObjectsCommand({ Bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      ),
    ),
  );
  return answers
    .flatMap((a) => a.Errors ?? [])
    .filter((e) => keyErrorKind(e.Code) !== 'missing')
    .map((e) => ({ key: e.Key ?? '?', code: e.Code ?? 'InternalError', message: e.Message ?? '' }));
}

/**
 * One error for the keys a batch did not delete: FORBIDDEN when the server
 * refused any, retryable when every failure is transient, else permanent.
 */
export function deleteFailed(
  failures: readonly KeyFailure[],
  total: number,
  where: string,
  name: (key: string) => string,
): SafeholdError {
  const kinds = failures.map((f) => keyErrorKind(f.code));
  const shown = failures
    .slice(0, 3)
    .map((f) => `${name(f.key)} (${f.code}${f.message ? `: ${f.message}` : ''})`)
    .join(', ');
  const more = failures.length > 3 ? ` and ${failures.length - 3} more` : '';
  return new SafeholdError(
    kinds.includes('forbidden') ? 'FORBIDDEN' : 'IO',
    `removing ${total} file${total === 1 ? '' : 's'} from ${where}: ${failures.length} could not be removed: ${shown}${more}`,
    {
      retryable: kinds.every((k) => k === 'retryable'),
      details: { failed: failures.slice(0, 100).map((f) => ({ key: f.key, code: f.code })) },
    },
  );
}
