import { isUtf8 } from 'node:buffer';
import { OcvaultError } from '../../errors/OcvaultError.js';
import { quoteIdent } from './identifiers.js';
import type { ColumnManifest } from './manifest.js';
import { ESCAPED, NULL, RowDecoder, decodeField, type RowView } from './rowDecoder.js';

const UTF8_CHARSETS = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'ascii']);
const HEX = Buffer.from('0123456789abcdef');
const NULL_TEXT = Buffer.from('NULL');

/** byte -> the letter after a backslash inside a quoted SQL string, or 0 */
const SQL_ESCAPE = new Uint8Array(256);
SQL_ESCAPE[0x00] = 0x30; // \0
SQL_ESCAPE[0x0a] = 0x6e; // \n
SQL_ESCAPE[0x0d] = 0x72; // \r
SQL_ESCAPE[0x1a] = 0x5a; // \Z
SQL_ESCAPE[0x27] = 0x27; // \'
SQL_ESCAPE[0x5c] = 0x5c; // \\

/** bytes that may stand bare as a number literal */
const NUMERIC = new Uint8Array(256);
for (const c of '0123456789+-.eE') NUMERIC[c.charCodeAt(0)] = 1;

type Style = 'number' | 'quoted' | 'text' | 'hex';

function styleOf(c: ColumnManifest): Style {
  switch (c.kind) {
    case 'integer':
    case 'decimal':
    case 'float':
      return 'number';
    case 'temporal':
    case 'other':
      return 'quoted';
    case 'text':
      return UTF8_CHARSETS.has(c.charset ?? '') ? 'text' : 'hex';
    default:
      return 'hex';
  }
}

/**
 * Turns rows (row-format views) into multi-row `INSERT INTO t (cols) VALUES (...),(...)`
 * statements of at most about `maxStatementBytes`, writing SQL bytes directly (no string per
 * value). Values load back to the same stored bytes through a client using
 * `SET NAMES utf8mb4`: numbers bare; dates and such quoted; UTF-8 text quoted with
 * backslash escapes; BLOB, BIT, geometry, text in other character sets or not valid UTF-8
 * as hex literals, whose bytes are stored unconverted.
 */
export class SqlInsertWriter {
  private buf: Buffer;
  private pos = 0;
  private tuples = 0;
  private readonly prefix: Buffer;
  private readonly styles: Style[];
  private readonly max: number;
  private readonly done: Buffer[] = [];

  constructor(table: string, private readonly columns: readonly ColumnManifest[], maxStatementBytes: number) {
    this.prefix = Buffer.from(`INSERT INTO ${quoteIdent(table)} (${columns.map((c) => quoteIdent(c.name)).join(',')}) VALUES `, 'utf8');
    this.styles = columns.map(styleOf);
    this.max = Math.max(maxStatementBytes, this.prefix.length + 64);
    this.buf = Buffer.allocUnsafe(this.max + (this.max >> 1));
  }

  /** Adds one row; throws CorruptObject when its field count is wrong. */
  addRow(row: RowView, table: string): void {
    if (row.count !== this.columns.length) {
      throw new OcvaultError('CorruptObject', `a row of table \`${table}\` has ${row.count} fields, expected ${this.columns.length}`, { table });
    }
    let bound = 4 + 6 * row.count;
    for (let i = 0; i < row.count; i++) bound += 2 * ((row.ends[i] as number) - (row.starts[i] as number));
    if (this.tuples > 0 && this.pos + bound > this.max) this.close();
    this.ensure(bound + this.prefix.length);
    if (this.tuples === 0) {
      this.prefix.copy(this.buf, this.pos);
      this.pos += this.prefix.length;
    } else {
      this.buf[this.pos++] = 0x2c; // ,
      this.buf[this.pos++] = 0x0a;
    }
    this.buf[this.pos++] = 0x28; // (
    for (let i = 0; i < row.count; i++) {
      if (i > 0) this.buf[this.pos++] = 0x2c;
      const flag = row.flags[i];
      if (flag === NULL) {
        NULL_TEXT.copy(this.buf, this.pos);
        this.pos += 4;
      } else if (flag === ESCAPED) {
        const v = decodeField(row.data, row.starts[i] as number, row.ends[i] as number) as Buffer;
        this.value(v, 0, v.length, this.styles[i] as Style);
      } else {
        this.value(row.data, row.starts[i] as number, row.ends[i] as number, this.styles[i] as Style);
      }
    }
    this.buf[this.pos++] = 0x29; // )
    this.tuples++;
  }

  /** The statements completed so far (without `;`); the caller owns them. */
  take(): Buffer[] {
    return this.done.splice(0);
  }

  /** Ends the statement in progress, if any. */
  close(): void {
    if (this.tuples === 0) return;
    this.done.push(Buffer.from(this.buf.subarray(0, this.pos)));
    this.pos = 0;
    this.tuples = 0;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private value(data: Buffer, s: number, e: number, style: Style): void {
    const out = this.buf;
    if (style === 'number') {
      let bare = e > s;
      for (let i = s; i < e && bare; i++) bare = NUMERIC[data[i] as number] === 1;
      if (bare) {
        this.pos += data.copy(out, this.pos, s, e);
        return;
      }
      style = 'quoted';
    }
    if (style !== 'hex') {
      let ascii = true;
      for (let i = s; i < e && ascii; i++) ascii = (data[i] as number) < 0x80;
      if (!ascii && !isUtf8(data.subarray(s, e))) style = 'hex';
    }
    let p = this.pos;
    if (style === 'hex') {
      if (e === s) {
        out[p++] = 0x27;
        out[p++] = 0x27;
      } else {
        out[p++] = 0x30; // 0x...
        out[p++] = 0x78;
        for (let i = s; i < e; i++) {
          const c = data[i] as number;
          out[p++] = HEX[c >> 4] as number;
          out[p++] = HEX[c & 15] as number;
        }
      }
    } else {
      out[p++] = 0x27;
      for (let i = s; i < e; i++) {
        const c = data[i] as number;
        const x = SQL_ESCAPE[c] as number;
        if (x === 0) {
          out[p++] = c;
        } else {
          out[p++] = 0x5c;
          out[p++] = x;
        }
      }
      out[p++] = 0x27;
    }
    this.pos = p;
  }
}

/**
 * The INSERT statements for a table's row stream, as they fill up (each without `;`).
 * Checks the row count against the manifest's.
 */
export async function* insertStatements(table: { name: string; columns: readonly ColumnManifest[]; rowCount: number }, rows: AsyncIterable<Buffer>, maxStatementBytes: number): AsyncGenerator<Buffer> {
  const writer = new SqlInsertWriter(table.name, table.columns, maxStatementBytes);
  const decoder = new RowDecoder(`rows of table ${table.name}`);
  let count = 0;
  for await (const chunk of rows) {
    decoder.pushViews(chunk, (row) => {
      writer.addRow(row, table.name);
      count++;
    });
    yield* writer.take();
  }
  decoder.end();
  writer.close();
  yield* writer.take();
  if (count !== table.rowCount) {
    throw new OcvaultError('CorruptObject', `table \`${table.name}\` has ${count} rows in the snapshot data, the manifest says ${table.rowCount}`, { table: table.name });
  }
}
