// Debian's snmptrapd as a real trap receiver for tests: started on a free
// UDP port on 127.0.0.1 with a temporary configuration that accepts one v2c
// community (`authCommunity log,execute`; any other community is dropped),
// loading deploy/SAFEHOLD-MIB.txt so traps are logged with symbolic names,
// one line per trap on stdout. Also: where the IETF base MIB modules are.
//
// Debian's snmp packages ship without the IETF base modules (SNMPv2-SMI, ...)
// that SAFEHOLD-MIB imports. They are taken from the first directory that has
// them (snmp-mibs-downloader's, libsmi's, Erlang's snmp application); when
// none has, minimal stand-ins that define only what SAFEHOLD-MIB imports are
// written to the temporary directory.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const SNMPTRAPD = '/usr/sbin/snmptrapd';
export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));
/** Each logged trap starts with this (then the varbinds, tab-separated). */
const TRAP_PREFIX = 'SAFEHOLD-TRAP ';
const BASE_MODULES = ['SNMPv2-SMI', 'SNMPv2-TC', 'SNMPv2-CONF', 'SNMP-FRAMEWORK-MIB'];

export function hasSnmptrapd(): boolean {
  return fs.existsSync(SNMPTRAPD);
}

export interface Trap {
  line: string;
  /** The value of snmpTrapOID.0 (the second varbind), e.g. SAFEHOLD-MIB::safeholdRunFailed. */
  trapOid: string;
  /** Varbind names after sysUpTime.0 and snmpTrapOID.0, in order. */
  names: string[];
  /** Varbind name (e.g. SAFEHOLD-MIB::safeholdAlertSummary.0) → value as logged, without its type prefix. */
  vars: Record<string, string>;
}

export interface Snmptrapd {
  host: string;
  port: number;
  /** Every trap logged so far, in order. */
  traps: Trap[];
  /** Whether the base modules are the real IETF ones (else stand-ins). */
  realBaseMibs: boolean;
  /** Resolves with the first trap (logged or still to come) that `pred` accepts. */
  waitForTrap(pred: (t: Trap) => boolean, what: string, timeoutMs?: number): Promise<Trap>;
  stop(): Promise<void>;
}

interface TestContext {
  after(fn: () => unknown): void;
}

/** Starts snmptrapd accepting `community`; it is stopped and its files removed after the test. */
export async function startSnmptrapd(t: TestContext, community: string): Promise<Snmptrapd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-snmptrapd-'));
  let running: Omit<Snmptrapd, 'realBaseMibs'> | undefined;
  // Stop first: snmptrapd writes its persistent state into `dir` as it exits.
  t.after(async () => {
    await running?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const conf = path.join(dir, 'safehold-trapd.conf');
  fs.writeFileSync(conf, `authCommunity log,execute ${community}\ndoNotRetainNotificationLogs yes\n`);
  const base = baseMibDir(dir);
  let lastError = '';
  for (let i = 0; i < 3; i++) {
    const port = await freeUdpPort();
    try {
      running = await launch(dir, conf, base.dir, port);
      return { ...running, realBaseMibs: base.real };
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
  }
  throw new Error(`snmptrapd did not start: ${lastError}`);
}

async function launch(
  dir: string,
  conf: string,
  baseDir: string,
  port: number,
): Promise<Omit<Snmptrapd, 'realBaseMibs'>> {
  const args = [
    '-f',
    '-Lo',
    '-n',
    '-X',
    '-C',
    '-c',
    conf,
    '-M',
    `${baseDir}:${DEPLOY_DIR}`,
    '-m',
    'SAFEHOLD-MIB',
    '-F',
    `${TRAP_PREFIX}%v\n`,
    `udp:127.0.0.1:${port}`,
  ];
  // SNMPCONFPATH / SNMP_PERSISTENT_DIR: read no user or system snmp.conf, write nothing outside `dir`.
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    SNMPCONFPATH: dir,
    SNMP_PERSISTENT_DIR: path.join(dir, 'state'),
  };
  const child = spawn(SNMPTRAPD, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const traps: Trap[] = [];
  const waiters: { pred: (t: Trap) => boolean; resolve: (t: Trap) => void }[] = [];
  let started = false;
  let stderr = '';
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!started && line.includes('NET-SNMP version')) {
        started = true;
        resolve();
      }
      if (!line.startsWith(TRAP_PREFIX)) return;
      const trap = parseTrap(line);
      traps.push(trap);
      for (const w of [...waiters])
        if (w.pred(trap)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(trap);
        }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!started) reject(new Error(`exited ${code ?? signal}: ${stderr.trim()}`));
    });
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  return {
    host: '127.0.0.1',
    port,
    traps,
    waitForTrap(pred, what, timeoutMs = 5000) {
      const seen = traps.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (tr: Trap) => {
            clearTimeout(timer);
            resolve(tr);
          },
        };
        // biome-ignore lint/correctness/noUnusedVariables: cleared by the waiter above once a trap arrives
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(
            new Error(
              `no trap ${what} within ${timeoutMs} ms; logged:\n${traps.map((x) => x.line).join('\n')}\nstderr: ${stderr}`,
            ),
          );
        }, timeoutMs);
        waiters.push(w);
      });
    },
    stop: () => stopChild(child),
  };
}

