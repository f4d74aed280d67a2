// Glob patterns on names (not paths): '*' any run of characters, '?' one
// character, '[abc]', '[a-z]' and '[!x]' character classes; everything else
// literal. Compiled once to a RegExp, so matching thousands of names is cheap.

const SPECIAL = /[.+^${}()|\\/]/;

export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += SPECIAL.test(c) || c === '[' || c === ']' ? `\\${c}` : c;
  }
  return new RegExp(`${re}$`, 's');
}

export function isGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** Natural order: QA2 before QA10. */
export const naturalCompare = new Intl.Collator('en', { numeric: true }).compare;
