import * as path from 'node:path';
import { OcvaultError } from '../errors/OcvaultError.js';
import { badConfig, lexPhp, lineAt, type Token } from './phpLexer.js';

/**
 * OpenCart's `config.php` (and `admin/config.php`, `index.php`'s VERSION): every
 * `define('KEY', expr);`, wherever it stands (also inside `if (!defined(...)) { ... }`).
 * `expr` is evaluated when it is made of single-quoted strings, double-quoted strings,
 * integers, constants defined earlier in the file, `__DIR__`, `__FILE__` and `dirname(...)`,
 * joined with `.`; anything else (variables, `$_SERVER`, other functions) is kept as
 * "computed at run time" and only an error when the value is asked for. A define that is not
 * even PHP (unterminated string, missing parenthesis or comma) is a BadConfig error naming
 * the file and line. Strings are read exactly as PHP reads them, so values written with
 * `addslashes` (OpenCart's installer) come back as PHP sees them.
 */
export interface PhpDefine {
  key: string;
  /** the value as PHP computes it; undefined when computed at run time */
  value: string | undefined;
  /** why `value` is undefined */
  dynamic?: string;
  /** 1-based line of the `define` */
  line: number;
  /** the value expression: source offsets [valueStart, valueEnd) and its text */
  valueStart: number;
  valueEnd: number;
  expression: string;
  /** the expression is only literals (no constants, no __DIR__): rewriting it is safe */
  literal: boolean;
  /** the expression is a single integer literal */
  integer: boolean;
  /** offset just after the statement (after `)` and a `;` if there is one) */
  statementEnd: number;
}

export interface PhpConfig {
  file: string;
  /** every define, in file order (a repeated key appears more than once; PHP keeps the first) */
  defines: PhpDefine[];
}

/** The first define of `key` (the one PHP keeps), if any. */
export function findDefine(cfg: PhpConfig, key: string): PhpDefine | undefined {
  return cfg.defines.find((d) => d.key === key);
}

export function hasDefine(cfg: PhpConfig, key: string): boolean {
  return findDefine(cfg, key) !== undefined;
}

/**
 * The value of `key`: undefined when it is not defined; a BadConfig error (file and line)
 * when it is defined but computed at run time.
 */
export function configValue(cfg: PhpConfig, key: string): string | undefined {
  const d = findDefine(cfg, key);
  if (!d) return undefined;
  if (d.value === undefined) {
    throw new OcvaultError('BadConfig', `${cfg.file}, line ${d.line}: ${key} is computed at run time (${d.dynamic ?? d.expression}); ocvault needs a literal value`, { file: cfg.file, line: d.line, key });
  }
  return d.value;
}

/** Like configValue, but undefined (not an error) for a value computed at run time. */
export function configValueOrUndefined(cfg: PhpConfig, key: string): string | undefined {
  return findDefine(cfg, key)?.value;
}

export interface ParseOptions {
  /** constants known before the file runs (e.g. none; tests) */
  constants?: Record<string, string>;
}

interface Term {
  value: string | undefined;
  dynamic?: string;
  literal: boolean;
}

