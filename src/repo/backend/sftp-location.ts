// Parses an SFTP repository location: `sftp:user@host[:port]:/path` (absolute),
// `sftp:user@host:relative/path` (relative to the login directory), IPv6
// hosts in brackets (`sftp:user@[::1]:2222:/path`), and restic's URL form
// `sftp://user@host[:port]/path` (relative; `//path` is absolute). The user
// defaults to the local user name, like ssh.

import { userInfo } from 'node:os';
import { SafeholdError } from '../../core/errors.ts';

export interface SftpLocation {
  user: string;
  host: string;
  port: number;
  /** Repository directory on the server: absolute, or relative to the login directory. */
  path: string;
}

/** Parses `location` (which starts with `sftp:`); bad input → SafeholdError 'USAGE'. */
export function parseSftpLocation(location: string): SftpLocation {
  if (!location.startsWith('sftp:')) throw bad(location, 'it does not start with sftp:');
  return location.startsWith('sftp://') ? parseUrlForm(location) : parseScpForm(location);
}

/** `sftp:[user@]host[:port]:path`. */
function parseScpForm(location: string): SftpLocation {
  const rest = location.slice('sftp:'.length);
  const { user, afterUser } = splitUser(rest, location);
  let host: string;
  let tail: string;
  if (afterUser.startsWith('[')) {
    const close = afterUser.indexOf(']');
    if (close < 0) throw bad(location, 'an IPv6 address lacks its closing ]');
    host = afterUser.slice(1, close);
    tail = afterUser.slice(close + 1);
    if (!tail.startsWith(':')) throw bad(location, 'expected ":" and a path after the host');
    tail = tail.slice(1);
  } else {
    const colon = afterUser.indexOf(':');
    if (colon < 0) throw bad(location, 'expected sftp:user@host:/path');
    host = afterUser.slice(0, colon);
    tail = afterUser.slice(colon + 1);
  }
  let port = 22;
  const portMatch = /^(\d+):(.*)$/s.exec(tail);
  if (portMatch) {
    port = parsePort(portMatch[1]!, location);
    tail = portMatch[2]!;
  }
  return finish(location, user, host, port, tail);
}

/** `sftp://[user@]host[:port]/path`: one slash is relative to the login directory, two are absolute. */
function parseUrlForm(location: string): SftpLocation {
  const rest = location.slice('sftp://'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw bad(location, 'expected sftp://user@host/path');
  const authority = rest.slice(0, slash);
  const tail = rest.slice(slash + 1);
  const { user, afterUser } = splitUser(authority, location);
  let host = afterUser;
  let port = 22;
  const m = /^(\[[^\]]+\]|[^:]*)(?::(\d*))?$/.exec(afterUser);
  if (!m) throw bad(location, 'the host is not valid');
  host = m[1]!.replace(/^\[|\]$/g, '');
  if (m[2] !== undefined) port = parsePort(m[2], location);
  return finish(location, user, host, port, tail);
}

function splitUser(s: string, location: string): { user: string; afterUser: string } {
  const at = s.indexOf('@');
  const hostStart = s.search(/[:[/]/);
  if (at < 0 || (hostStart >= 0 && hostStart < at)) return { user: localUser(), afterUser: s };
  const user = s.slice(0, at);
  if (user === '' || /[:/\s]/.test(user)) throw bad(location, 'the user name is not valid');
  return { user, afterUser: s.slice(at + 1) };
}

function finish(location: string, user: string, host: string, port: number, path: string): SftpLocation {
  if (host === '' || /[\s/@]/.test(host)) throw bad(location, 'the host is missing or not valid');
  if (path === '' || path === '/') throw bad(location, 'the repository path is missing (or is the root directory)');
  if (path.includes('\0')) throw bad(location, 'the path is not valid');
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return { user, host, port, path: trimmed };
}

function parsePort(s: string, location: string): number {
  const port = Number(s);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(location, `port ${s} is not valid`);
  return port;
}

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'root';
  }
}

function bad(location: string, why: string): SafeholdError {
  return new SafeholdError('USAGE', `SFTP location ${JSON.stringify(location)}: ${why}`);
}

/** `user@host:port:/path` for messages and Backend.location (never contains secrets). */
export function formatSftpLocation(l: SftpLocation): string {
  const host = l.host.includes(':') ? `[${l.host}]` : l.host;
  return `sftp:${l.user}@${host}${l.port === 22 ? '' : `:${l.port}`}:${l.path}`;
}
