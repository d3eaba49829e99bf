import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RowDecoder, decodeRows } from '../../src/sources/mysql/rowDecoder.js';
import { RowEncoder, encodeRow } from '../../src/sources/mysql/rowFormat.js';
import { SqlInsertWriter } from '../../src/sources/mysql/sqlInserts.js';
import type { ColumnManifest } from '../../src/sources/mysql/manifest.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test('row lines use LOAD DATA escaping: \\t \\n \\\\ \\0 escaped, NULL is \\N', () => {
  const line = encodeRow([Buffer.from('a\tb\nc\\d\0e'), null, Buffer.alloc(0), Buffer.from('\\N')]);
  assert.equal(line.toString('latin1'), 'a\\tb\\nc\\\\d\\0e\t\\N\t\t\\\\N\n');
});

test('rows round-trip exactly, whatever the chunk boundaries', async () => {
  const rows = [
    [ALL_BYTES, null, Buffer.alloc(0)],
    [Buffer.from('😀 \\N \r\n'), Buffer.from('\\'), Buffer.from('\t')],
    [null, null, null],
    [Buffer.from('\\N'), Buffer.from('N'), Buffer.from('\\\\')],
  ];
  const enc = new RowEncoder(16);
  for (const r of rows) enc.addRow(r);
  const bytes = enc.take();
  assert.equal(enc.length, 0);
  for (const size of [1, 2, 3, 7, 64, bytes.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    const back: Array<Array<Buffer | null>> = [];
    for await (const r of decodeRows(chunks)) back.push(r);
    assert.deepEqual(back, rows, `chunk size ${size}`);
  }
});

/** A text-protocol row packet: each field length-encoded, 0xFB for NULL. */
function rowPacket(fields: ReadonlyArray<Buffer | null>): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (f === null) parts.push(Buffer.from([0xfb]));
    else if (f.length < 0xfb) parts.push(Buffer.from([f.length]), f);
    else if (f.length < 0x10000) parts.push(Buffer.from([0xfc, f.length & 0xff, f.length >> 8]), f);
    else parts.push(Buffer.from([0xfd, f.length & 0xff, (f.length >> 8) & 0xff, f.length >> 16]), f);
  }
  return Buffer.concat(parts);
}

test('rows encoded from raw packets equal rows encoded field by field, and decode back', () => {
  // bytes near the escaped ones (0x00, 0x09, 0x0A, 0x5C) at every offset of 8-byte words
  const alphabet = [0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x20, 0x41, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xdc, 0xff];
  let seed = 12345;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const rows: Array<Array<Buffer | null>> = [];
  for (let r = 0; r < 400; r++) {
    const row: Array<Buffer | null> = [];
    for (let c = 1 + next(12); c > 0; c--) {
      if (next(10) === 0) {
        row.push(null);
        continue;
      }
      const len = [0, 1, 7, 8, 9, 15, 16, 17, 40, 300, 70000][next(11)]!;
      const clean = next(3) === 0; // mostly plain text, as real rows are
      row.push(Buffer.from(Array.from({ length: len }, () => (clean ? 0x41 + next(26) : alphabet[next(alphabet.length)]!))));
    }
    rows.push(row);
  }
  const byFields = new RowEncoder(64);
  const byPackets = new RowEncoder(64);
  // each packet at an odd offset of a bigger buffer, as packets lie in the driver's socket data
  const padded = rows.map((row) => Buffer.concat([Buffer.from([1, 2, 3]), rowPacket(row), Buffer.from([4])]));
  rows.forEach((row, i) => {
    byFields.addRow(row);
    const p = padded[i]!;
    assert.equal(byPackets.addPacketRow(p, 3, p.length - 1), row.length);
  });
  const expected = byFields.take();
  // equals, not deepEqual: a diff of megabytes would take minutes to print
  assert.ok(byPackets.take().equals(expected), 'rows encoded from packets differ from rows encoded by field');
  const back = new RowDecoder().push(expected);
  assert.equal(back.length, rows.length);
  back.forEach((row, i) => {
    const want = rows[i]!;
    assert.ok(row.length === want.length && row.every((f, j) => (f === null ? want[j] === null : want[j] !== null && f.equals(want[j]!))), `row ${i} does not decode back`);
  });
});

test('the decoder accepts every escape LOAD DATA accepts, and rejects a cut-off stream', () => {
  const d = new RowDecoder();
  assert.deepEqual(d.push(Buffer.from('\\b\\r\\Z\\x\\0\n')), [[Buffer.from([8, 13, 26, 0x78, 0])]]);
  d.push(Buffer.from('half a row'));
  assert.throws(() => d.end(), /ends in the middle of row 2/);
});

test('SQL inserts: numbers bare, UTF-8 text quoted, binary and foreign charsets as hex', () => {
  const col = (name: string, kind: ColumnManifest['kind'], charset?: string): ColumnManifest => ({ name, type: 't', kind, charset, nullable: true });
  const columns = [col('n', 'integer'), col('f', 'float'), col('u', 'text', 'utf8mb4'), col('l', 'text', 'latin1'), col('bad', 'text', 'utf8mb4'), col('b', 'binary'), col('bit', 'bit'), col('d', 'temporal'), col('x', 'text', 'utf8mb4')];
  const row = [Buffer.from('18446744073709551615'), Buffer.from('-12.5e3'), Buffer.from("it's \\ 😀\n\0\x1a"), Buffer.from([0xe9]), Buffer.from([0xff, 0xfe]), Buffer.alloc(0), Buffer.from([2, 0xaa]), Buffer.from('0000-00-00'), null];
  const w = new SqlInsertWriter('t', columns, 1 << 20);
  new RowDecoder().pushViews(encodeRow(row), (v) => w.addRow(v, 't'));
  w.close();
  const [sql] = w.take();
  assert.equal(sql?.toString('utf8'), "INSERT INTO `t` (`n`,`f`,`u`,`l`,`bad`,`b`,`bit`,`d`,`x`) VALUES (18446744073709551615,-12.5e3,'it\\'s \\\\ 😀\\n\\0\\Z',0xe9,0xfffe,'',0x02aa,'0000-00-00',NULL)");
});

test('SQL inserts split into statements of bounded size', () => {
  const columns: ColumnManifest[] = [{ name: 'id', type: 'int', kind: 'integer', nullable: false }];
  const w = new SqlInsertWriter('t', columns, 200);
  const d = new RowDecoder();
  for (let i = 0; i < 100; i++) d.pushViews(encodeRow([Buffer.from(String(i))]), (v) => w.addRow(v, 't'));
  w.close();
  const statements = w.take().map((b) => b.toString());
  assert.ok(statements.length > 1);
  assert.ok(statements.every((s) => s.length <= 200 && s.startsWith('INSERT INTO `t` (`id`) VALUES (')));
  assert.equal(statements.join('').match(/\(\d+\)/g)?.length, 100);
});