/** Parses the defines of a PHP config file. `file` is its path (errors name it; `__DIR__` is its folder). */
export function parsePhpConfig(text: string, file: string, opts: ParseOptions = {}): PhpConfig {
  const tokens = lexPhp(text, file);
  const constants = new Map<string, string | undefined>(Object.entries(opts.constants ?? {}));
  const defines: PhpDefine[] = [];
  const absFile = path.resolve(file);
  let pos = 0;

  const at = (k: number): Token | undefined => tokens[k];
  const fail = (offset: number, why: string): never => {
    throw badConfig(file, text, offset, why);
  };
  const isPunct = (t: Token | undefined, p: string): boolean => t !== undefined && t.kind === 'punct' && t.text === p;

  /** Index of the token ending the current argument (a `,` or `)` at depth 0). */
  const skipArgument = (from: number, defineAt: number): number => {
    let depth = 0;
    for (let k = from; k < tokens.length; k++) {
      const t = tokens[k]!;
      if (t.kind !== 'punct') continue;
      if (t.text === '(' || t.text === '[' || t.text === '{') depth++;
      else if (t.text === ')' || t.text === ']' || t.text === '}') {
        if (depth === 0) return k;
        depth--;
      } else if (t.text === ',' && depth === 0) return k;
      else if (t.text === ';' && depth === 0) fail(t.start, 'define(...) is not closed before the end of the statement');
    }
    return fail(defineAt, 'define( is never closed');
  };

  /** Parses `term ('.' term)*` from `k`; returns the value and the index after it. */
  const parseConcat = (k: number, defineAt: number): { term: Term; next: number } => {
    let acc: Term = { value: '', literal: true };
    for (;;) {
      const r = parseTerm(k, defineAt);
      acc = join(acc, r.term);
      k = r.next;
      if (isPunct(at(k), '.')) {
        k++;
        continue;
      }
      return { term: acc, next: k };
    }
  };

  const join = (a: Term, b: Term): Term => ({
    value: a.value !== undefined && b.value !== undefined ? a.value + b.value : undefined,
    dynamic: a.dynamic ?? b.dynamic,
    literal: a.literal && b.literal,
  });

  const parseTerm = (k: number, defineAt: number): { term: Term; next: number } => {
    const t = at(k);
    if (!t) return fail(defineAt, 'define( is never closed');
    if (t.kind === 'string') {
      return { term: t.value === undefined ? { value: undefined, dynamic: `${t.text} interpolates a variable`, literal: false } : { value: t.value, literal: true }, next: k + 1 };
    }
    if (t.kind === 'number') {
      return { term: t.value === undefined ? { value: undefined, dynamic: `number ${t.text}`, literal: false } : { value: t.value, literal: true }, next: k + 1 };
    }
    if (isPunct(t, '-') && at(k + 1)?.kind === 'number' && at(k + 1)!.value !== undefined) {
      return { term: { value: '-' + at(k + 1)!.value!, literal: true }, next: k + 2 };
    }
    if (isPunct(t, '(')) {
      const inner = parseConcat(k + 1, defineAt);
      if (!isPunct(at(inner.next), ')')) return { term: { value: undefined, dynamic: 'an expression ocvault does not evaluate', literal: false }, next: inner.next };
      return { term: inner.term, next: inner.next + 1 };
    }
    if (t.kind === 'name') {
      const name = t.text.replace(/^\\/, '');
      const upper = name.toUpperCase();
      if (upper === '__DIR__') return { term: { value: path.dirname(absFile), literal: false }, next: k + 1 };
      if (upper === '__FILE__') return { term: { value: absFile, literal: false }, next: k + 1 };
      if (isPunct(at(k + 1), '(')) {
        if (name.toLowerCase() === 'dirname') {
          const arg = parseConcat(k + 2, defineAt);
          let levels = 1;
          let next = arg.next;
          if (isPunct(at(next), ',') && at(next + 1)?.kind === 'number') {
            levels = Number(at(next + 1)!.value ?? '1');
            next += 2;
          }
          if (!isPunct(at(next), ')')) return { term: { value: undefined, dynamic: 'an expression ocvault does not evaluate', literal: false }, next };
          let v = arg.term.value;
          for (let l = 0; v !== undefined && l < levels; l++) v = path.posix.dirname(v);
          return { term: { value: v, dynamic: arg.term.dynamic, literal: false }, next: next + 1 };
        }
        return { term: { value: undefined, dynamic: `calls ${name}()`, literal: false }, next: k + 1 };
      }
      if (upper === 'TRUE') return { term: { value: '1', literal: true }, next: k + 1 };
      if (upper === 'FALSE' || upper === 'NULL') return { term: { value: '', literal: true }, next: k + 1 };
      if (constants.has(name)) {
        const v = constants.get(name);
        return { term: { value: v, dynamic: v === undefined ? `uses ${name}, which is computed at run time` : undefined, literal: false }, next: k + 1 };
      }
      return { term: { value: undefined, dynamic: `uses ${name}, which is not defined before this line`, literal: false }, next: k + 1 };
    }
    if (t.kind === 'variable') return { term: { value: undefined, dynamic: `uses ${t.text}`, literal: false }, next: k + 1 };
    return { term: { value: undefined, dynamic: 'an expression ocvault does not evaluate', literal: false }, next: k + 1 };
  };

  while (pos < tokens.length) {
    const t = tokens[pos]!;
    const prev = tokens[pos - 1];
    const isDefine =
      t.kind === 'name' && t.text.replace(/^\\/, '').toLowerCase() === 'define' && isPunct(at(pos + 1), '(') &&
      !(prev && ((prev.kind === 'punct' && (prev.text === '->' || prev.text === '::')) || (prev.kind === 'name' && ['function', 'new', 'const'].includes(prev.text.toLowerCase()))));
    if (!isDefine) {
      pos++;
      continue;
    }
    const defineAt = t.start;
    const keyTok = at(pos + 2);
    if (!keyTok || keyTok.kind !== 'string' || keyTok.value === undefined || !isPunct(at(pos + 3), ',')) {
      if (keyTok && keyTok.kind === 'string' && keyTok.value !== undefined) fail(keyTok.end, `expected , after ${keyTok.text} in define(...)`);
      fail(keyTok?.start ?? defineAt, 'define(...) must start with the constant name as a quoted string');
    }
    const key = keyTok!.value!;
    const valueFirst = pos + 4;
    if (!at(valueFirst) || isPunct(at(valueFirst), ')') || isPunct(at(valueFirst), ',')) fail(at(valueFirst)?.start ?? defineAt, `define('${key}', ...) has no value`);
    const end = skipArgument(valueFirst, defineAt);
    const parsed = parseConcat(valueFirst, defineAt);
    let term = parsed.term;
    if (parsed.next !== end) term = { value: undefined, dynamic: 'an expression ocvault does not evaluate', literal: false };
    // optional third argument (case-insensitive flag), then `)`
    let close = end;
    if (isPunct(at(close), ',')) close = skipArgument(close + 1, defineAt);
    if (!isPunct(at(close), ')')) fail(at(close)?.start ?? defineAt, `define('${key}', ...) is not closed`);
    let statementEnd = at(close)!.end;
    if (isPunct(at(close + 1), ';')) statementEnd = at(close + 1)!.end;
    const first = tokens[valueFirst]!;
    const last = tokens[end - 1]!;
    for (let k = valueFirst; k < end; k++) {
      const s = tokens[k]!;
      if (s.kind === 'string' && s.text.includes('\n') && /\bdefine\s*\(/i.test(s.text)) {
        fail(s.start, `the value of ${key} runs over several lines into another define (a quote is missing?)`);
      }
    }
    const integer = end === valueFirst + 1 && first.kind === 'number' && first.value !== undefined;
    defines.push({
      key,
      value: term.value,
      ...(term.value === undefined ? { dynamic: term.dynamic ?? 'an expression ocvault does not evaluate' } : {}),
      line: lineAt(text, defineAt),
      valueStart: first.start,
      valueEnd: last.end,
      expression: text.slice(first.start, last.end),
      literal: term.literal && term.value !== undefined,
      integer,
      statementEnd,
    });
    if (!constants.has(key)) constants.set(key, term.value);
    pos = close + 1;
  }
  return { file, defines };
}

/**
 * A PHP single-quoted literal for `value`, escaped like `addslashes` for `'` and `\` (the
 * only escapes a single-quoted string has), so PHP reads back exactly `value`.
 */
export function phpSingleQuoted(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

export interface RewriteOptions {
  /** add `define('KEY', 'value');` after the last define for keys the file lacks (default: error) */
  appendMissing?: boolean;
}

/**
 * The file with the values of `values`' keys replaced (every define of each key), everything
 * else byte for byte as it was: comments, layout, other defines, line endings. A value that
 * was an integer literal stays one when the new value is an integer.
 */
export function rewritePhpConfig(text: string, file: string, values: Record<string, string>, opts: RewriteOptions = {}): string {
  const cfg = parsePhpConfig(text, file);
  const edits: Array<{ start: number; end: number; text: string }> = [];
  const missing: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const found = cfg.defines.filter((d) => d.key === key);
    if (found.length === 0) {
      missing.push(key);
      continue;
    }
    for (const d of found) edits.push({ start: d.valueStart, end: d.valueEnd, text: d.integer && /^-?\d+$/.test(value) ? value : phpSingleQuoted(value) });
  }
  if (missing.length > 0) {
    if (!opts.appendMissing) throw new OcvaultError('BadConfig', `${file} has no define for ${missing.join(', ')}`, { file });
    const last = cfg.defines[cfg.defines.length - 1];
    const eol = text.includes('\r\n') ? '\r\n' : '\n';
    const lines = missing.map((k) => `define(${phpSingleQuoted(k)}, ${phpSingleQuoted(values[k]!)});`).join(eol);
    if (last) {
      const lineEnd = text.indexOf('\n', last.statementEnd);
      const at = lineEnd < 0 ? text.length : lineEnd + 1;
      edits.push({ start: at, end: at, text: (lineEnd < 0 ? eol : '') + lines + eol });
    } else {
      edits.push({ start: text.length, end: text.length, text: (text.endsWith('\n') || text === '' ? '' : eol) + lines + eol });
    }
  }
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
