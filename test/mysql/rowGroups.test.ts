/**
 * Row groups (the stored form of a big table's row-chunk id list): the group blob format round
 * trips, cuts are content-defined (an edit in the middle leaves every other group as it was),
 * and a table manifest decodes in both stored forms, inline ids and row groups.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import { decodeRowGroup, encodeRowGroup, splitRowGroups, ROW_GROUP_AVERAGE, ROW_GROUP_MAX } from '../../src/sources/mysql/rowGroups.js';
import { decodeTableManifest, encodeTableManifest, type TableManifest } from '../../src/sources/mysql/manifest.js';
import { expandTableManifest, saveTableManifest } from '../../src/ops/storedTable.js';

// deterministic ids (keyed hashes in a repository: as uniform), so cut positions are the same every run
let counter = 0;
const hex = (): string => createHash('sha256').update(String(counter++)).digest('hex');
const ids = (n: number): string[] => Array.from({ length: n }, hex);
const corrupt = (e: unknown): boolean => e instanceof OcvaultError && e.code === 'CorruptObject';

test('row group blob: round trip; damaged or foreign bytes are refused', () => {
  for (const list of [ids(1), ids(ROW_GROUP_MAX)]) {
    const bytes = encodeRowGroup(list);
    assert.equal(bytes.length, 5 + 32 * list.length);
    assert.deepEqual(decodeRowGroup(bytes, 'g'), list);
  }
  const good = encodeRowGroup(ids(3));
  assert.throws(() => decodeRowGroup(good.subarray(0, good.length - 1), 'g'), corrupt, 'cut short');
  assert.throws(() => decodeRowGroup(good.subarray(0, 5), 'g'), corrupt, 'no ids');
  assert.throws(() => decodeRowGroup(Buffer.from(JSON.stringify({ nodes: [] })), 'g'), corrupt, 'another kind of tree blob');
  const badVersion = Buffer.from(good);
  badVersion[4] = 2;
  assert.throws(() => decodeRowGroup(badVersion, 'g'), corrupt, 'an unknown version');
});

test('row groups: concatenated they are the list; ~8 ids each, never more than the maximum', () => {
  const list = ids(20_000);
  const groups = splitRowGroups(list);
  assert.deepEqual(groups.flat(), list);
  assert.ok(groups.every((g) => g.length >= 1 && g.length <= ROW_GROUP_MAX));
  const average = list.length / groups.length;
  assert.ok(Math.abs(average - ROW_GROUP_AVERAGE) < 1, `average ${average}`);
  // one chunk repeated (a table of identical rows) has no boundary at all, or one every id
  const same = Array.from({ length: 100 }, () => list[0]!);
  assert.ok(splitRowGroups(same).every((g) => g.length <= ROW_GROUP_MAX));
  assert.deepEqual(splitRowGroups([]), []);
});

test('row groups are content-defined: an insertion, a change or a removal mid-list keeps every other group', () => {
  const list = ids(5_000);
  const before = new Set(splitRowGroups(list).map((g) => g.join()));
  const edits: Array<[string, (l: string[]) => void]> = [
    ['insert', (l) => l.splice(2_500, 0, hex())],
    ['change', (l) => (l[2_500] = hex())],
    ['remove', (l) => l.splice(2_500, 1)],
  ];
  for (const [what, edit] of edits) {
    const edited = [...list];
    edit(edited);
    const after = splitRowGroups(edited);
    const fresh = after.filter((g) => !before.has(g.join()));
    // the edited group, and the one after it when the edit removed or added a boundary
    assert.ok(fresh.length >= 1 && fresh.length <= 2, `${what}: ${fresh.length} new groups`);
    assert.ok(after.length - fresh.length >= before.size - 2, `${what}: ${before.size - (after.length - fresh.length)} groups lost`);
  }
});

function table(rowData: string[]): TableManifest {
  return {
    name: 'oc_order', engine: 'InnoDB', createStatement: 'CREATE TABLE `oc_order` (id int)', columns: [{ name: 'id', type: 'int(11)', kind: 'integer', nullable: false }],
    orderBy: ['id'], orderKey: 'PRIMARY', rowCount: rowData.length, rowBytes: 0, checksum: '0'.repeat(64), rowData,
  };
}

test('table manifest: a big table is stored as row groups and expands back; a small one, and the old inline form, stay as they are', async () => {
  const blobs = new Map<string, Buffer>();
  const save = async (plain: Buffer): Promise<string> => {
    const id = hex();
    blobs.set(id, plain);
    return id;
  };
  const load = async (id: string): Promise<Buffer> => blobs.get(id)!;
  const big = table(ids(1_000));
  const stored = decodeTableManifest(blobs.get(await saveTableManifest(big, save))!, 't');
  assert.equal(stored.rowData, undefined);
  assert.ok(stored.rowGroups!.length > 1_000 / ROW_GROUP_MAX, `${stored.rowGroups!.length} groups`);
  assert.deepEqual(await expandTableManifest(stored, load), big);

  const small = table(ids(ROW_GROUP_MAX));
  const inline = decodeTableManifest(blobs.get(await saveTableManifest(small, save))!, 't');
  assert.equal(inline.rowGroups, undefined, 'a few ids stay inline: one blob fewer to store and read');
  assert.deepEqual(await expandTableManifest(inline, load), small);

  // manifests written before row groups existed list every id inline, however many
  assert.deepEqual(await expandTableManifest(decodeTableManifest(encodeTableManifest(big), 't'), load), big);
  // both forms at once is no manifest ocvault wrote
  const both = Buffer.from(JSON.stringify({ ...big, rowGroups: [hex()] }));
  assert.throws(() => decodeTableManifest(both, 't'), corrupt);
  assert.throws(() => decodeTableManifest(Buffer.from(JSON.stringify({ ...big, rowData: undefined, rowGroups: ['nope'] })), 't'), corrupt);
});
