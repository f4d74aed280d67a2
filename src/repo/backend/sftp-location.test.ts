// Tests for SFTP location parsing and known_hosts matching: the location
// forms users type, their errors, and host key verdicts for plain, hashed,
// wildcard, negated and revoked known_hosts lines.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSftpLocation, parseSftpLocation } from './sftp-location.ts';
import { checkHostKey, fingerprint, keyTypeOf, knownKeyTypes } from './known-hosts.ts';
import { isSafeholdError } from '../../core/errors.ts';

describe('SFTP locations', () => {
  it('parses the scp-like and URL forms', () => {
    const cases: [string, { user: string; host: string; port: number; path: string }][] = [
      ['sftp:bob@backup.example:/srv/repo', { user: 'bob', host: 'backup.example', port: 22, path: '/srv/repo' }],
      [
        'sftp:bob@backup.example:2222:/srv/repo/',
        { user: 'bob', host: 'backup.example', port: 2222, path: '/srv/repo' },
      ],
      ['sftp:bob@host:repos/main', { user: 'bob', host: 'host', port: 22, path: 'repos/main' }],
      ['sftp:bob@[::1]:2200:/r', { user: 'bob', host: '::1', port: 2200, path: '/r' }],
      ['sftp:bob@host:/a@b', { user: 'bob', host: 'host', port: 22, path: '/a@b' }],
      ['sftp://bob@host:2222//srv/repo', { user: 'bob', host: 'host', port: 2222, path: '/srv/repo' }],
      ['sftp://bob@host/rel', { user: 'bob', host: 'host', port: 22, path: 'rel' }],
    ];
    for (const [loc, want] of cases) assert.deepEqual(parseSftpLocation(loc), want, loc);
    assert.equal(parseSftpLocation('sftp:host:/r').host, 'host', 'the user defaults to the local one');
    assert.equal(formatSftpLocation(parseSftpLocation('sftp:bob@[::1]:2200:/r')), 'sftp:bob@[::1]:2200:/r');
    assert.equal(formatSftpLocation(parseSftpLocation('sftp:bob@h:22:/r')), 'sftp:bob@h:/r');
  });

  it('rejects malformed locations with a USAGE error naming them', () => {
    for (const bad of [
      'sftp:bob@host',
      'sftp:bob@host:',
      'sftp:bob@host:/',
      'sftp:bob@:/r',
      'sftp:bob@host:99999:/r',
      'sftp:@h:/r',
      'sftp:bob@[::1/r',
      'sftp://bob@host',
    ]) {
      assert.throws(
        () => parseSftpLocation(bad),
        (e: unknown) => isSafeholdError(e, 'USAGE') && e.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
  });
});

/** A fake public key blob of `type` (known_hosts only compares bytes). */
function blob(type: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from([0, 0, 0, 32]), randomBytes(32)]);
}

const line = (hosts: string, key: Buffer, marker = ''): string =>
  `${marker}${marker ? ' ' : ''}${hosts} ${keyTypeOf(key)} ${key.toString('base64')}`;

describe('known_hosts', () => {
  const key = blob('ssh-ed25519');
  const other = blob('ssh-ed25519');
  const rsa = blob('ssh-rsa');

  it('matches plain names, [host]:port, patterns and hashed names', () => {
    assert.deepEqual(checkHostKey(line('srv,10.0.0.1', key), 'srv', 22, key), { kind: 'match' });
    assert.deepEqual(checkHostKey(line('[srv]:2222', key), 'srv', 2222, key), { kind: 'match' });
    assert.deepEqual(checkHostKey(line('srv', key), 'srv', 2222, key), { kind: 'unknown' }, 'port matters');
    assert.deepEqual(checkHostKey(line('*.example.org,!bad.example.org', key), 'a.example.org', 22, key), {
      kind: 'match',
    });
    assert.deepEqual(checkHostKey(line('*.example.org,!bad.example.org', key), 'bad.example.org', 22, key), {
      kind: 'unknown',
    });
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[srv]:2222').digest();
    const hashed = `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
    assert.deepEqual(checkHostKey(line(hashed, key), 'srv', 2222, key), { kind: 'match' });
    assert.deepEqual(checkHostKey(line(hashed, key), 'srv', 22, key), { kind: 'unknown' });
  });

  it('reports a changed key with the known types, and refuses revoked keys', () => {
    const text = [line('srv', other), line('srv', rsa), '# comment', 'garbage line'].join('\n');
    assert.deepEqual(checkHostKey(text, 'srv', 22, key), { kind: 'changed', knownTypes: ['ssh-ed25519', 'ssh-rsa'] });
    assert.deepEqual(knownKeyTypes(text, 'srv', 22), ['ssh-ed25519', 'ssh-rsa']);
    assert.deepEqual(checkHostKey(`${line('srv', key)}\n${line('*', key, '@revoked')}`, 'srv', 22, key), {
      kind: 'revoked',
    });
  });

  it('fingerprints like OpenSSH', { skip: existsSync('/usr/bin/ssh-keygen') ? false : 'needs ssh-keygen' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'safehold-fp-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
      const pub = readFileSync(join(dir, 'k.pub'), 'utf8').split(' ')[1]!;
      const want = execFileSync('ssh-keygen', ['-lf', join(dir, 'k.pub')], { encoding: 'utf8' }).split(' ')[1];
      assert.equal(fingerprint(Buffer.from(pub, 'base64')), want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
