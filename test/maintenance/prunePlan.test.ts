import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { IndexView, type IndexedPack } from '../../src/ops/indexView.js';
import { parseMaxUnused, planPrune, type MaxUnused } from '../../src/ops/prunePlan.js';
import { selectPacks, parseReadDataSubset } from '../../src/ops/verifyPack.js';

const HEADER = 100;
const id = (c: string): string => c.repeat(64).slice(0, 64);

/** A pack of blobs `[name, length]`; its size is the blobs plus a header. */
function pack(name: string, blobs: [string, number][]): IndexedPack {
  let offset = 0;
  const entries = blobs.map(([b, length]) => {
    const e = { id: id(b), type: 'data' as const, offset, length, rawLength: length };
    offset += length;
    return e;
  });
  return { id: id(name), size: offset + HEADER, blobs: entries, segment: 's' };
}

function plan(packs: IndexedPack[], used: string[], maxUnused: MaxUnused = { percent: 5 }, extraStored: [string, number][] = [], missing: string[] = []) {
  const view = IndexView.fromPacks(packs);
  const stored = new Map<string, number>(packs.filter((p) => !missing.includes(p.id)).map((p) => [p.id, p.size]));
  for (const [n, s] of extraStored) stored.set(id(n), s);
  return planPrune({ view, stored, used: new Set(used.map(id)), maxUnused });
}

const ids = (list: { id: string }[]): string[] => list.map((p) => p.id[0]!).sort();

describe('prune plan', () => {
  test('wholly unused packs go, wholly used stay, a mostly unused one is repacked', () => {
    const packs = [pack('a', [['1', 1000], ['2', 1000]]), pack('b', [['3', 1000], ['4', 1000]]), pack('c', [['5', 100], ['6', 900]])];
    const p = plan(packs, ['1', '2', '5']);
    assert.deepEqual(ids(p.keep), ['a']);
    assert.deepEqual(ids(p.unused), ['b']);
    assert.deepEqual(p.repack.map((r) => [r.pack.id[0], r.copy.map((b) => b.id[0])]), [['c', ['5']]]);
    assert.equal(p.stats.usedBlobs, 3);
    assert.equal(p.stats.usedBytes, 2100);
    assert.equal(p.lost.length, 0);
  });

  test('--max-unused: unused space within the limit is tolerated, beyond it the emptiest packs are repacked first', () => {
    // used 10 000 bytes; pack x wastes 500 (of 5600), y 300 (of 5400); headers are not unused space
    const packs = [pack('x', [['1', 5000], ['2', 500]]), pack('y', [['3', 5000], ['4', 300]])];
    const used = ['1', '3'];
    assert.deepEqual(ids(plan(packs, used, 'unlimited').repack.map((r) => r.pack)), []);
    assert.deepEqual(ids(plan(packs, used, { percent: 50 }).repack.map((r) => r.pack)), []);
    // 5%: at most 10000*5/95 = 526 bytes unused may stay; 800 are: repack x (500) → 300 left
    const five = plan(packs, used, { percent: 5 });
    assert.deepEqual(ids(five.repack.map((r) => r.pack)), ['x']);
    assert.equal(five.stats.unusedBytesAfter, 300);
    assert.deepEqual(ids(plan(packs, used, { percent: 0 }).repack.map((r) => r.pack)), ['x', 'y']);
    assert.deepEqual(ids(plan(packs, used, { bytes: 450 }).repack.map((r) => r.pack)), ['x']);
  });

  test('a duplicated blob keeps one copy, in the fullest pack; a pack of duplicates goes', () => {
    const packs = [pack('a', [['1', 1000], ['2', 1000]]), pack('d', [['1', 1000]]), pack('e', [['2', 1000], ['9', 5000]])];
    const p = plan(packs, ['1', '2']);
    assert.deepEqual(ids(p.keep), ['a']);
    assert.deepEqual(ids(p.unused), ['d', 'e']);
    assert.equal(p.repack.length, 0);
  });

  test('used blobs whose only pack is missing stop prune; a missing unused pack is just dropped', () => {
    const packs = [pack('a', [['1', 1000]]), pack('m', [['2', 1000]]), pack('n', [['3', 1000]])];
    const p = plan(packs, ['1', '2', '7'], { percent: 5 }, [], [id('m'), id('n')]);
    assert.deepEqual(p.lost.map((l) => [l.blob[0], l.packs.map((x) => x[0])]).sort(), [['2', ['m']], ['7', []]]);
    assert.deepEqual(ids(p.missingUnused), ['n']);
  });

  test('packs in storage that no index lists are orphans', () => {
    const p = plan([pack('a', [['1', 10]])], ['1'], { percent: 5 }, [['f', 4096]]);
    assert.deepEqual(p.orphans.map((o) => [o.id[0], o.size, o.formerlyIndexed]), [['f', 4096, false]]);
  });

  test('--max-unused and --read-data-subset parsing; N/M subsets cover every pack once', () => {
    assert.deepEqual(parseMaxUnused('5%'), { percent: 5 });
    assert.deepEqual(parseMaxUnused('100M'), { bytes: 100 * 1024 * 1024 });
    assert.deepEqual(parseMaxUnused('2GiB'), { bytes: 2 * 1024 ** 3 });
    assert.equal(parseMaxUnused('unlimited'), 'unlimited');
    assert.equal(parseMaxUnused('100%'), 'unlimited');
    assert.throws(() => parseMaxUnused('lots'), /invalid --max-unused/);
    assert.deepEqual(parseReadDataSubset('2/7'), { n: 2, m: 7 });
    assert.deepEqual(parseReadDataSubset('10%'), { percent: 10 });
    for (const bad of ['0/3', '4/3', '0%', '101%', 'x']) assert.throws(() => parseReadDataSubset(bad), /invalid --read-data-subset/, bad);
    const packs = Array.from({ length: 300 }, (_, i) => ({ id: (i * 2654435761 % 2 ** 32).toString(16).padStart(8, '0').repeat(8) }));
    const seen = new Map<string, number>();
    for (let n = 1; n <= 7; n++) for (const p of selectPacks(packs, { n, m: 7 })) seen.set(p.id, (seen.get(p.id) ?? 0) + 1);
    assert.equal(seen.size, packs.length);
    assert.ok([...seen.values()].every((c) => c === 1));
    assert.deepEqual(selectPacks(packs, { n: 3, m: 7 }), selectPacks([...packs].reverse(), { n: 3, m: 7 }).reverse(), 'stable');
    assert.equal(selectPacks(packs, { percent: 10 }).length, 30);
    assert.equal(selectPacks(packs.slice(0, 3), { percent: 1 }).length, 1);
  });
});
