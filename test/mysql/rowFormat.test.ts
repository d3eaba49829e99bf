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
