// Backend on S3-compatible object storage (Amazon S3, Ceph radosgw, MinIO,
// …). Layout under the location's prefix, as the local backend's: `config`,
// `keys/<name>`, `data/<first 2 chars>/<name>`, `index/`, `snapshots/`,
// `locks/`. A PUT replaces an object atomically; large objects go up as
// multipart uploads that appear only when completed. Every PUT carries
// Content-MD5 and x-amz-checksum-sha256 (the server refuses a body that does
// not match) and the SHA-256 as metadata, which a whole-object GET is checked
// against: a mismatch is retryable "transport corruption". Loads of part of
// an object are ranged GETs. At most `connections` requests are in flight.
//
// saveNew sends If-None-Match: * ('auto': until the server answers that it
// does not support it — 501, or 400 naming the header — which makes that call
// and the later ones of this backend use the fallback; a server that accepts
// the header but ignores it needs conditionalWrites 'off'). The fallback is
// check, write, verify: HEAD (refuse if present), PUT with a random writer token, HEAD again (refuse
// if another writer's token is there). This loses the guarantee that exactly
// one of two *simultaneous* creators wins: both may pass their checks and the
// later PUT replaces the earlier one.
//
// removeMany deletes in batches of up to 1000 keys (DeleteObjects, s3-delete.ts).

import { createHash, randomBytes } from 'node:crypto';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';
import type { BackendOptions, S3Options } from './backend-options.ts';
import { SafeholdError } from '../../core/errors.ts';
import { Semaphore } from '../../core/semaphore.ts';
import { systemClock } from '../../core/clock.ts';
import { parseS3Location } from './s3-location.ts';
import type { S3Location } from './s3-location.ts';
import { connectS3 } from './s3-client.ts';
import type { S3Connection } from './s3-client.ts';
import {
  errorName,
  httpStatus,
  isInvalidRange,
  isNotFound,
  isConditionUnsupported,
  isPreconditionFailed,
  s3Error,
  transportCorruption,
} from './s3-errors.ts';
import { deleteFailed, deleteObjects } from './s3-delete.ts';
import type { KeyFailure } from './s3-delete.ts';
import { MIN_PART_SIZE, abortStaleUploads, multipartUpload } from './s3-multipart.ts';
import { checkRange, checkType, describe, isLayoutKey, nameIn, objectKey, pastEnd, totalSize } from './s3-layout.ts';

const MiB = 1024 * 1024;
const DEFAULT_CONNECTIONS = 8;
const DEFAULT_MULTIPART_THRESHOLD = 64 * MiB;
const DEFAULT_PART_SIZE = 16 * MiB;
/** Metadata (x-amz-meta-…) holding the object's SHA-256 in hex, and the fallback's writer token. */
const SHA_META = 'safehold-sha256';
const WRITER_META = 'safehold-writer';
/** Immediate repeats of a GET answered 500 (see sendGet). */
const RACE_RETRIES = 3;

export function openS3(location: string, opts: BackendOptions = {}): Backend {
  return new S3Backend(location, opts);
}

export class S3Backend implements Backend {
  readonly location: string;
  private readonly loc: S3Location;
  private readonly opts: BackendOptions;
  private readonly s3: S3Options;
  private readonly connections: number;
  private readonly gate: Semaphore;
  private connecting: Promise<S3Connection> | undefined;
  /** false once the server has answered that it does not support If-None-Match ('auto'). */
  private conditional = true;

  constructor(location: string, opts: BackendOptions = {}) {
    this.loc = parseS3Location(location);
    this.location = this.loc.display;
    this.opts = opts;
    this.s3 = opts.s3 ?? {};
    this.connections = positive(opts.connections ?? DEFAULT_CONNECTIONS, 'connections');
    this.gate = new Semaphore(this.connections);
    if (this.s3.partSize !== undefined && positive(this.s3.partSize, 's3.partSize') < MIN_PART_SIZE) {
      throw new SafeholdError('CONFIG', `s3.partSize must be at least ${MIN_PART_SIZE} bytes (5 MiB)`);
    }
  }

