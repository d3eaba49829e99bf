import { OcvaultError } from '../errors/OcvaultError.js';

/** A calendar duration like restic's `1y5m7d2h`: years, months, days and hours. */
export interface KeepDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
  /** as the user wrote it, for reports */
  text: string;
}

const UNITS: Record<string, keyof Omit<KeepDuration, 'text'>> = { y: 'years', m: 'months', d: 'days', h: 'hours' };

/** Parses `30d`, `1y2m`, `12h`, `1y5m7d2h` (units y, m = months, d, h; each at most once). */
export function parseKeepDuration(text: string): KeepDuration {
  const d: KeepDuration = { years: 0, months: 0, days: 0, hours: 0, text };
  const bad = (): OcvaultError => new OcvaultError('Usage', `invalid duration ${JSON.stringify(text)}: use numbers with units y, m, d, h (e.g. 30d, 1y2m, 12h)`);
  if (!/^(\d+[ymdh])+$/.test(text)) throw bad();
  const seen = new Set<string>();
  for (const [, n, u] of text.matchAll(/(\d+)([ymdh])/g)) {
    if (seen.has(u!)) throw bad();
    seen.add(u!);
    d[UNITS[u!]!] = Number(n);
  }
  return d;
}

export function isZeroDuration(d: KeepDuration | undefined): boolean {
  return !d || (d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0);
}

/** `from` minus the duration, calendar-wise (month and day overflow normalise like Go's AddDate). */
export function subtractDuration(from: Date, d: KeepDuration, utc: boolean): Date {
  const t = new Date(from.getTime());
  if (utc) t.setUTCFullYear(t.getUTCFullYear() - d.years, t.getUTCMonth() - d.months, t.getUTCDate() - d.days);
  else t.setFullYear(t.getFullYear() - d.years, t.getMonth() - d.months, t.getDate() - d.days);
  return new Date(t.getTime() - d.hours * 3_600_000);
}
