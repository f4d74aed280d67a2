// The S3 backend against a real S3 server: Ceph radosgw started once for this
// file (test/helpers/radosgw.ts). The shared conformance suite runs with a
// fresh prefix per test in one bucket; then what only S3 has: conditional
// creation, refused credentials, ranged reads, multipart uploads, paginated
// listing, checksum mismatches as transport corruption, cleaning abandoned
// uploads. Location parsing is tested without a server.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { S3Backend, openS3 } from './s3-backend.ts';
import { parseS3Location } from './s3-location.ts';
import { openBackend } from './factory.ts';
import { backendConformanceSuite } from './conformance.ts';
import type { BackendOptions, S3Options } from './backend-options.ts';
import type { Handle } from './backend.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { radosgwMissing, startRadosgw } from '../../../test/helpers/radosgw.ts';
import type { Radosgw } from '../../../test/helpers/radosgw.ts';

const MiB = 1024 * 1024;
const skip = radosgwMissing();
let rgw: Radosgw | undefined;
let seq = 0;

function server(): Radosgw {
  assert.ok(rgw, 'radosgw is running');
  return rgw;
}

/** A backend on a fresh prefix of the test bucket. */
function fresh(s3: S3Options = {}, more: BackendOptions = {}): S3Backend {
  return new S3Backend(server().location(`t${process.pid}-${seq++}`), { ...more, s3: { ...creds(), ...s3 } });
}

function creds(): S3Options {
  const r = server();
  return { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey, region: r.region };
}

/** The key prefix of a backend made by fresh(). */
function prefixOf(b: S3Backend): string {
  return new URL(b.location.slice(3)).pathname.split('/').slice(2).join('/');
}

function id(): string {
  return randomBytes(32).toString('hex');
}

/** Records each SDK command's name and HTTP request headers. */
async function recordRequests(b: S3Backend): Promise<{ command: string; headers: Record<string, string> }[]> {
  const seen: { command: string; headers: Record<string, string> }[] = [];
  const { client } = await b.client();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request as { headers: Record<string, string> };
      seen.push({ command: String(context.commandName), headers: { ...req.headers } });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordRequests' },
  );
  return seen;
}

