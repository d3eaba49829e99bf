import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadAheadPolicy } from '../../src/repo/readAheadPolicy.js';

const WARM = { bytes: 128 * 1024, ms: 0.02 };
const COLD = { bytes: 128 * 1024, ms: 3 };

test('read-ahead: off while reads are fast, on after a read waited for the device, off again after fast probes', () => {
  const p = new ReadAheadPolicy();
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(p.choose(4), [false, false, false, false]);
    for (let f = 0; f < 4; f++) p.record(WARM.bytes, WARM.ms, false);
  }
  // tiny files are quick even from the device: no switch on them
  p.record(100, 0.3, false);
  assert.equal(p.readingAhead, false);
  p.record(COLD.bytes, COLD.ms, false);
  assert.equal(p.readingAhead, true);
  // while on, files read ahead say nothing, and one file in every PROBE_EVERY messages is a probe
  let probes = 0;
  for (let m = 0; m < 4 * ReadAheadPolicy.PROBE_EVERY; m++) {
    const ahead = p.choose(4);
    probes += ahead.filter((a) => !a).length;
    for (const a of ahead) if (a) p.record(WARM.bytes, WARM.ms, true);
  }
  assert.equal(probes, 4);
  assert.equal(p.readingAhead, true, 'fast reads of files read ahead do not end it');
  // a slow probe keeps it on; FAST_PROBES fast ones in a row end it
  p.record(COLD.bytes, COLD.ms, false);
  for (let i = 0; i < ReadAheadPolicy.FAST_PROBES - 1; i++) p.record(WARM.bytes, WARM.ms, false);
  assert.equal(p.readingAhead, true);
  p.record(COLD.bytes, COLD.ms, false);
  for (let i = 0; i < ReadAheadPolicy.FAST_PROBES; i++) p.record(WARM.bytes, WARM.ms, false);
  assert.equal(p.readingAhead, false);
  assert.deepEqual(p.choose(2), [false, false]);
});
