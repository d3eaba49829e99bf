import { isUtf8 } from 'node:buffer';
import type { ColumnManifest } from './manifest.js';
import { quoteIdent } from './identifiers.js';

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const UTF8_CHARSETS = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'ascii']);

/** Escapes text for a single-quoted literal (backslash escapes, as mysqldump writes them). */
export function escapeText(s: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    let rep: string | undefined;
    switch (s.charCodeAt(i)) {
      case 0x00: rep = '\\0'; break;
      case 0x0a: rep = '\\n'; break;
      case 0x0d: rep = '\\r'; break;
      case 0x1a: rep = '\\Z'; break;
      case 0x27: rep = "\\'"; break;
      case 0x5c: rep = '\\\\'; break;
      default: continue;
    }
    out += s.slice(last, i) + rep;
    last = i + 1;
  }
  return last === 0 ? s : out + s.slice(last);
}

function hex(b: Buffer): string {
  return b.length === 0 ? "''" : `0x${b.toString('hex')}`;
}

/**
 * A row value (the raw field bytes of the row format) as an SQL literal that loads back to
 * the same stored value, through a client using `SET NAMES utf8mb4`: numbers bare, dates
 * and such quoted, UTF-8 text quoted, everything else (BLOB, BIT, geometry, text in other
 * character sets or not valid UTF-8) as a hex literal, whose bytes are stored unconverted.
 */
export function sqlLiteral(value: Buffer | null, column: ColumnManifest): string {
  if (value === null) return 'NULL';
  switch (column.kind) {
    case 'integer':
    case 'decimal':
    case 'float': {
      const s = value.toString('latin1');
      return NUMBER.test(s) ? s : `'${escapeText(s)}'`;
    }
    case 'temporal':
    case 'other':
      return isUtf8(value) ? `'${escapeText(value.toString('utf8'))}'` : hex(value);
    case 'text':
      return UTF8_CHARSETS.has(column.charset ?? '') && isUtf8(value) ? `'${escapeText(value.toString('utf8'))}'` : hex(value);
    default:
      return hex(value);
  }
}

/** `(v1,v2,...)` for one row. */
export function sqlTuple(row: ReadonlyArray<Buffer | null>, columns: readonly ColumnManifest[]): string {
  let s = '(';
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) s += ',';
    s += sqlLiteral(row[i] ?? null, columns[i] as ColumnManifest);
  }
  return s + ')';
}

/** `INSERT INTO `t` (`a`,`b`) VALUES ` */
export function insertPrefix(table: string, columns: readonly ColumnManifest[]): string {
  return `INSERT INTO ${quoteIdent(table)} (${columns.map((c) => quoteIdent(c.name)).join(',')}) VALUES `;
}
