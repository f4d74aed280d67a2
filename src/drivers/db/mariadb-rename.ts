// Restoring a mariadb-dump of one database under another name. The dump has
// no CREATE DATABASE or USE, and the server writes views, routines and events
// without their database; but a trigger keeps the text it was created with,
// so `CREATE TRIGGER shop.audit ... ON shop.orders` comes back qualified with
// the original database and would land there (or fail). This stream rewrites
// those two qualifiers of each trigger's header from the original name to the
// new one; everything else passes through byte for byte. References to the
// database's own name inside bodies (triggers, views, routines, events) are
// the application's and are left alone.

import { ident } from './mariadb-connection.ts';

/** How mariadb-dump starts a trigger: the CREATE, then the definer, then the trigger's own text. */
const MARKER = Buffer.from('/*!50003 CREATE*/ ');
/** A trigger header is short; a longer undecided statement is passed through unchanged. */
const MAX_HEADER = 64 * 1024;
const NAME = '(?:`(?:[^`]|``)*`|"(?:[^"]|"")*"|[0-9A-Za-z_$\\u0080-\\uffff]+)';
const HEADER = new RegExp(
  `^(.*?/\\*!50003 TRIGGER\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?)(?:(${NAME})\\s*\\.\\s*)?(${NAME}\\s+(?:BEFORE|AFTER)\\s+(?:INSERT|UPDATE|DELETE)\\s+ON\\s+)(?:(${NAME})\\s*\\.\\s*)?(?=${NAME})`,
  'is',
);

type State = 'start' | 'pass' | 'trigger';

export async function* renameTriggers(
  src: AsyncIterable<Buffer | string>,
  from: string,
  to: string,
): AsyncGenerator<Buffer> {
  let state: State = 'start';
  let pending: Buffer[] = [];
  let pendingLen = 0;
  for await (const raw of src) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      const end = nl < 0 ? chunk.length : nl + 1;
      const piece = chunk.subarray(pos, end);
      const lineDone = nl >= 0;
      pos = end;
      if (state === 'pass') {
        out.push(piece);
        if (lineDone) state = 'start';
        continue;
      }
      pending.push(piece);
      pendingLen += piece.length;
      if (state === 'start') {
        if (pendingLen < MARKER.length && !lineDone) continue;
        const head = Buffer.concat(pending);
        if (head.subarray(0, MARKER.length).equals(MARKER)) {
          pending = [head];
          state = 'trigger';
        } else {
          out.push(head);
          pending = [];
          pendingLen = 0;
          state = lineDone ? 'start' : 'pass';
          continue;
        }
      }
      if (!lineDone) continue;
      const text = Buffer.concat(pending).toString('utf8');
      const m = HEADER.exec(text);
      if (m || /;;\r?\n$/.test(text) || pendingLen > MAX_HEADER) {
        out.push(Buffer.from(m ? rewrite(text, m, from, to) : text, 'utf8'));
        pending = [];
        pendingLen = 0;
        state = 'start';
      }
    }
    if (out.length) yield Buffer.concat(out);
  }
  if (pending.length) yield Buffer.concat(pending);
}

function rewrite(text: string, m: RegExpExecArray, from: string, to: string): string {
  const q = (name: string | undefined) => (name === undefined ? '' : `${unquote(name) === from ? ident(to) : name}.`);
  return m[1]! + q(m[2]) + m[3]! + q(m[4]) + text.slice(m[0].length);
}

function unquote(name: string): string {
  if (name.startsWith('`')) return name.slice(1, -1).replace(/``/g, '`');
  if (name.startsWith('"')) return name.slice(1, -1).replace(/""/g, '"');
  return name;
}