function parseTrap(line: string): Trap {
  const entries: [string, string][] = [];
  for (const part of line.slice(TRAP_PREFIX.length).split('\t')) {
    const m = /^(\S+) = (?:[A-Za-z0-9-]+: )?(.*)$/s.exec(part);
    if (m) entries.push([m[1]!, m[2]!]);
  }
  return {
    line,
    trapOid: entries[1]?.[1] ?? '',
    names: entries.slice(2).map(([n]) => n),
    vars: Object.fromEntries(entries),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Directories that may hold the IETF base modules, most usual first. */
function candidateDirs(): string[] {
  const dirs = ['/usr/share/snmp/mibs/ietf', '/var/lib/mibs/ietf', '/usr/share/mibs/ietf'];
  const erlang = '/usr/lib/erlang/lib';
  try {
    for (const d of fs
      .readdirSync(erlang)
      .filter((n) => n.startsWith('snmp-'))
      .sort()
      .reverse())
      dirs.push(path.join(erlang, d, 'mibs'));
  } catch {
    /* no Erlang */
  }
  return dirs;
}

function hasModule(dir: string, name: string): boolean {
  return ['', '.txt', '.mib', '.my'].some((ext) => fs.existsSync(path.join(dir, name + ext)));
}

/** A directory with the base modules SAFEHOLD-MIB imports: a real one, or stand-ins written under `tmp`. */
export function baseMibDir(tmp: string): { dir: string; real: boolean } {
  // SAFEHOLD_TEST_MIB_STAND_INS=1 tries the stand-ins on a machine that has the real modules.
  if (process.env.SAFEHOLD_TEST_MIB_STAND_INS !== '1')
    for (const dir of candidateDirs()) if (BASE_MODULES.every((m) => hasModule(dir, m))) return { dir, real: true };
  const dir = path.join(tmp, 'base-mibs');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(STAND_INS)) fs.writeFileSync(path.join(dir, `${name}.txt`), text);
  return { dir, real: false };
}

/** Only what SAFEHOLD-MIB imports, for a parser that knows the SMI macros itself (net-snmp's does). */
const STAND_INS: Record<string, string> = {
  'SNMPv2-SMI': `SNMPv2-SMI DEFINITIONS ::= BEGIN
org OBJECT IDENTIFIER ::= { iso 3 }
dod OBJECT IDENTIFIER ::= { org 6 }
internet OBJECT IDENTIFIER ::= { dod 1 }
private OBJECT IDENTIFIER ::= { internet 4 }
enterprises OBJECT IDENTIFIER ::= { private 1 }
END
`,
  'SNMPv2-TC': 'SNMPv2-TC DEFINITIONS ::= BEGIN\nEND\n',
  'SNMPv2-CONF': 'SNMPv2-CONF DEFINITIONS ::= BEGIN\nEND\n',
  'SNMP-FRAMEWORK-MIB': `SNMP-FRAMEWORK-MIB DEFINITIONS ::= BEGIN
IMPORTS TEXTUAL-CONVENTION FROM SNMPv2-TC;
SnmpAdminString ::= TEXTUAL-CONVENTION
    DISPLAY-HINT "255a"
    STATUS current
    DESCRIPTION "Stand-in: UTF-8 administrative text."
    SYNTAX OCTET STRING (SIZE (0..255))
END
`,
};
