// Multipart upload of one large object: the parts go up in parallel (each
// request waits for a connection slot), each with its own MD5 and SHA-256
// checksums; the object appears whole, atomically, only when the upload is
// completed. Any failure aborts the upload so no parts are left billed; an
// upload left by a killed process is aborted later by cleanTmp.

import { createHash } from 'node:crypto';
import type { CompletedPart } from '@aws-sdk/client-s3';
import { mapLimit } from '../../core/concurrency.ts';
import type { S3Connection } from './s3-client.ts';
import { isNotFound } from './s3-errors.ts';

/** S3's limits: at most 10,000 parts, each at least 5 MiB except the last. */
const MAX_PARTS = 10_000;
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface MultipartRequest {
  Bucket: string;
  Key: string;
  /** Storage class, server-side encryption and metadata, as for PutObject. */
  extra: Record<string, unknown>;
}

export type Send = <T>(fn: (c: S3Connection) => Promise<T>) => Promise<T>;

/** Part size actually used: the wanted one, grown when the object would need more than 10,000 parts. */
export function effectivePartSize(size: number, wanted: number): number {
  return Math.max(wanted, MIN_PART_SIZE, Math.ceil(size / MAX_PARTS));
}

export async function multipartUpload(
  send: Send,
  req: MultipartRequest,
  data: Buffer,
  partSize: number,
  parallel: number,
): Promise<void> {
  const { Bucket, Key } = req;
  const created = await send(({ sdk, client }) =>
    client.send(new sdk.CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA256', ...req.extra })),
  );
  const UploadId = created.UploadId!;
  try {
    const size = effectivePartSize(data.byteLength, partSize);
    const count = Math.max(1, Math.ceil(data.byteLength / size));
    const numbers = Array.from({ length: count }, (_, i) => i + 1);
    const parts = await mapLimit(numbers, parallel, async (PartNumber): Promise<CompletedPart> => {
      const body = data.subarray((PartNumber - 1) * size, Math.min(data.byteLength, PartNumber * size));
      const ChecksumSHA256 = createHash('sha256').update(body).digest('base64');
      const out = await send(({ sdk, client }) =>
        client.send(
          new sdk.UploadPartCommand({
            Bucket,
            Key,
            UploadId,
            PartNumber,
            Body: body,
            ContentLength: body.byteLength,
            ContentMD5: createHash('md5').update(body).digest('base64'),
            ChecksumSHA256,
          }),
        ),
      );
      return { PartNumber, ETag: out.ETag, ChecksumSHA256 };
    });
    await send(({ sdk, client }) =>
      client.send(new sdk.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
    );
  } catch (e) {
    await send(({ sdk, client }) => client.send(new sdk.AbortMultipartUploadCommand({ Bucket, Key, UploadId }))).catch(
      () => {},
    );
    throw e;
  }
}

/**
 * Aborts the multipart uploads under `prefix` started before `before` (ms
 * since the epoch) whose key `ours` accepts; returns how many.
 */
export async function abortStaleUploads(
  send: Send,
  Bucket: string,
  prefix: string,
  before: number,
  ours: (key: string) => boolean,
): Promise<number> {
  let aborted = 0;
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  do {
    const page = await send(({ sdk, client }) =>
      client.send(new sdk.ListMultipartUploadsCommand({ Bucket, Prefix: prefix, KeyMarker, UploadIdMarker })),
    );
    for (const u of page.Uploads ?? []) {
      if (u.Initiated === undefined || u.Initiated.getTime() >= before || !ours(u.Key ?? '')) continue;
      await send(({ sdk, client }) =>
        client.send(new sdk.AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId })),
      ).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      aborted++;
    }
    const more = page.IsTruncated === true;
    KeyMarker = more ? page.NextKeyMarker : undefined;
    UploadIdMarker = more ? page.NextUploadIdMarker : undefined;
  } while (KeyMarker !== undefined);
  return aborted;
}