  /** The SDK client, connected on first use (tests add middleware to it). */
  async client(): Promise<S3Connection> {
    this.connecting ??= connectS3(this.loc, this.opts, this.connections).catch((e: unknown) => {
      this.connecting = undefined;
      throw e;
    });
    return this.connecting;
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const Key = this.key(h);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const threshold = this.s3.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD;
    try {
      if (body.byteLength > threshold) {
        const extra = this.putExtras(sha256Hex(body));
        const partSize = this.s3.partSize ?? DEFAULT_PART_SIZE;
        await multipartUpload(this.send, { Bucket: this.loc.bucket, Key, extra }, body, partSize, this.connections);
      } else {
        await this.put(Key, body, {});
      }
    } catch (e) {
      throw this.fail(e, `saving ${describe(h)} to`);
    }
  }

  /** Creates `h` only if absent (ALREADY_EXISTS otherwise); see the header for servers without conditional writes. */
  async saveNew(h: Handle, data: Uint8Array): Promise<void> {
    const Key = this.key(h);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    try {
      if (this.conditionalWrites()) {
        try {
          await this.put(Key, body, { IfNoneMatch: '*' });
          return;
        } catch (e) {
          if (isPreconditionFailed(e)) throw this.alreadyExists(h);
          if ((this.s3.conditionalWrites ?? 'auto') !== 'auto' || !isConditionUnsupported(e)) throw e;
          this.conditional = false; // said unsupported (nothing was written): the fallback from now on
        }
      }
      if ((await this.head(Key)) !== undefined) throw this.alreadyExists(h);
      const token = randomBytes(16).toString('hex');
      await this.put(Key, body, { [WRITER_META]: token });
      const after = await this.head(Key);
      if (after?.Metadata?.[WRITER_META] !== token) throw this.alreadyExists(h);
    } catch (e) {
      throw this.fail(e, `creating ${describe(h)} in`);
    }
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Buffer> {
    checkRange(offset, length);
    const Key = this.key(h);
    try {
      if (length === 0) {
        const size = await this.sizeOf(h, Key);
        if (offset > size) throw pastEnd(h, offset, 0, size);
        return Buffer.alloc(0);
      }
      if (offset === 0 && length === undefined) return await this.getWhole(Key);
      return await this.getRange(h, Key, offset, length);
    } catch (e) {
      if (isNotFound(e)) throw this.notFound(h, e);
      throw this.fail(e, `loading ${describe(h)} from`);
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    const Key = this.key(h);
    try {
      return { name: h.type === 'config' ? 'config' : h.name, size: await this.sizeOf(h, Key) };
    } catch (e) {
      throw this.fail(e, `reading the size of ${describe(h)} in`);
    }
  }

  async list(type: FileType): Promise<FileInfo[]> {
    checkType(type);
    try {
      if (type === 'config') {
        const head = await this.head(this.key({ type, name: 'config' }));
        return head === undefined ? [] : [{ name: 'config', size: head.ContentLength ?? 0 }];
      }
      const prefix = `${this.base()}${type}/`;
      const out: FileInfo[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await this.send(({ sdk, client }) =>
          client.send(
            new sdk.ListObjectsV2Command({
              Bucket: this.loc.bucket,
              Prefix: prefix,
              ContinuationToken,
              ...(this.s3.listPageSize ? { MaxKeys: this.s3.listPageSize } : {}),
            }),
          ),
        );
        for (const o of page.Contents ?? []) {
          const name = nameIn(type, o.Key!.slice(prefix.length));
          if (name !== undefined) out.push({ name, size: o.Size ?? 0 });
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return out;
    } catch (e) {
      throw this.fail(e, `listing ${type} in`);
    }
  }

  async remove(h: Handle): Promise<void> {
    const Key = this.key(h);
    try {
      await this.send(({ sdk, client }) => client.send(new sdk.DeleteObjectCommand({ Bucket: this.loc.bucket, Key })));
    } catch (e) {
      if (isNotFound(e)) return;
      throw this.fail(e, `removing ${describe(h)} from`);
    }
  }

  /** Batch delete with DeleteObjects (s3-delete.ts); missing files are not errors. */
  async removeMany(hs: readonly Handle[]): Promise<void> {
    if (hs.length === 0) return;
    const names = new Map(hs.map((h) => [this.key(h), describe(h)]));
    let failed: KeyFailure[];
    try {
      failed = await deleteObjects(this.send, this.loc.bucket, [...names.keys()], this.connections);
    } catch (e) {
      throw this.fail(e, `removing ${hs.length} files from`);
    }
    if (failed.length > 0) throw deleteFailed(failed, hs.length, this.location, (k) => names.get(k) ?? k);
  }

  async exists(): Promise<boolean> {
    try {
      return (await this.head(this.key({ type: 'config', name: 'config' }))) !== undefined;
    } catch (e) {
      throw this.fail(e, 'checking for a repository in');
    }
  }

  /** Fails with REPO_EXISTS when a config exists; creates the bucket when it is missing. */
  async create(): Promise<void> {
    if (await this.exists()) throw new SafeholdError('REPO_EXISTS', `a repository already exists at ${this.location}`);
    const Bucket = this.loc.bucket;
    try {
      await this.send(({ sdk, client }) => client.send(new sdk.HeadBucketCommand({ Bucket })));
    } catch (e) {
      if (!isNotFound(e) && errorName(e) !== 'NoSuchBucket') throw this.fail(e, 'checking the bucket of');
      try {
        await this.send(({ sdk, client, region }) =>
          client.send(
            new sdk.CreateBucketCommand({
              Bucket,
              ...(this.loc.endpoint === undefined && region !== 'us-east-1'
                ? { CreateBucketConfiguration: { LocationConstraint: region as never } }
                : {}),
            }),
          ),
        );
      } catch (e2) {
        if (errorName(e2) !== 'BucketAlreadyOwnedByYou') throw this.fail(e2, 'creating the bucket of');
      }
    }
  }

  /** Aborts multipart uploads under the prefix started more than `olderThanMs` before `now` (left by killed saves). */
  async cleanTmp(olderThanMs: number, now: number): Promise<number> {
    try {
      const base = this.base();
      const ours = (key: string) => key.startsWith(base) && isLayoutKey(key.slice(base.length));
      return await abortStaleUploads(this.send, this.loc.bucket, base, now - olderThanMs, ours);
    } catch (e) {
      // A key without s3:ListBucketMultipartUploads, or a server without the call: nothing to clean
      // here (a lifecycle rule AbortIncompleteMultipartUpload does it), and no reason to fail a backup.
      const status = httpStatus(e);
      if (status === 403 || status === 501 || errorName(e) === 'NotImplemented') return 0;
      throw this.fail(e, 'cleaning unfinished uploads in');
    }
  }

  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    if (connecting) (await connecting.catch(() => undefined))?.client.destroy();
  }

  /** Runs one request with a connection slot held (the body is read inside `fn`). */
  private readonly send = async <T>(fn: (c: S3Connection) => Promise<T>): Promise<T> => {
    const c = await this.client();
    await this.gate.acquire();
    try {
      return await fn(c);
    } finally {
      this.gate.release();
    }
  };

  /**
   * A GET, repeated at once (a few times, briefly spaced) when the server
   * answers 500: radosgw does so (ECANCELED) to a GET that races an overwrite
   * of the object, where the next GET reads the new version whole. Other
   * failures, and a 500 that persists, go to the retry layer above.
   */
  private async sendGet<T>(fn: (c: S3Connection) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send(fn);
      } catch (e) {
        if (httpStatus(e) !== 500 || attempt >= RACE_RETRIES) throw e;
        await (this.opts.clock ?? systemClock).sleep(10 * 2 ** attempt);
      }
    }
  }

  private putExtras(sha: string, meta: Record<string, string> = {}): Record<string, unknown> {
    const s3 = this.s3;
    return {
      Metadata: { [SHA_META]: sha, ...meta },
      ...(s3.storageClass ? { StorageClass: s3.storageClass } : {}),
      ...(s3.sse ? { ServerSideEncryption: s3.sse.type } : {}),
      ...(s3.sse?.kmsKeyId ? { SSEKMSKeyId: s3.sse.kmsKeyId } : {}),
    };
  }

  /** A single PUT with Content-MD5 and SHA-256; `cond` holds IfNoneMatch or extra metadata. */
  private async put(Key: string, body: Buffer, cond: Record<string, string>): Promise<void> {
    const sha = createHash('sha256').update(body).digest();
    const { IfNoneMatch, ...meta } = cond;
    await this.send(({ sdk, client }) =>
      client.send(
        new sdk.PutObjectCommand({
          Bucket: this.loc.bucket,
          Key,
          Body: body,
          ContentLength: body.byteLength,
          ContentMD5: createHash('md5').update(body).digest('base64'),
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: sha.toString('base64'),
          ...(IfNoneMatch ? { IfNoneMatch } : {}),
          ...this.putExtras(sha.toString('hex'), meta),
        }),
      ),
    );
  }

  /** HeadObject, or undefined when the object (or bucket) is missing. */
  private async head(Key: string) {
    try {
      return await this.send(({ sdk, client }) =>
        client.send(new sdk.HeadObjectCommand({ Bucket: this.loc.bucket, Key })),
      );
    } catch (e) {
      if (isNotFound(e) || errorName(e) === 'NoSuchBucket') return undefined;
      throw e;
    }
  }

  private async sizeOf(h: Handle, Key: string): Promise<number> {
    const head = await this.head(Key);
    if (head === undefined) throw this.notFound(h);
    return head.ContentLength ?? 0;
  }

  /** The whole object, checked against the SHA-256 it was stored with. */
  private async getWhole(Key: string): Promise<Buffer> {
    return this.sendGet(async ({ sdk, client }) => {
      const out = await client.send(new sdk.GetObjectCommand({ Bucket: this.loc.bucket, Key }));
      const body = await readBody(out.Body);
      const ctx = this.ctx(`loading ${Key} from ${this.location}`);
      if (out.ContentLength !== undefined && body.byteLength !== out.ContentLength) {
        throw transportCorruption(ctx, `received ${body.byteLength} of ${out.ContentLength} bytes`);
      }
      const want = out.Metadata?.[SHA_META];
      if (want !== undefined && sha256Hex(body) !== want) {
        throw transportCorruption(ctx, 'the SHA-256 of the received body differs from the one stored with it');
      }
      return body;
    });
  }

  /** `length` bytes at `offset` (to the end when undefined) by a ranged GET; past the end is CORRUPT. */
  private async getRange(h: Handle, Key: string, offset: number, length: number | undefined): Promise<Buffer> {
    const Range = length === undefined ? `bytes=${offset}-` : `bytes=${offset}-${offset + length - 1}`;
    try {
      return await this.sendGet(async ({ sdk, client }) => {
        const out = await client.send(new sdk.GetObjectCommand({ Bucket: this.loc.bucket, Key, Range }));
        let body = await readBody(out.Body);
        if (out.ContentLength !== undefined && body.byteLength !== out.ContentLength) {
          throw transportCorruption(
            this.ctx(`loading ${describe(h)} from ${this.location}`),
            `received ${body.byteLength} of ${out.ContentLength} bytes`,
          );
        }
        const total = totalSize(out.ContentRange) ?? body.byteLength;
        if (out.ContentRange === undefined) body = body.subarray(offset); // the server ignored Range
        const want = length ?? total - offset;
        if (offset + want > total) throw pastEnd(h, offset, want, total);
        return body.byteLength === want ? body : body.subarray(0, want);
      });
    } catch (e) {
      if (!isInvalidRange(e)) throw e;
      const size = await this.sizeOf(h, Key);
      if (length === undefined && offset === size) return Buffer.alloc(0);
      throw pastEnd(h, offset, length ?? 0, size);
    }
  }

  /** Whether saveNew sends If-None-Match: * ('auto': until the server answers that it does not support it). */
  private conditionalWrites(): boolean {
    const mode = this.s3.conditionalWrites ?? 'auto';
    return mode === 'auto' ? this.conditional : mode === 'on';
  }

  private base(): string {
    return this.loc.prefix ? `${this.loc.prefix}/` : '';
  }

  /** Object key of a handle; rejects names that could escape their type's folder. */
  private key(h: Handle): string {
    return objectKey(this.base(), h);
  }

  private ctx(what: string) {
    return { what, endpoint: this.loc.endpoint ?? 'Amazon S3', bucket: this.loc.bucket };
  }

  private fail(e: unknown, verb: string): SafeholdError {
    return s3Error(e, this.ctx(`${verb} ${this.location}`));
  }

  private notFound(h: Handle, cause?: unknown): SafeholdError {
    return new SafeholdError('NOT_FOUND', `${describe(h)} not found in ${this.location}`, { cause });
  }

  private alreadyExists(h: Handle): SafeholdError {
    return new SafeholdError('ALREADY_EXISTS', `${describe(h)} already exists in ${this.location}`, {
      details: { type: h.type, name: h.name },
    });
  }
}

/** Reads a GetObject body whole; the buffer is the load's own memory. */
async function readBody(body: { transformToByteArray(): Promise<Uint8Array> } | undefined): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  const bytes = await body.transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new SafeholdError('CONFIG', `${what} must be a positive integer, not ${n}`);
  return n;
}
