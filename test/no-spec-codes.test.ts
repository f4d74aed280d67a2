// Nothing a user sees names the internal specification's section codes: the
// run log, errors, alerts, API answers, the console, CLI help and the config
// schema's descriptions say what happened in plain words. Code comments may
// keep the codes (they are for developers), so only these are scanned:
//  - the string literals, template literal parts and JSX text of every
//    non-test .ts/.tsx file under src/ and web/src/, read with the TypeScript
//    parser (so comments are never seen, and '//' inside a string such as
//    'http://…' does not hide the rest of the string; regex literals are
//    patterns, not text, and are not scanned);
//  - every file of docs/ (Markdown and the generated JSON schema) and
//    README.md, as they are.
//
// The rule (case-sensitive, whole words; SECTION_CODE below):
//  1. S + one or two digits + one or more ".digits": S3.5, S4.10, S10.2;
//  2. S + one or two digits other than 3, on its own: "S5 locked", "(S9)",
//     "(S6, S7)", "S5's"; S3 is exempt on its own because it is also Amazon
//     S3 ("Amazon S3", "(S3)", an "s3:" location is lower case anyway);
//  3. S3 as a step reference: "S3 step 5", "S3 steps 3 and 4";
//  4. "SPEC" followed by any code: "SPEC S3", "SPEC S9".

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dirname, '..');

const SECTION_CODE = new RegExp(
  [
    String.raw`\bS\d{1,2}(?:\.\d+)+\b`,
    String.raw`\bS(?:[0-24-9]|\d{2})\b`,
    String.raw`\bS3 steps? \d`,
    String.raw`\bSPEC\s+S\d{1,2}\b`,
  ].join('|'),
);

/** The section code in `text`, or null. */
function sectionCode(text: string): string | null {
  return SECTION_CODE.exec(text)?.[0] ?? null;
}

interface Piece {
  line: number;
  text: string;
}

/** The text of a source file's string literals, template literal parts and JSX text, with their lines; comments are not part of any. */
function userText(file: string, source: string): Piece[] {
  const sf = ts.createSourceFile(
    file,
    source,
    ts.ScriptTarget.Latest,
    true,
    file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const out: Piece[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node) ||
      ts.isJsxText(node)
    ) {
      out.push({ line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Non-test .ts/.tsx files under `dir` (relative to the repository). */
function sources(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return (fs.readdirSync(abs, { recursive: true }) as string[])
    .filter(
      (rel) =>
        /\.tsx?$/.test(rel) &&
        !/\.test\.tsx?$/.test(rel) &&
        !rel.endsWith('.d.ts') &&
        !rel.split(path.sep).includes('node_modules'),
    )
    .map((rel) => path.join(dir, rel));
}

describe('no specification section codes in what users see', () => {
  it('the rule flags the codes and leaves Amazon S3 alone', () => {
    for (const bad of [
      'S4.8 retention keeps 3 of 5 snapshot(s)',
      'S3.5 2 task(s) created',
      'step S10.2',
      'S5 locked target:QA1',
      'S6 group app: stopped',
      'exits 0 (S7).',
      '(S6, S7)',
      '(S7; e.g. ciwcleanup)',
      "S5's purge",
      'SPEC S9',
      'SPEC S3',
      '(S3 step 1)',
      'S3 steps 3 and 4',
    ]) {
      assert.ok(sectionCode(bad), `flags ${JSON.stringify(bad)}`);
    }
    for (const ok of [
      'Amazon S3',
      'an S3 bucket',
      'Amazon Simple Storage Service (S3)',
      's3://bucket/path',
      'location: s3:eu-west-1/bucket',
      'S3-compatible storage',
      'SPECIAL',
      'DS4.8',
      'CS10',
      'S123',
      'MS5',
      'xS9',
      'inside the maintenance window',
      'sha256 S',
    ]) {
      assert.equal(sectionCode(ok), null, `does not flag ${JSON.stringify(ok)}`);
    }
  });

  it('the scan sees strings, templates and JSX text, not comments or regex literals', () => {
    const src = [
      '// S4.8 a comment',
      '/* (S9) a block',
      '   comment S5 */',
      "const a = 'http://host/x'; // S3.5 after a URL",
      "const b = 'see http://host/ then S4.8 in the same string';",
      'const c = `S5 ${a} S6 group`;',
      'const d = /S4\\.8/;',
      'const e = <p title="(S7)">SPEC S9 restore</p>;',
    ].join('\n');
    const flagged = userText('sample.tsx', src)
      .filter((p) => sectionCode(p.text))
      .map((p) => `${p.line}:${sectionCode(p.text)}`);
    assert.deepEqual(flagged, ['5:S4.8', '6:S5', '6:S6', '8:S7', '8:SPEC S9']);
  });

  it('no user-visible string of src/ or web/src/ names a section code', () => {
    const files = [...sources('src'), ...sources(path.join('web', 'src'))];
    assert.ok(files.length > 100, `scanned ${files.length} files`);
    const hits: string[] = [];
    for (const rel of files) {
      for (const p of userText(rel, fs.readFileSync(path.join(ROOT, rel), 'utf8'))) {
        const code = sectionCode(p.text);
        if (code) hits.push(`${rel}:${p.line}: ${code} in ${JSON.stringify(p.text)}`);
      }
    }
    assert.deepEqual(hits, [], `say it in plain words instead:\n${hits.join('\n')}`);
  });

  it('no page of docs/ nor README.md names a section code', () => {
    const docs = (fs.readdirSync(path.join(ROOT, 'docs'), { recursive: true }) as string[])
      .filter((rel) => fs.statSync(path.join(ROOT, 'docs', rel)).isFile() && /\.(md|json|txt|ya?ml)$/.test(rel))
      .map((rel) => path.join('docs', rel));
    const files = [...docs, 'README.md'];
    assert.ok(docs.length >= 10, `scanned ${docs.length} files of docs/`);
    const hits: string[] = [];
    for (const rel of files) {
      fs.readFileSync(path.join(ROOT, rel), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = sectionCode(line);
          if (code) hits.push(`${rel}:${i + 1}: ${code} in ${JSON.stringify(line.trim())}`);
        });
    }
    assert.deepEqual(hits, [], `say it in plain words instead:\n${hits.join('\n')}`);
  });
});
