import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteRates } from '../../src/repo/writeRates.js';

const MiB = 1024 * 1024;
const MS = 1_000_000;

/** A WriteRates on a clock the test moves. */
function ratesAt(): { rates: WriteRates; advance: (ns: number) => void } {
  let t = 0;
  return { rates: new WriteRates(() => t), advance: (ns) => (t += ns) };
}

/** Four direct writes of `bytes` each in flight together, ending after `ns`: one stretch of busy time. */
function fourDirect(r: { rates: WriteRates; advance: (ns: number) => void }, bytes: number, ns: number): void {
  for (let i = 0; i < 4; i++) r.rates.directStarted();
  r.advance(ns);
  for (let i = 0; i < 4; i++) r.rates.directEnded(bytes);
}

function decisions(rates: WriteRates, n: number): boolean[] {
  return Array.from({ length: n }, () => rates.overflowPays());
}

test('write rates: the page cache is used until both ways are timed, then only while it is the faster way', () => {
  const r = ratesAt();
  assert.equal(r.rates.overflowPays(), true, 'nothing timed yet');
  // a fast disk: 8 MiB in 8 ms (~1 GB/s), four writes at a time
  fourDirect(r, 2 * MiB, 8 * MS);
  assert.equal(r.rates.overflowPays(), true, 'the page cache not timed yet');
  // the page cache in cold memory: 8 MiB in 28 ms (~0.3 GB/s)
  r.rates.buffered(8 * MiB, 28 * MS);
  const slow = decisions(r.rates, 32);
  // declined, but for one in 16 that measures the page cache again
  assert.deepEqual(slow.map((d, i) => (d ? i : -1)).filter((i) => i >= 0), [15, 31]);
});

test('write rates: a slow disk sends overflowing files through the page cache', () => {
  const r = ratesAt();
  // 8 MiB in 35 ms (~240 MiB/s) direct, 8 MiB in 4 ms through the page cache
  fourDirect(r, 2 * MiB, 35 * MS);
  r.rates.buffered(8 * MiB, 4 * MS);
  assert.ok(decisions(r.rates, 20).every((d) => d));
});

test('write rates: busy time is counted once for writes that overlap, and goes on while writes are in flight', () => {
  const r = ratesAt();
  // two overlapping stretches: 0-10 ms and 5-15 ms are 15 ms busy, not 20 (8 MiB in 15 ms)
  r.rates.directStarted();
  r.advance(5 * MS);
  r.rates.directStarted();
  r.advance(5 * MS);
  r.rates.directEnded(4 * MiB);
  r.advance(5 * MS);
  r.rates.directEnded(4 * MiB);
  // the page cache: 8 MiB in 13 ms is faster than 8 MiB in 15 ms, in 17 ms slower
  r.rates.buffered(8 * MiB, 13 * MS);
  assert.equal(r.rates.overflowPays(), true);
  r.rates.buffered(8 * MiB, 21 * MS); // now 16 MiB in 34 ms against 8 MiB in 15 ms: slower
  assert.equal(r.rates.overflowPays(), false);
  // a write in flight for long counts as it goes: the disk looks slower and slower
  r.rates.directStarted();
  r.advance(40 * MS);
  assert.equal(r.rates.overflowPays(), true);
});

test('write rates: older measurements weigh less, so a page cache that became fast is used again', () => {
  const r = ratesAt();
  fourDirect(r, 2 * MiB, 8 * MS);
  // a long slow spell: 400 MiB through the page cache at 8 MiB in 40 ms
  for (let i = 0; i < 50; i++) r.rates.buffered(8 * MiB, 40 * MS);
  assert.equal(r.rates.overflowPays(), false);
  // 16 probes now find the page cache fast (warm memory): 8 MiB in 2 ms each. Weighed with
  // all of the slow spell, it would take ~270 of them.
  for (let i = 0; i < 16; i++) r.rates.buffered(8 * MiB, 2 * MS);
  assert.ok(decisions(r.rates, 16).every((d) => d), 'the page cache is used again');
});
