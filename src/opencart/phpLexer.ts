import { OcvaultError } from '../errors/OcvaultError.js';

/**
 * Just enough of a PHP lexer to find `define(...)` calls in a config file: strings (with
 * their PHP value), numbers, names, variables and punctuation, with comments, whitespace and
 * inline HTML outside `<?php ... ?>` skipped. Not a PHP parser: anything it does not know
 * is an `other` token, which makes a value "computed at run time", never a wrong value.
 */
export type TokenKind = 'string' | 'number' | 'name' | 'variable' | 'punct' | 'other';

export interface Token {
  kind: TokenKind;
  /** source text */
  text: string;
  /** a string's PHP value (undefined when it interpolates variables); a number's decimal text */
  value?: string;
  /** offsets in the source, [start, end) */
  start: number;
  end: number;
}

const NAME_START = /[A-Za-z_\x80-\uffff]/;
const NAME_CHAR = /[A-Za-z0-9_\x80-\uffff]/;
const MULTI_PUNCT = ['->', '::', '=>', '??', '==', '!=', '<=', '>=', '&&', '||', '.='];

/** Line number (1-based) of an offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

export function badConfig(file: string, text: string, offset: number, why: string): OcvaultError {
  const line = lineAt(text, offset);
  return new OcvaultError('BadConfig', `${file}, line ${line}: ${why}`, { file, line });
}

/** The tokens of the PHP parts of `text`, in order. */
export function lexPhp(text: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = text.length;
  const fail = (at: number, why: string): never => {
    // An unterminated string usually means a quote went missing earlier, which made an
    // earlier string swallow a line end: point at that one.
    const runaway = why.startsWith('unterminated') ? [...out].reverse().find((t) => t.kind === 'string' && t.text.includes('\n')) : undefined;
    if (runaway) throw badConfig(file, text, runaway.start, `the string starting here runs over several lines (a quote is missing?): ${JSON.stringify(runaway.text.slice(0, 40))}`);
    throw badConfig(file, text, at, why);
  };
  // inline HTML until the first open tag
  const openTag = (from: number): number => {
    const m = /<\?(?:php\b|=)/i.exec(text.slice(from));
    return m ? from + m.index + m[0].length : n;
  };
  i = openTag(0);
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '?' && text[i + 1] === '>') {
      i = openTag(i + 2);
      continue;
    }
    if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      // a line comment ends at the line end or at `?>`
      while (i < n && text[i] !== '\n' && !(text[i] === '?' && text[i + 1] === '>')) i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) fail(i, 'unterminated /* comment');
      i = close + 2;
      continue;
    }
    const start = i;
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) fail(start, 'unterminated single-quoted string');
        const d = text[i]!;
        if (d === '\\' && (text[i + 1] === "'" || text[i + 1] === '\\')) {
          v += text[i + 1];
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          v += d;
          i++;
        }
      }
      out.push({ kind: 'string', text: text.slice(start, i), value: v, start, end: i });
      continue;
    }
    if (c === '"') {
      const r = readDoubleQuoted(text, i + 1, '"');
      if (r === undefined) fail(start, 'unterminated double-quoted string');
      i = r!.end + 1;
      out.push({ kind: 'string', text: text.slice(start, i), value: r!.value, start, end: i });
      continue;
    }
    if (c === '<' && text.startsWith('<<<', i)) {
      const m = /^<<<[ \t]*(["']?)([A-Za-z_][A-Za-z0-9_]*)\1\r?\n/.exec(text.slice(i));
      if (!m) fail(i, 'malformed heredoc');
      const label = m![2]!;
      const bodyStart = i + m![0].length;
      const endRe = new RegExp(`^[ \\t]*${label}\\b`, 'm');
      const em = endRe.exec(text.slice(bodyStart));
      if (!em) fail(i, `heredoc <<<${label} is never closed`);
      i = bodyStart + em!.index + em![0].length;
      out.push({ kind: 'other', text: text.slice(start, i), start, end: i });
      continue;
    }
    if (c >= '0' && c <= '9') {
      const m = /^(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
      const raw = m![0];
      i += raw.length;
      const clean = raw.replace(/_/g, '');
      let value: string | undefined;
      if (/^0[xX]/.test(clean)) value = BigInt(clean).toString();
      else if (/^0[bB]/.test(clean)) value = BigInt(clean).toString();
      else if (/^0[0-7]+$/.test(clean)) value = BigInt('0o' + clean.slice(1)).toString();
      else if (/^\d+$/.test(clean)) value = BigInt(clean).toString();
      out.push({ kind: 'number', text: raw, ...(value !== undefined ? { value } : {}), start, end: i });
      continue;
    }
    if (c === '$' && NAME_START.test(text[i + 1] ?? '')) {
      i += 2;
      while (i < n && NAME_CHAR.test(text[i]!)) i++;
      out.push({ kind: 'variable', text: text.slice(start, i), start, end: i });
      continue;
    }
    if (NAME_START.test(c) || c === '\\') {
      i++;
      while (i < n && (NAME_CHAR.test(text[i]!) || text[i] === '\\')) i++;
      out.push({ kind: 'name', text: text.slice(start, i), start, end: i });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (MULTI_PUNCT.includes(two)) {
      i += 2;
      out.push({ kind: 'punct', text: two, start, end: i });
      continue;
    }
    i++;
    out.push({ kind: 'punct', text: c, start, end: i });
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', v: '\v', e: '\x1b', f: '\f', '\\': '\\', $: '$', '"': '"' };

/**
 * A double-quoted string body from `from` to the closing quote: its PHP value (undefined when
 * it interpolates a variable) and the offset of the closing quote.
 */
function readDoubleQuoted(text: string, from: number, quote: string): { value: string | undefined; end: number } | undefined {
  let v = '';
  let dynamic = false;
  let i = from;
  while (i < text.length) {
    const c = text[i]!;
    if (c === quote) return { value: dynamic ? undefined : v, end: i };
    if (c === '\\' && i + 1 < text.length) {
      const d = text[i + 1]!;
      if (d in SIMPLE_ESCAPES) {
        v += SIMPLE_ESCAPES[d];
        i += 2;
        continue;
      }
      let m: RegExpExecArray | null;
      if ((m = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4)))) {
        v += String.fromCharCode(parseInt(m[0], 8) & 0xff);
        i += 1 + m[0].length;
        continue;
      }
      if (d === 'x' && (m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2, i + 4)))) {
        v += String.fromCharCode(parseInt(m[0], 16));
        i += 2 + m[0].length;
        continue;
      }
      if (d === 'u' && (m = /^\{([0-9a-fA-F]+)\}/.exec(text.slice(i + 2)))) {
        v += String.fromCodePoint(parseInt(m[1]!, 16));
        i += 2 + m[0].length;
        continue;
      }
      v += c;
      i++;
      continue;
    }
    if (c === '$' && (NAME_START.test(text[i + 1] ?? '') || text[i + 1] === '{')) dynamic = true;
    if (c === '{' && text[i + 1] === '$') dynamic = true;
    v += c;
    i++;
  }
  return undefined;
}
