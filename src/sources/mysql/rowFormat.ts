import { OcvaultError } from '../../errors/OcvaultError.js';

/**
 * The row format (`ocvault-rows-v1`): one row a line, in the default text format of
 * `LOAD DATA INFILE` / `SELECT ... INTO OUTFILE`, so stored bytes stream straight into
 * `LOAD DATA LOCAL INFILE ... CHARACTER SET binary` without re-encoding:
 *
 * - fields separated by TAB, each line ended by LF;
 * - a field holds the value's bytes exactly as the server sends them in the text protocol
 *   with `character_set_results = binary` (strings in the column's own character set,
 *   numbers and dates as ASCII, BLOB/BIT as raw bytes);
 * - inside a field, backslash, TAB, LF and NUL are written `\\`, `\t`, `\n`, `\0`;
 * - SQL NULL is `\N`; the empty string is an empty field.
 *
 * Decoding accepts every escape LOAD DATA accepts (`\b \r \Z`, and `\x` for any other x).
 */
export const ROW_FORMAT = 'ocvault-rows-v1';

/** A row as the driver returns it: one Buffer per column, null for SQL NULL. */
export type RawRow = ReadonlyArray<Buffer | null>;

const TAB = 0x09;
const LF = 0x0a;
const BACKSLASH = 0x5c;
const N = 0x4e;

/** byte -> the letter written after a backslash, or 0 when the byte is written as is */
const ESCAPE = new Uint8Array(256);
ESCAPE[0x00] = 0x30; // \0
ESCAPE[TAB] = 0x74; // \t
ESCAPE[LF] = 0x6e; // \n
ESCAPE[BACKSLASH] = BACKSLASH; // \\

/** letter after a backslash -> the byte it stands for (LOAD DATA's rules) */
const UNESCAPE = new Int16Array(256).fill(-1);
UNESCAPE[0x30] = 0x00; // \0
UNESCAPE[0x62] = 0x08; // \b
UNESCAPE[0x6e] = LF; // \n
UNESCAPE[0x72] = 0x0d; // \r
UNESCAPE[0x74] = TAB; // \t
UNESCAPE[0x5a] = 0x1a; // \Z

/**
 * Accumulates encoded rows into one growing buffer; `take()` hands the bytes so far to the
 * caller (who may keep them) and starts a fresh buffer.
 */
export class RowEncoder {
  private buf: Buffer;
  private pos = 0;
  private readonly initial: number;

  constructor(initialCapacity = 1 << 20) {
    this.initial = Math.max(initialCapacity, 1024);
    this.buf = Buffer.allocUnsafe(this.initial);
  }

  /** bytes encoded and not yet taken */
  get length(): number {
    return this.pos;
  }

  addRow(fields: RawRow): void {
    let need = fields.length + 1;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      need += f === null || f === undefined ? 2 : f.length * 2;
    }
    if (this.pos + need > this.buf.length) this.grow(need);
    const out = this.buf;
    let p = this.pos;
    for (let i = 0; i < fields.length; i++) {
      if (i > 0) out[p++] = TAB;
      const f = fields[i];
      if (f === null || f === undefined) {
        out[p++] = BACKSLASH;
        out[p++] = N;
        continue;
      }
      const len = f.length;
      for (let j = 0; j < len; j++) {
        const c = f[j] as number;
        const e = ESCAPE[c] as number;
        if (e === 0) {
          out[p++] = c;
        } else {
          out[p++] = BACKSLASH;
          out[p++] = e;
        }
      }
    }
    out[p++] = LF;
    this.pos = p;
  }

  /** The encoded bytes so far (the caller owns them); the encoder starts empty again. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(this.initial, this.buf.length >= this.initial * 4 ? this.initial : this.buf.length));
    this.pos = 0;
    return out;
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** One row as one line (with its LF). */
export function encodeRow(fields: RawRow): Buffer {
  const e = new RowEncoder(1024);
  e.addRow(fields);
  return e.take();
}

/**
 * Splits a row stream back into rows. Chunks may cut lines (and escapes) anywhere; `push`
 * returns the rows completed so far, `end` checks nothing is left half-written.
 */
export class RowDecoder {
  private rest: Buffer = Buffer.alloc(0);
  private lineNo = 0;
  private readonly name: string;

  constructor(name = 'row stream') {
    this.name = name;
  }

  push(chunk: Buffer): Array<Array<Buffer | null>> {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const rows: Array<Array<Buffer | null>> = [];
    let start = 0;
    for (;;) {
      const nl = data.indexOf(LF, start);
      if (nl < 0) break;
      rows.push(this.decodeLine(data, start, nl));
      start = nl + 1;
    }
    this.rest = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
    return rows;
  }

  end(): void {
    if (this.rest.length > 0) {
      throw new OcvaultError('CorruptObject', `${this.name} ends in the middle of row ${this.lineNo + 1}`, { rows: this.lineNo });
    }
  }

  private decodeLine(data: Buffer, start: number, end: number): Array<Buffer | null> {
    this.lineNo++;
    const fields: Array<Buffer | null> = [];
    let fieldStart = start;
    for (;;) {
      let tab = data.indexOf(TAB, fieldStart);
      if (tab < 0 || tab > end) tab = end;
      fields.push(decodeField(data, fieldStart, tab));
      if (tab === end) break;
      fieldStart = tab + 1;
    }
    return fields;
  }
}

function decodeField(data: Buffer, start: number, end: number): Buffer | null {
  const bs = data.indexOf(BACKSLASH, start);
  if (bs < 0 || bs >= end) return data.subarray(start, end);
  if (end - start === 2 && data[start] === BACKSLASH && data[start + 1] === N) return null;
  const out = Buffer.allocUnsafe(end - start);
  let p = 0;
  for (let i = start; i < end; i++) {
    const c = data[i] as number;
    if (c === BACKSLASH && i + 1 < end) {
      const next = data[++i] as number;
      const u = UNESCAPE[next] as number;
      out[p++] = u >= 0 ? u : next;
    } else {
      out[p++] = c;
    }
  }
  return out.subarray(0, p);
}

/** Rows of a whole row stream, in order. */
export async function* decodeRows(chunks: AsyncIterable<Buffer> | Iterable<Buffer>, name?: string): AsyncGenerator<Array<Buffer | null>> {
  const d = new RowDecoder(name);
  for await (const chunk of chunks) {
    yield* d.push(chunk);
  }
  d.end();
}
