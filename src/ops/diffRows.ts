import type { BlobId } from '../repo/blobId.js';
import { RowDecoder, type ColumnManifest, type TableManifest } from '../sources/mysql/index.js';

/** What the row comparison needs from a repository: a blob's plain length (from the index) and its bytes. */
export interface RowBlobReader {
  length(id: BlobId): number;
  load(id: BlobId): Promise<Buffer>;
}

/** A value for people: text as text, binary as `0x…` hex, SQL NULL as null. */
export type ShownValue = string | null;
export type ShownRow = Record<string, ShownValue>;

export interface RowChange {
  /** the key columns and their values */
  key: ShownRow;
  /** added / removed: the whole row */
  row?: ShownRow;
  /** changed: the columns that differ */
  changes?: Record<string, { before: ShownValue; after: ShownValue }>;
}

export interface TableRowDiff {
  added: number;
  removed: number;
  changed: number;
  /** false when the key changed, so rows cannot be matched (counts are then whole tables) */
  comparable: boolean;
  /** row blobs skipped because both snapshots share them */
  skippedBlobs: number;
  rows?: { added: RowChange[]; removed: RowChange[]; changed: RowChange[] };
}

const START = 'start';
const END = 'end';

/**
 * Which blobs of `ids` must be decoded. A blob both streams hold exactly once ("common") has
 * the same lines in both — unless a line crosses into a neighbour that differs. So a blob is
 * examined when it is not common, or when its neighbour on either side (or the stream's
 * start/end) differs from its neighbour in the other stream. A common blob is examined in one
 * stream exactly when it is in the other, so the lines left out pair up one to one: every
 * difference is among the examined lines.
 */
export function blobsToExamine(ids: readonly BlobId[], other: readonly BlobId[]): boolean[] {
  const count = (list: readonly BlobId[]): Map<BlobId, number> => {
    const m = new Map<BlobId, number>();
    for (const id of list) m.set(id, (m.get(id) ?? 0) + 1);
    return m;
  };
  const mine = count(ids);
  const theirs = count(other);
  const common = (id: BlobId): boolean => mine.get(id) === 1 && theirs.get(id) === 1;
  const ext = [START, ...other, END];
  const pairs = new Set<string>();
  for (let i = 0; i + 1 < ext.length; i++) pairs.add(`${ext[i]}|${ext[i + 1]}`);
  const mark = ids.map((id) => !common(id));
  const mExt = [START, ...ids, END];
  for (let i = 0; i + 1 < mExt.length; i++) {
    if (pairs.has(`${mExt[i]}|${mExt[i + 1]}`)) continue;
    if (i - 1 >= 0) mark[i - 1] = true; // blob before the boundary
    if (i < ids.length) mark[i] = true; // blob after it
  }
  return mark;
}

/**
 * The complete lines (without LF) touching the examined blobs, each once, with neighbours
 * read as far as needed to complete a line cut by a blob boundary.
 */
export async function examinedLines(reader: RowBlobReader, ids: readonly BlobId[], mark: readonly boolean[]): Promise<Buffer[]> {
  const offsets: number[] = [0];
  for (const id of ids) offsets.push(offsets[offsets.length - 1]! + reader.length(id));
  const cache = new Map<number, Promise<Buffer>>();
  const blob = (i: number): Promise<Buffer> => {
    let p = cache.get(i);
    if (!p) cache.set(i, (p = reader.load(ids[i]!)));
    return p;
  };
  const seen = new Set<number>();
  const lines: Buffer[] = [];
  for (let lo = 0; lo < ids.length; lo++) {
    if (!mark[lo]) continue;
    let hi = lo;
    while (hi + 1 < ids.length && mark[hi + 1]) hi++;
    // back to the byte after an LF (or the stream start)
    const parts: Buffer[] = [];
    let start = offsets[lo]!;
    for (let i = lo - 1; i >= 0; i--) {
      const b = await blob(i);
      const lf = b.lastIndexOf(0x0a);
      if (lf >= 0) {
        parts.unshift(b.subarray(lf + 1));
        start = offsets[i]! + lf + 1;
        break;
      }
      parts.unshift(b);
      start = offsets[i]!;
    }
    for (let i = lo; i <= hi; i++) parts.push(await blob(i));
    // forward to an LF (or the stream end), unless the run ends with one
    const last = parts[parts.length - 1]!;
    for (let i = hi + 1; i < ids.length && last[last.length - 1] !== 0x0a; i++) {
      const b = await blob(i);
      const lf = b.indexOf(0x0a);
      if (lf >= 0) {
        parts.push(b.subarray(0, lf + 1));
        break;
      }
      parts.push(b);
    }
    const bytes = Buffer.concat(parts);
    let from = 0;
    for (let lf = bytes.indexOf(0x0a); lf >= 0; lf = bytes.indexOf(0x0a, from)) {
      const at = start + from;
      if (!seen.has(at)) {
        seen.add(at);
        lines.push(bytes.subarray(from, lf));
      }
      from = lf + 1;
    }
    // forget blobs behind us
    for (const k of [...cache.keys()]) if (k < lo) cache.delete(k);
    lo = hi;
  }
  return lines;
}

function decodeLine(line: Buffer): Array<Buffer | null> {
  const d = new RowDecoder();
  const rows = d.push(Buffer.concat([line, Buffer.from('\n')]));
  return rows[0] ?? [];
}

/** A column value for people. */
export function showValue(col: ColumnManifest | undefined, v: Buffer | null): ShownValue {
  if (v === null) return null;
  if (!col) return v.toString('utf8');
  if (col.kind === 'binary' || col.kind === 'bit' || col.kind === 'geometry') return '0x' + v.toString('hex');
  if (col.kind === 'text' && col.charset && /^(latin1|cp1252)$/i.test(col.charset)) return v.toString('latin1');
  return v.toString('utf8');
}

