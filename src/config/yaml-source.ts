// Reads safehold.yaml with the `yaml` library, keeping the document so that
// any path inside the data (plans.nightly.activities[1].units) can be traced
// back to a line and column for error messages. Duplicate keys and syntax
// errors are reported with their positions.

import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node, Pair } from 'yaml';

export type PathSegment = string | number;

export interface Position {
  line: number;
  col: number;
}

export interface YamlSource {
  /** The data (plain JS values), or undefined when the file has syntax errors. */
  data: unknown;
  /** Syntax errors, duplicate keys, bad aliases. */
  errors: { message: string; at: Position | null }[];
  /** The position of the value (or of its key, with mode 'key') at `path`; the nearest existing ancestor when it is absent. */
  locate(path: readonly PathSegment[], mode: 'key' | 'value'): Position | null;
}

const MESSAGES: Record<string, string> = {
  DUPLICATE_KEY: 'duplicate key',
  TAB_AS_INDENT: 'tabs are not allowed as indentation',
  MULTIPLE_DOCS: 'only one YAML document is allowed (found a second after ---)',
};

export function parseYaml(text: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    merge: true,
    prettyErrors: false,
    strict: true,
  });
  const pos = (offset: number): Position => lines.linePos(offset);
  const errors: YamlSource['errors'] = doc.errors.map((e) => ({
    message:
      e.code === 'DUPLICATE_KEY'
        ? duplicateMessage(text, e.pos[0])
        : `YAML syntax error: ${MESSAGES[e.code] ?? lowerFirst(e.message)}`,
    at: pos(e.pos[0]),
  }));
  let data: unknown;
  if (errors.length === 0) {
    try {
      data = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      errors.push({ message: `YAML error: ${lowerFirst((e as Error).message)}`, at: null });
    }
  }
  return {
    data,
    errors,
    locate(path, mode) {
      const offset = locateOffset(doc, path, mode);
      return offset === null ? null : pos(offset);
    },
  };
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function duplicateMessage(text: string, offset: number): string {
  // The key text at the error's offset, e.g. "plan" in "  plan: x".
  const m = /^["']?([^"':\n]*)/.exec(text.slice(offset));
  const key = m?.[1]?.trim();
  return key ? `duplicate key '${key}'` : 'duplicate key';
}

function keyText(key: unknown): string | null {
  if (isScalar(key)) return String(key.value);
  return null;
}

function startOf(n: unknown): number | null {
  if (n && typeof n === 'object' && 'range' in n) {
    const r = (n as Node).range;
    if (r) return r[0];
  }
  return null;
}

function locateOffset(doc: Document, path: readonly PathSegment[], mode: 'key' | 'value'): number | null {
  let node: unknown = doc.contents;
  let best: number | null = startOf(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p: Pair) => keyText(p.key) === String(seg));
      if (!pair) return best;
      if (last && mode === 'key') return startOf(pair.key) ?? best;
      best = startOf(pair.value) ?? startOf(pair.key) ?? best;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return best;
      best = startOf(isPair(item) ? item.key : item) ?? best;
      node = item;
    } else {
      return best;
    }
  }
  return best;
}
