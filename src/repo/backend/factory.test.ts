// Tests of the backend factory: a local path gives a LocalBackend; s3: and
// sftp: locations give their backends inside retries, the rate limit and the
// metadata cache (each layer present as configured); any other URL is a
// clear USAGE error that never shows credentials.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openBackend, redactLocation, wrapRemote } from './factory.ts';
import { LocalBackend } from './local-backend.ts';
import { MemoryBackend } from './memory-backend.ts';
import { RetryingBackend } from './retrying-backend.ts';
import { RateLimitedBackend } from './rate-limited-backend.ts';
import { CachedBackend } from './cached-backend.ts';
import { isSafeholdError } from '../../core/errors.ts';

describe('openBackend', () => {
  it('opens a local directory as a LocalBackend, unwrapped', () => {
    const b = openBackend('some/relative/repo');
    assert.ok(b instanceof LocalBackend);
    assert.equal(b.location, path.resolve('some/relative/repo'));
  });

  it('wraps s3: and sftp: backends: cache over rate limit over retries', () => {
    const env = { XDG_CACHE_HOME: '/var/cache/test', HOME: '/home/x' };
    const s3 = openBackend('s3:https://127.0.0.1:9/bucket/prefix', { env });
    assert.ok(s3 instanceof CachedBackend);
    assert.match(s3.dir, /^\/var\/cache\/test\/safehold\/[0-9a-f]{32}$/);
    assert.equal(s3.location, 's3:https://127.0.0.1:9/bucket/prefix');
    const sftp = openBackend('sftp:backup@127.0.0.1:/srv/repo', { env, cacheDir: '/tmp/c' });
    assert.ok(sftp instanceof CachedBackend);
    assert.equal(sftp.dir, '/tmp/c');
    assert.ok(openBackend('s3:https://127.0.0.1:9/bucket', { cacheDir: null }) instanceof RetryingBackend);
    const limited = openBackend('s3:https://127.0.0.1:9/bucket', { cacheDir: null, rateLimit: { upload: 1000 } });
    assert.ok(limited instanceof RateLimitedBackend);
  });

  it('keeps saveNew through every layer', () => {
    const b = wrapRemote(new MemoryBackend(), { cacheDir: '/tmp/unused', rateLimit: { download: 10 } });
    assert.equal(typeof b.saveNew, 'function');
  });

  it('refuses other URLs with a clear error that hides credentials', () => {
    assert.throws(
      () => openBackend('ftp://alice:s3cr3t@example.com/repo'),
      (e: unknown) => {
        assert.ok(isSafeholdError(e, 'USAGE'));
        assert.ok(!e.message.includes('s3cr3t'), e.message);
        assert.match(e.message, /ftp:\/\/\*\*\*@example\.com\/repo: unknown kind of location/);
        return true;
      },
    );
  });

  it('redactLocation hides user:secret@ only', () => {
    assert.equal(redactLocation('https://k:s@h/b'), 'https://***@h/b');
    assert.equal(redactLocation('sftp:backup@host:/srv'), 'sftp:backup@host:/srv');
    assert.equal(redactLocation('/plain/path'), '/plain/path');
  });
});