describe('S3Backend on radosgw', { skip }, () => {
  before(async () => {
    rgw = await startRadosgw();
    console.log(`radosgw started in ${rgw.startMs} ms at ${rgw.endpoint}`);
  });
  after(async () => {
    await rgw?.stop();
  });

  backendConformanceSuite('S3Backend (radosgw)', async () => ({ backend: fresh(), cleanup: async () => {} }));

  it('radosgw honours If-None-Match: saveNew sends it (no probe) and refuses an existing object', async () => {
    const b = fresh();
    try {
      const seen = await recordRequests(b);
      const h: Handle = { type: 'locks', name: id() };
      await b.saveNew(h, Buffer.from('mine'));
      await assert.rejects(b.saveNew(h, Buffer.from('theirs')), (e: unknown) => isSafeholdError(e, 'ALREADY_EXISTS'));
      assert.equal((await b.load(h)).toString(), 'mine');
      const conditional = seen.filter((r) => r.headers['if-none-match'] === '*');
      assert.equal(conditional.length, 2, 'each saveNew sends If-None-Match: *, with no probe before');
      assert.equal(seen.length, 3, 'two PUTs and the GET: nothing else (no probe object, no HEAD)');
      assert.deepEqual(await b.list('locks'), [{ name: h.name, size: 4 }]);
    } finally {
      await b.close();
    }
  });

  it('a server answering 501 to If-None-Match gets the fallback, remembered for the backend', async () => {
    // A real HTTP proxy in front of radosgw that refuses conditional PUTs as unsupported.
    const target = new URL(server().endpoint);
    let refused = 0;
    const proxy = http.createServer((req, res) => {
      if (req.method === 'PUT' && req.headers['if-none-match'] !== undefined) {
        refused++;
        req.resume();
        req.on('end', () => {
          res.writeHead(501, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0"?><Error><Code>NotImplemented</Code><Message>no</Message></Error>');
        });
        return;
      }
      const up = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    const port = (proxy.address() as AddressInfo).port;
    const location = server().location(`t${process.pid}-${seq++}`).replace(target.host, `127.0.0.1:${port}`);
    const b = new S3Backend(location, { s3: creds() });
    try {
      const h: Handle = { type: 'locks', name: id() };
      await b.saveNew(h, Buffer.from('mine'));
      await assert.rejects(b.saveNew(h, Buffer.from('theirs')), (e: unknown) => isSafeholdError(e, 'ALREADY_EXISTS'));
      await b.saveNew({ type: 'locks', name: id() }, Buffer.from('more'));
      assert.equal((await b.load(h)).toString(), 'mine');
      assert.equal(refused, 1, 'asked once with the header, then the fallback');
    } finally {
      await b.close();
      proxy.close();
    }
  });

  it('without conditional writes, the fallback still refuses an existing object', async () => {
    const b = fresh({ conditionalWrites: 'off' });
    try {
      const seen = await recordRequests(b);
      const h: Handle = { type: 'config', name: 'config' };
      await b.saveNew(h, Buffer.from('cfg'));
      await assert.rejects(b.saveNew(h, Buffer.from('other')), (e: unknown) => isSafeholdError(e, 'ALREADY_EXISTS'));
      assert.equal((await b.load(h)).toString(), 'cfg');
      assert.ok(!seen.some((r) => 'if-none-match' in r.headers), 'no conditional header sent');
    } finally {
      await b.close();
    }
  });

  it('wrong credentials give one clear permanent error naming endpoint and bucket, never the secret', async () => {
    const r = server();
    const secret = 'wrong-secret-0123456789abcdef';
    const cases: [S3Options, RegExp][] = [
      [{ accessKeyId: r.accessKeyId, secretAccessKey: secret }, /SignatureDoesNotMatch/],
      [{ accessKeyId: 'NOSUCHKEY000000000', secretAccessKey: secret }, /InvalidAccessKeyId/],
    ];
    for (const [s3, why] of cases) {
      const b = openS3(r.location('denied'), { s3: { ...s3, region: r.region } });
      try {
        const ops: [() => Promise<unknown>, RegExp][] = [
          [() => b.exists(), /HTTP 403/], // a HEAD answer has no body to say why
          [() => b.list('snapshots'), why],
          [() => b.save({ type: 'keys', name: id() }, Buffer.from('k')), why],
        ];
        for (const [op, reason] of ops) {
          await assert.rejects(op(), (e: unknown) => {
            assert.ok(isSafeholdError(e, 'FORBIDDEN'), `FORBIDDEN, got ${String(e)}`);
            assert.equal(e.retryable, false, 'not retried');
            assert.ok(e.message.includes(r.endpoint), `names the endpoint: ${e.message}`);
            assert.ok(e.message.includes(`bucket ${r.bucket}`), `names the bucket: ${e.message}`);
            assert.ok(!e.message.includes(secret), 'never the secret');
            assert.ok(!JSON.stringify(e.details).includes(secret), 'nor in the details');
            assert.match(e.message, reason);
            return true;
          });
        }
      } finally {
        await b.close();
      }
    }
    // Through the factory's layers (retries, cache): still one attempt and the same error.
    const layered = openBackend(r.location('denied'), {
      s3: { accessKeyId: r.accessKeyId, secretAccessKey: secret, region: r.region },
      cacheDir: null,
    });
    try {
      await assert.rejects(layered.list('index'), (e: unknown) => {
        assert.ok(isSafeholdError(e, 'FORBIDDEN'), String(e));
        assert.doesNotMatch(e.message, /attempts/);
        assert.match(e.message, /SignatureDoesNotMatch/);
        return true;
      });
    } finally {
      await layered.close();
    }
  });

  it('ranged reads ask for and transfer only the range', async () => {
    const b = fresh();
    try {
      const h: Handle = { type: 'data', name: id() };
      const data = randomBytes(100_000);
      await b.save(h, data);
      const seen = await recordRequests(b);
      assert.ok((await b.load(h, 4096, 1000)).equals(data.subarray(4096, 5096)));
      assert.ok((await b.load(h, 99_000)).equals(data.subarray(99_000)));
      const gets = seen.filter((r) => r.command === 'GetObjectCommand').map((r) => r.headers.range);
      assert.deepEqual(gets, ['bytes=4096-5095', 'bytes=99000-']);
    } finally {
      await b.close();
    }
  });

  it('a large object goes up as a parallel multipart upload and reads back whole', async () => {
    const b = fresh({ multipartThreshold: 6 * MiB, partSize: 5 * MiB }, { connections: 4 });
    try {
      const seen = await recordRequests(b);
      const h: Handle = { type: 'data', name: id() };
      const data = randomBytes(12 * MiB + 123);
      await b.save(h, data);
      const commands = seen.map((r) => r.command);
      assert.equal(commands.filter((c) => c === 'UploadPartCommand').length, 3);
      assert.ok(commands.includes('CompleteMultipartUploadCommand'));
      assert.ok(!commands.includes('PutObjectCommand'));
      assert.ok(seen.filter((r) => r.command === 'UploadPartCommand').every((r) => r.headers['content-md5']));
      const { client, sdk } = await b.client();
      const key = `${prefixOf(b)}/data/${h.name.slice(0, 2)}/${h.name}`;
      const head = await client.send(new sdk.HeadObjectCommand({ Bucket: server().bucket, Key: key }));
      assert.match(String(head.ETag), /-3"$/, 'a 3-part multipart object');
      assert.ok((await b.load(h)).equals(data), 'whole object, checksum verified');
      assert.ok((await b.load(h, 5 * MiB - 10, 20)).equals(data.subarray(5 * MiB - 10, 5 * MiB + 10)), 'across parts');
      assert.deepEqual(await b.stat(h), { name: h.name, size: data.byteLength });
    } finally {
      await b.close();
    }
  });

  it('listing more than one page of objects paginates', async () => {
    const b = fresh({ listPageSize: 300 }, { connections: 16 });
    try {
      const names = Array.from({ length: 1001 }, () => id());
      await Promise.all(names.map((n, i) => b.save({ type: 'index', name: n }, Buffer.alloc(i % 7))));
      const seen = await recordRequests(b);
      const listed = await b.list('index');
      assert.equal(seen.filter((r) => r.command === 'ListObjectsV2Command').length, 4, '1001 keys in pages of 300');
      assert.deepEqual(listed.map((f) => `${f.name}:${f.size}`).sort(), names.map((n, i) => `${n}:${i % 7}`).sort());
      // The same objects through a backend with S3's default page size (1000).
      const again = new S3Backend(b.location, { s3: creds() });
      assert.equal((await again.list('index')).length, 1001);
      await again.close();
    } finally {
      await b.close();
    }
  });

  it('removeMany deletes in batches of at most 1000 keys, missing keys included', async () => {
    const b = fresh({}, { connections: 16 });
    try {
      const names = Array.from({ length: 1010 }, () => id());
      await Promise.all(names.map((n) => b.save({ type: 'data', name: n }, Buffer.from('x'))));
      const seen = await recordRequests(b);
      const hs: Handle[] = names.slice(0, 1005).map((name) => ({ type: 'data', name }));
      await b.removeMany([...hs, { type: 'data', name: id() }, { type: 'locks', name: id() }]);
      assert.deepEqual(
        seen.map((r) => r.command),
        ['DeleteObjectsCommand', 'DeleteObjectsCommand'],
        '1007 keys in two requests',
      );
      assert.deepEqual((await b.list('data')).map((f) => f.name).sort(), names.slice(1005).sort());
    } finally {
      await b.close();
    }
  });

  it('a key the server did not delete fails removeMany with a clear error; missing keys do not', async () => {
    const b = fresh();
    try {
      const hs: Handle[] = Array.from({ length: 3 }, () => ({ type: 'snapshots', name: id() }));
      for (const h of hs) await b.save(h, Buffer.from('s'));
      const { client } = await b.client();
      // Adds per-key errors to the next DeleteObjects answer, as a server refusing one key would.
      let errors: { Key: string; Code: string; Message: string }[] = [];
      type Next = (args: unknown) => Promise<{ output: { Errors?: unknown[] } }>;
      const inject = (next: Next) => async (args: unknown) => {
        const out = await next(args);
        out.output.Errors = [...(out.output.Errors ?? []), ...errors];
        errors = [];
        return out;
      };
      client.middlewareStack.add(inject as never, { step: 'initialize', name: 'injectKeyErrors' });
      const key = `${prefixOf(b)}/snapshots/${hs[1]!.name}`;
      errors = [
        { Key: key, Code: 'AccessDenied', Message: 'Access Denied' },
        { Key: `${prefixOf(b)}/snapshots/${id()}`, Code: 'NoSuchKey', Message: 'missing' },
      ];
      await assert.rejects(b.removeMany(hs), (e: unknown) => {
        assert.ok(isSafeholdError(e, 'FORBIDDEN'), String(e));
        assert.equal(e.retryable, false);
        assert.match(
          e.message,
          /removing 3 files from s3:.*1 could not be removed: snapshots\/[0-9a-f]{12}.* \(AccessDenied: Access Denied\)/,
        );
        return true;
      });
      errors = [{ Key: key, Code: 'InternalError', Message: 'try again' }];
      await assert.rejects(b.removeMany(hs), (e: unknown) => isSafeholdError(e, 'IO') && e.retryable === true);
      errors = [{ Key: key, Code: 'NoSuchKey', Message: 'missing' }];
      await b.removeMany(hs);
      assert.deepEqual(await b.list('snapshots'), []);
    } finally {
      await b.close();
    }
  });

  it('a body altered in transit is transient transport corruption, not a corrupt repository', async () => {
    const b = fresh();
    try {
      const h: Handle = { type: 'snapshots', name: id() };
      const data = randomBytes(10_000);
      await b.save(h, data);
      const { client } = await b.client();
      // Alters the next GET's body on its way from the socket to the backend.
      let alter: ((body: Readable) => Readable) | undefined;
      type Next = (args: unknown) => Promise<{ response: unknown }>;
      const corrupt = (next: Next) => async (args: unknown) => {
        const out = await next(args);
        const res = out.response as { body: Readable };
        if (alter) res.body = alter(res.body);
        alter = undefined;
        return out;
      };
      client.middlewareStack.addRelativeTo(corrupt as never, {
        name: 'corruptBody',
        relation: 'after',
        toMiddleware: 'deserializerMiddleware',
      });
      const transient = (why: RegExp) => (e: unknown) => {
        assert.ok(isSafeholdError(e), String(e));
        assert.notEqual(e.code, 'CORRUPT');
        assert.equal(e.retryable, true);
        assert.match(e.message, /transport corruption/);
        assert.match(e.message, why);
        return true;
      };
      alter = (body) => body.pipe(flipFirstByte());
      await assert.rejects(b.load(h), transient(/SHA-256/));
      alter = (body) => body.pipe(dropLastByte());
      await assert.rejects(b.load(h), transient(/received 9999 of 10000 bytes/));
      alter = (body) => body.pipe(dropLastByte());
      await assert.rejects(b.load(h, 100, 50), transient(/received 49 of 50 bytes/));
      assert.ok((await b.load(h)).equals(data), 'the next, unaltered transfer succeeds');
    } finally {
      await b.close();
    }
  });

  it('every PUT carries Content-MD5, SHA-256, storage class and server-side encryption', async () => {
    const b = fresh({ storageClass: 'STANDARD_IA', sse: { type: 'aws:kms', kmsKeyId: 'key-1' } });
    try {
      const seen = await recordRequests(b);
      const { client } = await b.client();
      // Stop before sending: radosgw here has neither the class nor a KMS.
      client.middlewareStack.add(
        () => async () => {
          throw new Error('not sent');
        },
        { step: 'finalizeRequest', name: 'stopHere', priority: 'low' },
      );
      await assert.rejects(b.save({ type: 'data', name: id() }, Buffer.from('abc')));
      const put = seen.find((r) => r.command === 'PutObjectCommand')!.headers;
      assert.equal(put['content-md5'], 'kAFQmDzST7DWlj99KOF/cg==');
      assert.equal(put['x-amz-checksum-sha256'], 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
      assert.equal(
        put['x-amz-meta-safehold-sha256'],
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      );
      assert.equal(put['x-amz-storage-class'], 'STANDARD_IA');
      assert.equal(put['x-amz-server-side-encryption'], 'aws:kms');
      assert.equal(put['x-amz-server-side-encryption-aws-kms-key-id'], 'key-1');
    } finally {
      await b.close();
    }
  });

  it('cleanTmp aborts multipart uploads abandoned by a killed save', async () => {
    const b = fresh();
    try {
      const { client, sdk } = await b.client();
      const Bucket = server().bucket;
      const prefix = prefixOf(b);
      await client.send(new sdk.CreateMultipartUploadCommand({ Bucket, Key: `${prefix}/data/ab/ab${id().slice(2)}` }));
      const foreign = await client.send(new sdk.CreateMultipartUploadCommand({ Bucket, Key: `${prefix}/other/file` }));
      const now = Date.now();
      assert.equal(await b.cleanTmp(60_000, now), 0, 'a young upload may still be running');
      assert.equal(await b.cleanTmp(0, now + 5000), 1);
      const left = await client.send(new sdk.ListMultipartUploadsCommand({ Bucket, Prefix: `${prefix}/` }));
      assert.deepEqual(
        left.Uploads?.map((u) => u.UploadId),
        [foreign.UploadId],
        'only the upload outside the repository layout is left',
      );
    } finally {
      await b.close();
    }
  });
});

/** Passes all but the last byte through. */
function dropLastByte(): Transform {
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const all = held ? Buffer.concat([held, chunk]) : chunk;
      held = all.subarray(all.length - 1);
      cb(null, all.subarray(0, all.length - 1));
    },
  });
}

/** Flips the first byte that passes through. */
function flipFirstByte(): Transform {
  let done = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!done && chunk.length > 0) {
        chunk = Buffer.from(chunk);
        chunk[0] = chunk[0]! ^ 0xff;
        done = true;
      }
      cb(null, chunk);
    },
  });
}

