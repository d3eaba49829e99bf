import { isZeroDuration, subtractDuration, type KeepDuration } from './keepDuration.js';

/**
 * Which snapshots a retention policy keeps, with the same semantics as restic's `forget`:
 * snapshots are taken newest first; `--keep-daily 7` keeps the newest snapshot of each of the
 * last 7 days *that have a snapshot* (days without one are not counted), likewise hourly,
 * weekly (ISO weeks), monthly and yearly; `--keep-last N` the N newest. When a counted rule
 * still has periods left after the oldest snapshot, that oldest snapshot is kept too (it
 * stretches the history as far as possible). `--keep-within D` keeps everything newer than the
 * newest snapshot minus D; `--keep-tag` keeps every snapshot carrying all tags of a list.
 * Pure: no repository, no clock unless `now` is left out.
 */
export interface KeepPolicy {
  /** counts; -1 means unlimited, 0 or absent means the rule is off */
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  within?: KeepDuration;
  withinHourly?: KeepDuration;
  withinDaily?: KeepDuration;
  withinWeekly?: KeepDuration;
  withinMonthly?: KeepDuration;
  withinYearly?: KeepDuration;
  /** a snapshot carrying every tag of one of these lists is kept */
  tags?: string[][];
}

export interface PolicySnapshot {
  id: string;
  time: Date;
  tags: readonly string[];
}

export interface KeepDecision {
  id: string;
  time: Date;
  keep: boolean;
  /** the rules that kept it (empty when removed) */
  reasons: string[];
}

export interface PolicyOptions {
  /** the present: the newest snapshot not after it anchors `within` rules (default: now) */
  now?: Date;
  /** periods (days, weeks, ...) in UTC instead of the local time zone */
  utc?: boolean;
}

const COUNTED = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
const WITHIN = ['withinHourly', 'withinDaily', 'withinWeekly', 'withinMonthly', 'withinYearly'] as const;

/** True when the policy would keep nothing (forget refuses to apply it). */
export function isEmptyPolicy(p: KeepPolicy): boolean {
  return COUNTED.every((k) => !p[k]) && isZeroDuration(p.within) && WITHIN.every((k) => isZeroDuration(p[k])) && !(p.tags ?? []).some((l) => l.length > 0);
}

/** One line describing the policy, for reports. */
export function describePolicy(p: KeepPolicy): string {
  const parts: string[] = [];
  for (const k of COUNTED) {
    const n = p[k];
    if (n === -1) parts.push(`all ${k}`);
    else if (n) parts.push(`${n} ${k}`);
  }
  if (!isZeroDuration(p.within)) parts.push(`everything within ${p.within!.text}`);
  for (const k of WITHIN) if (!isZeroDuration(p[k])) parts.push(`${k.slice(6).toLowerCase()} within ${p[k]!.text}`);
  for (const l of p.tags ?? []) if (l.length) parts.push(`tagged ${l.join(',')}`);
  return parts.length ? `keep ${parts.join(', ')}` : 'keep nothing';
}

interface CalendarParts {
  year: number;
  month: number;
  day: number;
  hour: number;
}

function parts(t: Date, utc: boolean): CalendarParts {
  return utc
    ? { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate(), hour: t.getUTCHours() }
    : { year: t.getFullYear(), month: t.getMonth() + 1, day: t.getDate(), hour: t.getHours() };
}

/** ISO 8601 week as YYYYWW: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeekKey(year: number, month: number, day: number): number {
  const date = Date.UTC(year, month - 1, day);
  const mondayBased = (new Date(date).getUTCDay() + 6) % 7;
  const thursday = date + (3 - mondayBased) * 86_400_000;
  const weekYear = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(weekYear, 0, 1)) / (7 * 86_400_000));
  return weekYear * 100 + week;
}

type Bucketer = (p: CalendarParts, nr: number) => number;

const BUCKETERS: Record<(typeof COUNTED)[number], Bucketer> = {
  last: (_p, nr) => nr,
  hourly: (p) => ((p.year * 100 + p.month) * 100 + p.day) * 100 + p.hour,
  daily: (p) => (p.year * 100 + p.month) * 100 + p.day,
  weekly: (p) => isoWeekKey(p.year, p.month, p.day),
  monthly: (p) => p.year * 100 + p.month,
  yearly: (p) => p.year,
};

const WITHIN_BUCKETERS: Record<(typeof WITHIN)[number], Bucketer> = {
  withinHourly: BUCKETERS.hourly,
  withinDaily: BUCKETERS.daily,
  withinWeekly: BUCKETERS.weekly,
  withinMonthly: BUCKETERS.monthly,
  withinYearly: BUCKETERS.yearly,
};

const REASON: Record<(typeof COUNTED)[number], string> = {
  last: 'last snapshot',
  hourly: 'hourly snapshot',
  daily: 'daily snapshot',
  weekly: 'weekly snapshot',
  monthly: 'monthly snapshot',
  yearly: 'yearly snapshot',
};

/** Newest first; equal times by id, so the result never depends on listing order. */
export function newestFirst<T extends { id: string; time: Date }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** Applies a policy to one group of snapshots; returns a decision per snapshot, newest first. */
export function applyPolicy(list: readonly PolicySnapshot[], policy: KeepPolicy, opts: PolicyOptions = {}): KeepDecision[] {
  const sorted = newestFirst(list);
  if (sorted.length === 0) return [];
  const utc = opts.utc === true;
  const now = (opts.now ?? new Date()).getTime();
  // the anchor of `within` rules: the newest snapshot that is not in the future
  const latest = sorted.find((s) => s.time.getTime() < now)?.time;
  const cutoff = (d: KeepDuration): number => (latest ? subtractDuration(latest, d, utc).getTime() : -Infinity);

  const counted = COUNTED.filter((k) => policy[k] !== undefined && policy[k] !== 0).map((k) => ({ key: k, left: policy[k]!, last: NaN }));
  const within = WITHIN.filter((k) => !isZeroDuration(policy[k])).map((k) => ({ key: k, after: cutoff(policy[k]!), last: NaN }));
  const withinAll = isZeroDuration(policy.within) ? undefined : cutoff(policy.within!);
  const tagLists = (policy.tags ?? []).filter((l) => l.length > 0);

  return sorted.map((snap, nr): KeepDecision => {
    const reasons: string[] = [];
    const t = snap.time.getTime();
    const p = parts(snap.time, utc);
    const oldest = nr === sorted.length - 1;
    for (const l of tagLists) if (l.every((tag) => snap.tags.includes(tag))) reasons.push(`has tags ${l.join(',')}`);
    if (withinAll !== undefined && t > withinAll) reasons.push(`within ${policy.within!.text}`);
    for (const b of counted) {
      if (b.left === 0) continue;
      const val = BUCKETERS[b.key](p, nr);
      if (val !== b.last || oldest) {
        reasons.push(val === b.last ? `oldest ${REASON[b.key]}` : REASON[b.key]);
        b.last = val;
        if (b.left > 0) b.left--;
      }
    }
    for (const b of within) {
      if (!(t > b.after)) continue;
      const val = WITHIN_BUCKETERS[b.key](p, nr);
      if (val !== b.last || oldest) {
        const name = `${b.key.slice(6).toLowerCase()} within ${policy[b.key]!.text}`;
        reasons.push(val === b.last ? `oldest ${name}` : name);
        b.last = val;
      }
    }
    return { id: snap.id, time: snap.time, keep: reasons.length > 0, reasons };
  });
}
