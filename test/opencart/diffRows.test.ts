import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createHash, randomBytes } from 'node:crypto';
import { diffTableRows, type RowBlobReader } from '../../src/ops/diffRows.js';
import { encodeRow, type TableManifest } from '../../src/sources/mysql/index.js';

/** A memory blob store: content-defined cuts (so equal content gives equal blobs), ids by hash. */
class MemoryBlobs implements RowBlobReader {
  readonly blobs = new Map<string, Buffer>();
  length(id: string): number {
    return this.blobs.get(id)!.length;
  }
  async load(id: string): Promise<Buffer> {
    return this.blobs.get(id)!;
  }
  /** Cuts where a rolling sum of the last 8 bytes hits a mask: boundaries fall anywhere in a line. */
  store(stream: Buffer, mask: number): string[] {
    const ids: string[] = [];
    let start = 0;
    for (let i = 8; i <= stream.length; i++) {
      let h = 0;
      for (let k = i - 8; k < i; k++) h = (h * 31 + stream[k]!) >>> 0;
      if (i === stream.length || ((h & mask) === 0 && i - start >= 8)) {
        const part = stream.subarray(start, i);
        const id = createHash('sha256').update(part).digest('hex');
        this.blobs.set(id, Buffer.from(part));
        ids.push(id);
        start = i;
      }
    }
    if (start < stream.length) throw new Error('tail');
    return ids;
  }
}

type Row = [string, string | null, string];

function stream(rows: Row[]): Buffer {
  return Buffer.concat(rows.map((r) => encodeRow(r.map((v) => (v === null ? null : Buffer.from(v))))));
}

function manifest(name: string, ids: string[], rows: number, orderKey = 'PRIMARY'): TableManifest {
  return {
    name, engine: 'InnoDB', createStatement: `CREATE TABLE ${name}`, orderKey, orderBy: orderKey ? ['id'] : ['id', 'name', 'note'],
    columns: [{ name: 'id', type: 'int', kind: 'integer', nullable: false }, { name: 'name', type: 'varchar(64)', kind: 'text', charset: 'utf8mb4', nullable: true }, { name: 'note', type: 'text', kind: 'text', charset: 'utf8mb4', nullable: false }],
    rowCount: rows, rowBytes: 0, checksum: '0'.repeat(64), rowData: ids,
  };
}

function brute(a: Row[], b: Row[]): { added: string[]; removed: string[]; changed: string[] } {
  const ma = new Map(a.map((r) => [r[0], JSON.stringify(r)]));
  const mb = new Map(b.map((r) => [r[0], JSON.stringify(r)]));
  return {
    added: [...mb.keys()].filter((k) => !ma.has(k)).sort(),
    removed: [...ma.keys()].filter((k) => !mb.has(k)).sort(),
    changed: [...ma.keys()].filter((k) => mb.has(k) && ma.get(k) !== mb.get(k)).sort(),
  };
}

describe('row diff by key, skipping shared blobs', () => {
  test('random edits to a table match a full comparison', async () => {
    for (let round = 0; round < 60; round++) {
      const n = 50 + Math.floor(Math.random() * 400);
      // long notes in some rows, so a line can span several blobs
      const rowsA: Row[] = Array.from({ length: n }, (_, i) => [String(i * 2), i % 7 === 0 ? null : `name ${i}\ttab`, i % 13 === 0 ? randomBytes(300).toString('base64') : `note\n${i}`]);
      const rowsB = rowsA.map((r) => [...r] as Row);
      const edits = Math.floor(Math.random() * 6);
      for (let e = 0; e < edits; e++) {
        const k = Math.floor(Math.random() * rowsB.length);
        const what = Math.random();
        if (what < 0.33) rowsB[k] = [rowsB[k]![0], `changed ${e}`, rowsB[k]![2]];
        else if (what < 0.66) rowsB.splice(k, 1);
        else rowsB.splice(k, 0, [String(k * 2 - 1), 'inserted', 'x']);
      }
      if (Math.random() < 0.2) rowsB.push([String(n * 2 + 1), 'appended', 'y']);
      const mem = new MemoryBlobs();
      const mask = [0x0f, 0x3f, 0xff][round % 3]!;
      const a = manifest('t', mem.store(stream(rowsA), mask), rowsA.length);
      const b = manifest('t', mem.store(stream(rowsB), mask), rowsB.length);
      const d = await diffTableRows(mem, a, b, true);
      const want = brute(rowsA, rowsB);
      const keys = (list: Array<{ key: Record<string, string | null> }>): string[] => list.map((c) => c.key.id!).sort();
      assert.deepEqual({ added: keys(d.rows!.added), removed: keys(d.rows!.removed), changed: keys(d.rows!.changed) }, want, `round ${round}`);
      assert.equal(d.added, want.added.length);
      // identical streams: every blob that occurs once is skipped (repeated ones are read)
      const once = a.rowData.filter((id) => a.rowData.indexOf(id) === a.rowData.lastIndexOf(id)).length;
      if (edits === 0 && rowsB.length === rowsA.length) assert.equal(d.skippedBlobs, once);
      if (edits === 1 && mask === 0xff) assert.ok(d.skippedBlobs >= a.rowData.length - 8 - (a.rowData.length - once), `round ${round}: ${d.skippedBlobs} of ${a.rowData.length} skipped`);
    }
  });

  test('changed rows show the columns that differ; keyless tables compare whole rows', async () => {
    const mem = new MemoryBlobs();
    const a = manifest('t', mem.store(stream([['1', 'a', 'x'], ['2', 'b', 'y']]), 0xff), 2);
    const b = manifest('t', mem.store(stream([['1', 'a', 'x'], ['2', null, 'y'], ['3', 'c', 'z']]), 0xff), 3);
    const d = await diffTableRows(mem, a, b, true);
    assert.deepEqual(d.rows!.changed, [{ key: { id: '2' }, changes: { name: { before: 'b', after: null } } }]);
    assert.deepEqual(d.rows!.added, [{ key: { id: '3' }, row: { id: '3', name: 'c', note: 'z' } }]);
    const ka = manifest('k', a.rowData, 2, '');
    const kb = manifest('k', b.rowData, 3, '');
    const k = await diffTableRows(mem, ka, kb, false);
    assert.deepEqual([k.added, k.removed, k.changed], [2, 1, 0]);
  });
});
