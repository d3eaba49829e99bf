import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { applyPolicy, isEmptyPolicy, isoWeekKey, type KeepPolicy, type PolicySnapshot } from '../../src/ops/keepPolicy.js';
import { parseKeepDuration, subtractDuration } from '../../src/ops/keepDuration.js';
import { groupSnapshots, parseGroupBy } from '../../src/ops/snapshotGroups.js';
import type { Snapshot } from '../../src/repo/snapshot.js';

const DAY = 86_400_000;
const at = (iso: string, id = iso, tags: string[] = []): PolicySnapshot => ({ id, time: new Date(iso), tags });
const kept = (list: PolicySnapshot[], p: KeepPolicy, now = new Date('2030-01-01T00:00:00Z')): string[] =>
  applyPolicy(list, p, { utc: true, now }).filter((d) => d.keep).map((d) => d.id).sort();

/**
 * Two years of nightly snapshots (2023-2024, 22:00 UTC) with gaps: every 11th day missing, all
 * of 2024-12-02..2024-12-15 missing (two whole ISO weeks), most of the last ten days missing,
 * and a second, later snapshot on every 5th day (23:30).
 */
function twoYears(): PolicySnapshot[] {
  const out: PolicySnapshot[] = [];
  const start = Date.UTC(2023, 0, 1, 22, 0);
  const end = Date.UTC(2024, 11, 31, 22, 0);
  for (let t = start, i = 0; t <= end; t += DAY, i++) {
    const iso = new Date(t).toISOString();
    const day = iso.slice(0, 10);
    if (i % 11 === 3) continue;
    if (day >= '2024-12-02' && day <= '2024-12-15') continue;
    if (day >= '2024-12-22' && !['2024-12-23', '2024-12-27', '2024-12-31'].includes(day)) continue;
    out.push(at(iso, `s-${day}-a`));
    if (i % 5 === 0) out.push(at(new Date(t + 90 * 60_000).toISOString(), `s-${day}-b`));
  }
  return out;
}

/**
 * What restic keeps, reasoned out directly: per rule, walk the periods that *have* snapshots from
 * the newest back, take the newest snapshot of each of the first N such periods; if fewer than N
 * periods exist, the oldest snapshot is kept as well. Periods are computed here without the
 * implementation's helpers: days from the date string, weeks as whole weeks since a Monday.
 */
function expectedKeep(list: PolicySnapshot[], rules: { daily?: number; weekly?: number; yearly?: number }): string[] {
  const newest = [...list].sort((a, b) => b.time.getTime() - a.time.getTime());
  const MONDAY_1970_01_05 = Date.UTC(1970, 0, 5);
  const period = {
    daily: (s: PolicySnapshot) => s.time.toISOString().slice(0, 10),
    weekly: (s: PolicySnapshot) => String(Math.floor((Date.UTC(s.time.getUTCFullYear(), s.time.getUTCMonth(), s.time.getUTCDate()) - MONDAY_1970_01_05) / (7 * DAY))),
    yearly: (s: PolicySnapshot) => String(s.time.getUTCFullYear()),
  };
  const keep = new Set<string>();
  for (const [rule, n] of Object.entries(rules) as [keyof typeof period, number][]) {
    const firstOfPeriod = new Map<string, string>();
    for (const s of newest) if (!firstOfPeriod.has(period[rule](s))) firstOfPeriod.set(period[rule](s), s.id);
    const chosen = [...firstOfPeriod.values()].slice(0, n);
    for (const id of chosen) keep.add(id);
    if (chosen.length < n) keep.add(newest[newest.length - 1]!.id);
  }
  return [...keep].sort();
}

