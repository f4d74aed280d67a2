// Editing the text of an INI, YAML or JSON file for the config-edit step:
// set keys (dotted: an INI section and key, a path into YAML/JSON maps) and
// remove keys, keeping everything else as it was (comments and order in INI
// and YAML). Pure functions from old text to new text and the list of changes.

import { parseDocument } from 'yaml';
import { SafeholdError } from '../../../core/errors.ts';

export type ConfigFormat = 'ini' | 'yaml' | 'json';
export type ConfigValue = string | number | boolean | null;

export interface ConfigChange {
  key: string;
  /** undefined: the key was absent. */
  old: ConfigValue | undefined;
  /** undefined: the key is removed. */
  new: ConfigValue | undefined;
}

export interface EditResult {
  text: string;
  changes: ConfigChange[];
}

export function formatOf(file: string, given: ConfigFormat | undefined): ConfigFormat {
  if (given) return given;
  if (/\.ya?ml$/i.test(file)) return 'yaml';
  if (/\.json$/i.test(file)) return 'json';
  if (/\.(ini|conf|cfg|properties)$/i.test(file)) return 'ini';
  throw new SafeholdError(
    'RUNBOOK_STEP_FAILED',
    `cannot tell the format of ${file} from its name: give format: ini, yaml or json`,
  );
}

export function editText(
  format: ConfigFormat,
  text: string,
  set: Readonly<Record<string, ConfigValue>>,
  remove: readonly string[],
): EditResult {
  if (format === 'ini') return editIni(text, set, remove);
  return format === 'yaml' ? editYaml(text, set, remove) : editJson(text, set, remove);
}

function same(a: ConfigValue | undefined, b: ConfigValue | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && String(a) === String(b) && typeof a === typeof b);
}

// ---- JSON