describe('S3 locations', () => {
  it('parses an explicit endpoint with bucket and prefix', () => {
    assert.deepEqual(parseS3Location('s3:https://s3.example.com:9000/bkt/a/b/'), {
      endpoint: 'https://s3.example.com:9000',
      bucket: 'bkt',
      prefix: 'a/b',
      display: 's3:https://s3.example.com:9000/bkt/a/b',
    });
    assert.equal(parseS3Location('s3:http://127.0.0.1:7480/bkt').prefix, '');
  });

  it('parses the Amazon S3 form', () => {
    assert.deepEqual(parseS3Location('s3:my-bucket/backups/host1'), {
      endpoint: undefined,
      bucket: 'my-bucket',
      prefix: 'backups/host1',
      display: 's3:my-bucket/backups/host1',
    });
  });

  it('refuses bad locations with a clear usage error, never echoing credentials', () => {
    const cases: [string, RegExp][] = [
      ['s3:https://AKIA:topsecret@host/bkt', /credentials do not belong/],
      ['s3:https://host', /no bucket/],
      ['s3:https://host/bkt/a/../b', /invalid segment/],
      ['s3:Bad_Bucket/x', /not a valid bucket name/],
      ['s3://bkt/x', /not s3:\/\//],
      ['s3:https://host/bkt?x=1', /query/],
    ];
    for (const [loc, why] of cases) {
      assert.throws(
        () => openS3(loc),
        (e: unknown) => {
          assert.ok(isSafeholdError(e, 'USAGE'), String(e));
          assert.match(e.message, why);
          assert.ok(!e.message.includes('topsecret'));
          return true;
        },
        loc,
      );
    }
  });

  it('opening is synchronous and loads no SDK until the first request', async () => {
    const b = openS3('s3:https://s3.example.com/bkt/p', { s3: { accessKeyId: 'a', secretAccessKey: 'b' } });
    assert.equal(b.location, 's3:https://s3.example.com/bkt/p');
    await b.close();
  });
});