describe('keep policy (restic forget semantics)', () => {
  test('the seed policy 7 daily, 4 weekly, 1 yearly over two years with gaps keeps what restic keeps', () => {
    const list = twoYears();
    const policy: KeepPolicy = { daily: 7, weekly: 4, yearly: 1 };
    const got = kept(list, policy);
    assert.deepEqual(got, expectedKeep(list, { daily: 7, weekly: 4, yearly: 1 }));
    // spelled out (Dec 19 is an every-11th-day gap, after Dec 21 only the 23rd, 27th, 31st have snapshots, Dec 2-15 none):
    assert.deepEqual(got, [
      's-2024-12-01-b', // weekly: the newest of the week of Nov 25 (the two weeks after it have nothing)
      's-2024-12-17-a', // daily (7th day that has a snapshot)
      's-2024-12-18-a', // daily
      's-2024-12-20-a', // daily
      's-2024-12-21-b', // daily (the later of two that day), weekly (week of Dec 16)
      's-2024-12-23-a', // daily
      's-2024-12-27-a', // daily, weekly (week of Dec 23)
      's-2024-12-31-b', // daily, weekly (week of Dec 30), yearly
    ]);
    const decisions = applyPolicy(list, policy, { utc: true, now: new Date('2025-01-01T00:00:00Z') });
    const dailies = decisions.filter((d) => d.reasons.includes('daily snapshot'));
    assert.equal(dailies.length, 7, 'seven days that have a snapshot, however far back that reaches');
    assert.ok(dailies[6]!.time.getTime() < Date.parse('2024-12-24T00:00:00Z'), 'gaps are not counted as days');
    assert.equal(decisions.filter((d) => d.reasons.includes('weekly snapshot')).length, 4);
    assert.deepEqual(decisions.filter((d) => d.reasons.includes('yearly snapshot')).map((d) => d.id), ['s-2024-12-31-b']);
    assert.ok(decisions.every((d) => d.keep === d.reasons.length > 0));
  });

  test('other counted policies over the same two years agree with the direct reasoning', () => {
    const list = twoYears();
    for (const rules of [{ daily: 30 }, { weekly: 60 }, { yearly: 5 }, { daily: 3, weekly: 10, yearly: 3 }, { weekly: 200 }]) {
      assert.deepEqual(kept(list, rules), expectedKeep(list, rules), JSON.stringify(rules));
    }
  });

  test('the newest snapshot of a day wins; the oldest is kept when periods run out', () => {
    const list = [
      at('2024-03-01T09:00:00Z', 'mar01-early'),
      at('2024-03-01T18:00:00Z', 'mar01-late'),
      at('2024-03-02T09:00:00Z', 'mar02'),
      at('2024-03-05T09:00:00Z', 'mar05'),
      at('2024-03-11T09:00:00Z', 'mar11-mon'),
      at('2024-03-17T09:00:00Z', 'mar17-sun'),
    ];
    assert.deepEqual(kept(list, { daily: 3 }), ['mar05', 'mar11-mon', 'mar17-sun']);
    const all = applyPolicy(list, { daily: 10 }, { utc: true });
    assert.deepEqual(all.map((d) => [d.id, d.reasons.join()]), [
      ['mar17-sun', 'daily snapshot'],
      ['mar11-mon', 'daily snapshot'],
      ['mar05', 'daily snapshot'],
      ['mar02', 'daily snapshot'],
      ['mar01-late', 'daily snapshot'],
      ['mar01-early', 'oldest daily snapshot'],
    ]);
    // Mar 11 and Mar 17 are one ISO week (Mon-Sun): its newest is Mar 17
    assert.deepEqual(kept(list, { weekly: 2 }), ['mar05', 'mar17-sun']);
    assert.deepEqual(kept(list, { last: 2 }), ['mar11-mon', 'mar17-sun']);
    assert.deepEqual(kept(list, { daily: -1 }), ['mar01-early', 'mar01-late', 'mar02', 'mar05', 'mar11-mon', 'mar17-sun'], 'unlimited keeps every day, and the oldest');
    assert.deepEqual(kept(list, { monthly: 1 }), ['mar17-sun']);
  });

  test('hourly buckets, several rules on one snapshot', () => {
    const list = [at('2024-01-01T10:05:00Z', 'a'), at('2024-01-01T10:55:00Z', 'b'), at('2024-01-01T11:10:00Z', 'c'), at('2024-01-01T13:00:00Z', 'd')];
    assert.deepEqual(kept(list, { hourly: 2 }), ['c', 'd']);
    const d = applyPolicy(list, { hourly: 1, last: 1, daily: 1 }, { utc: true })[0]!;
    assert.deepEqual([d.id, d.reasons], ['d', ['last snapshot', 'hourly snapshot', 'daily snapshot']]);
  });

  test('keep-within counts back from the newest snapshot, not from now; future snapshots do not anchor it', () => {
    const list = [at('2024-03-10T09:00:00Z', 'old'), at('2024-03-14T08:59:00Z', 'edge-out'), at('2024-03-14T09:01:00Z', 'edge-in'), at('2024-03-17T09:00:00Z', 'newest')];
    assert.deepEqual(kept(list, { within: parseKeepDuration('3d') }), ['edge-in', 'newest']);
    const withFuture = [...list, at('2031-01-01T00:00:00Z', 'future')];
    assert.deepEqual(kept(withFuture, { within: parseKeepDuration('3d') }, new Date('2030-01-01T00:00:00Z')), ['edge-in', 'future', 'newest']);
    assert.deepEqual(kept(list, { withinDaily: parseKeepDuration('10d') }), ['edge-in', 'newest', 'old'].sort());
  });

  test('durations: y m d h, calendar arithmetic like Go AddDate', () => {
    assert.deepEqual(parseKeepDuration('1y2m3d4h'), { years: 1, months: 2, days: 3, hours: 4, text: '1y2m3d4h' });
    assert.equal(parseKeepDuration('30d').days, 30);
    for (const bad of ['', '3', 'd', '1w', '1d1d', '-1d', '1.5d']) assert.throws(() => parseKeepDuration(bad), /invalid duration/, bad);
    assert.equal(subtractDuration(new Date('2024-03-31T12:00:00Z'), parseKeepDuration('1m'), true).toISOString(), '2024-03-02T12:00:00.000Z');
    assert.equal(subtractDuration(new Date('2024-03-01T12:00:00Z'), parseKeepDuration('1y12h'), true).toISOString(), '2023-03-01T00:00:00.000Z');
  });

  test('tags: a snapshot with every tag of one list is kept', () => {
    const list = [at('2024-01-01T00:00:00Z', 'a', ['daily']), at('2024-01-02T00:00:00Z', 'b', ['manual', 'pre-update']), at('2024-01-03T00:00:00Z', 'c', ['manual'])];
    assert.deepEqual(kept(list, { tags: [['manual', 'pre-update']] }), ['b']);
    assert.deepEqual(kept(list, { tags: [['manual'], ['daily']] }), ['a', 'b', 'c']);
    assert.deepEqual(applyPolicy(list, { tags: [['manual']] }, { utc: true }).map((d) => d.reasons.join()), ['has tags manual', 'has tags manual', '']);
  });

  test('ISO weeks at year boundaries', () => {
    assert.equal(isoWeekKey(2020, 12, 31), 202053);
    assert.equal(isoWeekKey(2021, 1, 3), 202053);
    assert.equal(isoWeekKey(2021, 1, 4), 202101);
    assert.equal(isoWeekKey(2024, 12, 30), 202501);
    assert.equal(isoWeekKey(2026, 1, 1), 202601);
    assert.equal(isoWeekKey(2027, 1, 1), 202653);
  });

  test('empty policies are recognised; results do not depend on input order', () => {
    assert.ok(isEmptyPolicy({}));
    assert.ok(isEmptyPolicy({ daily: 0, tags: [[]] }));
    assert.ok(!isEmptyPolicy({ last: -1 }));
    assert.ok(!isEmptyPolicy({ within: parseKeepDuration('1d') }));
    const list = twoYears();
    const shuffled = [...list].reverse();
    assert.deepEqual(kept(shuffled, { daily: 7, weekly: 4, yearly: 1 }), kept(list, { daily: 7, weekly: 4, yearly: 1 }));
  });

  test('groups: host and paths by default, paths order-insensitive', () => {
    const snap = (host: string, paths: string[], store?: string): { snapshot: Snapshot } => ({
      snapshot: { version: 1, time: '2024-01-01T00:00:00Z', host, user: '', kind: 'full', tags: [], paths, ...(store ? { store } : {}), stats: {} as Snapshot['stats'] },
    });
    const list = [snap('a', ['/x', '/y']), snap('a', ['/y', '/x']), snap('b', ['/x', '/y']), snap('a', ['/z'], 'shop')];
    assert.equal(groupSnapshots(list, parseGroupBy('host,paths')).length, 3);
    assert.equal(groupSnapshots(list, parseGroupBy('host')).length, 2);
    assert.equal(groupSnapshots(list, parseGroupBy('store')).length, 2);
    assert.equal(groupSnapshots(list, parseGroupBy('')).length, 1);
    assert.throws(() => parseGroupBy('host,colour'), /cannot group by "colour"/);
  });
});