function editJson(text: string, set: Readonly<Record<string, ConfigValue>>, remove: readonly string[]): EditResult {
  let data: unknown;
  try {
    data = text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    throw new SafeholdError('RUNBOOK_STEP_FAILED', `not valid JSON: ${(e as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new SafeholdError('RUNBOOK_STEP_FAILED', 'expected a JSON object at the top of the file');
  const changes: ConfigChange[] = [];
  for (const [key, value] of Object.entries(set)) {
    const path = key.split('.');
    const parent = walk(data as Record<string, unknown>, path.slice(0, -1), true, key)!;
    const last = path[path.length - 1]!;
    const old = scalarOrUndefined(parent[last], key);
    if (same(old, value)) continue;
    parent[last] = value;
    changes.push({ key, old, new: value });
  }
  for (const key of remove) {
    const path = key.split('.');
    const parent = walk(data as Record<string, unknown>, path.slice(0, -1), false, key);
    const last = path[path.length - 1]!;
    if (!parent || !Object.hasOwn(parent, last)) continue;
    changes.push({ key, old: scalarOrUndefined(parent[last], key, true), new: undefined });
    delete parent[last];
  }
  const indent = /^\{\s*\n(\s+)"/.exec(text)?.[1]?.length ?? 2;
  return { text: changes.length ? `${JSON.stringify(data, null, indent)}\n` : text, changes };
}

function walk(
  root: Record<string, unknown>,
  path: readonly string[],
  create: boolean,
  key: string,
): Record<string, unknown> | null {
  let node = root;
  for (const seg of path) {
    let next = node[seg];
    if (next === undefined) {
      if (!create) return null;
      next = node[seg] = {};
    }
    if (next === null || typeof next !== 'object' || Array.isArray(next))
      throw new SafeholdError('RUNBOOK_STEP_FAILED', `key '${key}': '${seg}' is not a map in the file`);
    node = next as Record<string, unknown>;
  }
  return node;
}

function scalarOrUndefined(v: unknown, key: string, anyOk = false): ConfigValue | undefined {
  if (v === undefined || v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    return v as ConfigValue | undefined;
  if (anyOk) return JSON.stringify(v);
  throw new SafeholdError('RUNBOOK_STEP_FAILED', `key '${key}' holds a map or list, not a value`);
}

// ---- YAML

function editYaml(text: string, set: Readonly<Record<string, ConfigValue>>, remove: readonly string[]): EditResult {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new SafeholdError('RUNBOOK_STEP_FAILED', `not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (doc.contents === null) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  const changes: ConfigChange[] = [];
  for (const [key, value] of Object.entries(set)) {
    const path = key.split('.');
    const old = scalarOrUndefined(toPlain(doc.getIn(path)), key);
    if (same(old, value)) continue;
    doc.setIn(path, value);
    changes.push({ key, old, new: value });
  }
  for (const key of remove) {
    const path = key.split('.');
    if (!doc.hasIn(path)) continue;
    changes.push({ key, old: scalarOrUndefined(toPlain(doc.getIn(path)), key, true), new: undefined });
    doc.deleteIn(path);
  }
  return { text: changes.length ? String(doc) : text, changes };
}

function toPlain(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && 'toJSON' in v && typeof (v as { toJSON: unknown }).toJSON === 'function')
    return (v as { toJSON: () => unknown }).toJSON();
  return v;
}

// ---- INI

interface IniLine {
  text: string;
  section: string;
  key: string | null;
  value: string | null;
}

const SECTION_RE = /^\s*\[([^\]]+)\]\s*$/;
const ENTRY_RE = /^(\s*)([^=:;#\s][^=:]*?)(\s*[=:]\s*)(.*)$/;

function parseIni(text: string): IniLine[] {
  let section = '';
  return text.split('\n').map((line) => {
    const s = SECTION_RE.exec(line);
    if (s) {
      section = s[1]!.trim();
      return { text: line, section, key: null, value: null };
    }
    const t = line.trim();
    const e = t.startsWith(';') || t.startsWith('#') ? null : ENTRY_RE.exec(line);
    return { text: line, section, key: e ? e[2]!.trim() : null, value: e ? e[4]! : null };
  });
}

/** A dotted key as (section, key): the longest existing section that prefixes it, else split at the last dot. */
function iniKey(lines: IniLine[], dotted: string): { section: string; key: string } {
  const sections = [...new Set(lines.map((l) => l.section))].filter((s) => s !== '' && dotted.startsWith(`${s}.`));
  sections.sort((a, b) => b.length - a.length);
  if (sections[0] !== undefined) return { section: sections[0], key: dotted.slice(sections[0].length + 1) };
  const i = dotted.lastIndexOf('.');
  return i < 0 ? { section: '', key: dotted } : { section: dotted.slice(0, i), key: dotted.slice(i + 1) };
}

function iniValue(v: ConfigValue): string {
  return v === null ? '' : String(v);
}

function editIni(text: string, set: Readonly<Record<string, ConfigValue>>, remove: readonly string[]): EditResult {
  let lines = parseIni(text);
  const changes: ConfigChange[] = [];
  for (const [dotted, value] of Object.entries(set)) {
    const { section, key } = iniKey(lines, dotted);
    const at = lines.findIndex((l) => l.section === section && l.key === key);
    if (at >= 0) {
      const old = lines[at]!.value!;
      if (old === iniValue(value)) continue;
      const m = ENTRY_RE.exec(lines[at]!.text)!;
      lines[at] = { ...lines[at]!, text: `${m[1]}${m[2]}${m[3]}${iniValue(value)}`, value: iniValue(value) };
      changes.push({ key: dotted, old, new: value });
      continue;
    }
    const entry: IniLine = { text: `${key} = ${iniValue(value)}`, section, key, value: iniValue(value) };
    lines = insertInSection(lines, section, entry);
    changes.push({ key: dotted, old: undefined, new: value });
  }
  for (const dotted of remove) {
    const { section, key } = iniKey(lines, dotted);
    const at = lines.findIndex((l) => l.section === section && l.key === key);
    if (at < 0) continue;
    changes.push({ key: dotted, old: lines[at]!.value, new: undefined });
    lines.splice(at, 1);
  }
  return { text: changes.length ? lines.map((l) => l.text).join('\n') : text, changes };
}

function insertInSection(lines: IniLine[], section: string, entry: IniLine): IniLine[] {
  const inSection = lines.map((l, i) => (l.section === section ? i : -1)).filter((i) => i >= 0);
  if (inSection.length === 0) {
    const out = [...lines];
    while (out.length > 0 && out[out.length - 1]!.text.trim() === '') out.pop();
    if (section !== '') {
      if (out.length > 0) out.push({ text: '', section: out[out.length - 1]!.section, key: null, value: null });
      out.push({ text: `[${section}]`, section, key: null, value: null });
    }
    return section === '' ? [entry, ...lines] : [...out, entry, { text: '', section, key: null, value: null }];
  }
  // After the section's last entry (before its trailing blank lines and comments).
  let last = inSection[0]!;
  for (const i of inSection) if (lines[i]!.key !== null || SECTION_RE.test(lines[i]!.text)) last = i;
  return [...lines.slice(0, last + 1), entry, ...lines.slice(last + 1)];
}