interface Decoded {
  key: string;
  byName: Map<string, Buffer | null>;
  line: Buffer;
}

function keyOf(values: Map<string, Buffer | null>, keyCols: readonly string[]): string {
  return keyCols.map((c) => {
    const v = values.get(c);
    return v === null || v === undefined ? '\\N' : v.toString('base64');
  }).join(',');
}

function decodeAll(lines: Buffer[], t: TableManifest, keyCols: readonly string[]): Decoded[] {
  return lines.map((line) => {
    const fields = decodeLine(line);
    const byName = new Map<string, Buffer | null>(t.columns.map((c, i) => [c.name, fields[i] ?? null]));
    return { key: keyCols.length ? keyOf(byName, keyCols) : line.toString('base64'), byName, line };
  });
}

function same(a: Buffer | null | undefined, b: Buffer | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  return a.equals(b);
}

/**
 * Rows added, removed and changed between two versions of a table, matched by the key the
 * rows are ordered by (`orderBy`). Row blobs both versions share are skipped (see
 * blobsToExamine); only lines touching the others are decoded. With `withRows`, the rows
 * themselves (changed ones as the columns that differ).
 */
export async function diffTableRows(reader: RowBlobReader, a: TableManifest, b: TableManifest, withRows: boolean): Promise<TableRowDiff> {
  const sameShape = a.columns.length === b.columns.length && a.columns.every((c, i) => c.name === b.columns[i]!.name && c.type === b.columns[i]!.type && c.charset === b.columns[i]!.charset);
  const keyed = a.orderKey !== '' && b.orderKey !== '';
  const sameKey = a.orderBy.length === b.orderBy.length && a.orderBy.every((c, i) => c === b.orderBy[i]);
  if (!sameKey && keyed) {
    return { added: b.rowCount, removed: a.rowCount, changed: 0, comparable: false, skippedBlobs: 0 };
  }
  const markA = sameShape ? blobsToExamine(a.rowData, b.rowData) : a.rowData.map(() => true);
  const markB = sameShape ? blobsToExamine(b.rowData, a.rowData) : b.rowData.map(() => true);
  const skippedBlobs = markA.filter((m) => !m).length;
  const keyCols = keyed ? a.orderBy : [];
  const [linesA, linesB] = await Promise.all([examinedLines(reader, a.rowData, markA), examinedLines(reader, b.rowData, markB)]);
  const rowsA = decodeAll(linesA, a, keyCols);
  const rowsB = decodeAll(linesB, b, keyCols);
  const colA = new Map(a.columns.map((c) => [c.name, c]));
  const colB = new Map(b.columns.map((c) => [c.name, c]));
  const show = (r: Decoded, cols: Map<string, ColumnManifest>, names: readonly string[]): ShownRow =>
    Object.fromEntries(names.map((n) => [n, showValue(cols.get(n), r.byName.get(n) ?? null)]));
  const keyShown = (r: Decoded, cols: Map<string, ColumnManifest>): ShownRow => show(r, cols, keyCols.length ? keyCols : [...cols.keys()]);
  const result: TableRowDiff = { added: 0, removed: 0, changed: 0, comparable: true, skippedBlobs, ...(withRows ? { rows: { added: [], removed: [], changed: [] } } : {}) };

  if (!keyed) {
    // no key: rows are compared whole, as a multiset
    const counts = new Map<string, { n: number; a?: Decoded; b?: Decoded }>();
    for (const r of rowsA) {
      const e = counts.get(r.key) ?? { n: 0 };
      e.n++;
      e.a = r;
      counts.set(r.key, e);
    }
    for (const r of rowsB) {
      const e = counts.get(r.key) ?? { n: 0 };
      e.n--;
      e.b = r;
      counts.set(r.key, e);
    }
    for (const e of counts.values()) {
      for (let k = 0; k < e.n; k++) {
        result.removed++;
        result.rows?.removed.push({ key: keyShown(e.a!, colA), row: show(e.a!, colA, [...colA.keys()]) });
      }
      for (let k = 0; k < -e.n; k++) {
        result.added++;
        result.rows?.added.push({ key: keyShown(e.b!, colB), row: show(e.b!, colB, [...colB.keys()]) });
      }
    }
    return result;
  }

  const byKeyB = new Map(rowsB.map((r) => [r.key, r]));
  for (const ra of rowsA) {
    const rb = byKeyB.get(ra.key);
    byKeyB.delete(ra.key);
    if (!rb) {
      result.removed++;
      result.rows?.removed.push({ key: keyShown(ra, colA), row: show(ra, colA, [...colA.keys()]) });
      continue;
    }
    if (sameShape ? ra.line.equals(rb.line) : [...colA.keys()].filter((n) => colB.has(n)).every((n) => same(ra.byName.get(n), rb.byName.get(n)))) continue;
    result.changed++;
    if (result.rows) {
      const changes: Record<string, { before: ShownValue; after: ShownValue }> = {};
      for (const n of new Set([...colA.keys(), ...colB.keys()])) {
        if (!colA.has(n) || !colB.has(n)) continue;
        const x = ra.byName.get(n) ?? null;
        const y = rb.byName.get(n) ?? null;
        if (!same(x, y)) changes[n] = { before: showValue(colA.get(n), x), after: showValue(colB.get(n), y) };
      }
      result.rows.changed.push({ key: keyShown(rb, colB), changes });
    }
  }
  for (const rb of byKeyB.values()) {
    result.added++;
    result.rows?.added.push({ key: keyShown(rb, colB), row: show(rb, colB, [...colB.keys()]) });
  }
  return result;
}
