import { OcvaultError } from '../../errors/OcvaultError.js';
import { BACKSLASH, LF, N, TAB } from './rowFormat.js';

/** letter after a backslash -> the byte it stands for (LOAD DATA's rules) */
const UNESCAPE = new Int16Array(256).fill(-1);
UNESCAPE[0x30] = 0x00; // \0
UNESCAPE[0x62] = 0x08; // \b
UNESCAPE[0x6e] = LF; // \n
UNESCAPE[0x72] = 0x0d; // \r
UNESCAPE[0x74] = TAB; // \t
UNESCAPE[0x5a] = 0x1a; // \Z

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

  /**
   * Like push, without a Buffer per field: `onRow` sees each completed row as ranges of one
   * buffer (valid only during the call). Faster where rows become text anyway (SQL).
   */
  pushViews(chunk: Buffer, onRow: (row: RowView) => void): void {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const view = this.view;
    view.data = data;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(LF, start);
      if (nl < 0) break;
      this.lineNo++;
      let n = 0;
      let fieldStart = start;
      let escaped = false;
      for (let i = start; i <= nl; i++) {
        const c = i === nl ? TAB : (data[i] as number);
        if (c === BACKSLASH && i + 1 < nl) {
          escaped = true;
          i++;
        } else if (c === TAB) {
          if (n === view.starts.length) view.grow();
          view.starts[n] = fieldStart;
          view.ends[n] = i;
          view.flags[n] = !escaped ? PLAIN : i - fieldStart === 2 && data[fieldStart + 1] === N ? NULL : ESCAPED;
          n++;
          fieldStart = i + 1;
          escaped = false;
        }
      }
      view.count = n;
      onRow(view);
      start = nl + 1;
    }
    this.rest = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
  }

  private readonly view = new RowView();

  end(): void {
    if (this.rest.length > 0) {
      throw new OcvaultError('CorruptObject', `${this.name} ends in the middle of row ${this.lineNo + 1}`, { rows: this.lineNo });
    }
  }

  private decodeLine(data: Buffer, start: number, end: number): Array<Buffer | null> {
    this.lineNo++;
    const fields: Array<Buffer | null> = [];
    let fieldStart = start;
    let escaped = false;
    for (let i = start; i <= end; i++) {
      const c = i === end ? TAB : (data[i] as number);
      if (c === BACKSLASH && i + 1 < end) {
        escaped = true;
        i++; // the escaped byte is never a separator
      } else if (c === TAB) {
        fields.push(escaped ? decodeField(data, fieldStart, i) : data.subarray(fieldStart, i));
        fieldStart = i + 1;
        escaped = false;
      }
    }
    return fields;
  }
}

export const PLAIN = 0;
export const ESCAPED = 1;
export const NULL = 2;

/** One decoded row as ranges of a buffer (see RowDecoder.pushViews). */
export class RowView {
  data: Buffer = Buffer.alloc(0);
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  /** PLAIN: the range is the value; ESCAPED: it still holds backslash escapes; NULL */
  flags = new Uint8Array(64);

  grow(): void {
    const n = this.starts.length * 2;
    const s = new Int32Array(n);
    s.set(this.starts);
    const e = new Int32Array(n);
    e.set(this.ends);
    const f = new Uint8Array(n);
    f.set(this.flags);
    this.starts = s;
    this.ends = e;
    this.flags = f;
  }

  /** Field i as bytes (a view for plain fields), or null. */
  field(i: number): Buffer | null {
    const f = this.flags[i];
    if (f === NULL) return null;
    const s = this.starts[i] as number;
    const e = this.ends[i] as number;
    return f === ESCAPED ? decodeField(this.data, s, e) : this.data.subarray(s, e);
  }
}

/** A field that holds at least one backslash: `\N` alone is NULL, else unescape. */
export function decodeField(data: Buffer, start: number, end: number): Buffer | null {
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
