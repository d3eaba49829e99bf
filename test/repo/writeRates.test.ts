import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteRates } from '../../src/repo/writeRates.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MS = 1_000_000;

/** Which of `n` overflows of files of `bytes` the rates allow, by their index. */
function allowed(rates: WriteRates, n: number, bytes = 128 * KiB): number[] {
  return Array.from({ length: n }, (_, i) => (rates.overflowPays(bytes) ? i : -1)).filter((i) => i >= 0);
}

/** `n` waits of `ns` each. */
function waits(rates: WriteRates, n: number, ns: number): void {
  for (let i = 0; i < n; i++) rates.waited(ns);
}

test('write rates: nothing timed, files wait for the disk but for probes of the page cache', () => {
  const rates = new WriteRates();
  // one in 4 until the page cache has been timed on 1 MiB
  assert.deepEqual(allowed(rates, 12), [3, 7, 11]);
  waits(rates, 16, 2 * MS);
  assert.deepEqual(allowed(rates, 8), [3, 7], 'waits alone decide nothing');
});

test('write rates: a slow disk sends overflowing files through the page cache', () => {
  const rates = new WriteRates();
  // waits of 2 ms for a disk of ~240 MiB/s; the page cache takes 128 KiB in 25 µs (5 GB/s)
  waits(rates, 8, 2 * MS);
  rates.buffered(1 * MiB, 0.2 * MS);
  assert.equal(allowed(rates, 20).length, 20);
  // a file of 4 MiB would take 0.8 ms through the page cache, more than a quarter of a wait
  // (its copy holds a core that a wait leaves to other threads): it waits
  assert.deepEqual(allowed(rates, 32, 4 * MiB), [15, 31]);
  assert.equal(allowed(rates, 16, 2 * MiB).length, 16);
});

test('write rates: a fast disk and a slow page cache (cold memory): files wait, but for one probe in 16', () => {
  const rates = new WriteRates();
  // waits of 0.4 ms; the page cache at ~0.5 GB/s: 128 KiB in 0.25 ms, less than a wait but
  // more than a quarter of one
  waits(rates, 8, 0.4 * MS);
  rates.buffered(1 * MiB, 2 * MS);
  assert.deepEqual(allowed(rates, 32), [15, 31]);
});

test('write rates: too few waits timed decide nothing yet', () => {
  const rates = new WriteRates();
  rates.buffered(1 * MiB, 0.2 * MS);
  waits(rates, 7, 2 * MS);
  assert.deepEqual(allowed(rates, 16), [15]);
  rates.waited(2 * MS);
  assert.equal(allowed(rates, 16).length, 16);
});

test('write rates: older figures weigh less, so a disk that became fast is waited for again', () => {
  const rates = new WriteRates();
  rates.buffered(1 * MiB, 0.8 * MS); // 128 KiB in 0.1 ms
  // a long slow spell: 5 000 waits of 2 ms
  waits(rates, 5000, 2 * MS);
  assert.equal(allowed(rates, 16).length, 16);
  // 1 500 short waits of 0.01 ms: weighed with all of the slow spell, the mean would stay above
  // 0.1 ms for over 100 000 of them
  waits(rates, 1500, 0.01 * MS);
  assert.deepEqual(allowed(rates, 16), [15], 'files wait again');
});

test('write rates: a page cache that became fast is used again', () => {
  const rates = new WriteRates();
  waits(rates, 8, 0.2 * MS);
  // a long slow spell: 400 MiB through the page cache at 1 MiB in 4 ms (128 KiB in 0.5 ms)
  for (let i = 0; i < 400; i++) rates.buffered(1 * MiB, 4 * MS);
  assert.deepEqual(allowed(rates, 16), [15]);
  // probes find it fast now (warm memory): 1 MiB in 0.1 ms, so 128 KiB in a quarter of a wait
  // and less. Weighed with all of the slow spell, it would take ~4 800 MiB of them.
  for (let i = 0; i < 256; i++) rates.buffered(1 * MiB, 0.1 * MS);
  assert.equal(allowed(rates, 16).length, 16, 'the page cache is used again');
});
