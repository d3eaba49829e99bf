/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), as in Vixie cron:
 * `*`, ranges `a-b`, steps `*\/n` and `a-b/n`, lists `a,b`, month and weekday names, `7` = Sunday,
 * and the shorthands `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`, `@yearly`/`@annually`.
 * When both day fields are restricted, a day matches if either does (cron's rule).
 * Pure: times are evaluated in the local time zone of the process.
 */

export interface CronExpr {
  text: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
  /** whether the day-of-month / day-of-week field was `*` (unrestricted) */
  anyDay: boolean;
  anyWeekday: boolean;
}

export class CronError extends Error {
  constructor(readonly expr: string, readonly reason: string) {
    super(`"${expr}" is not a valid cron expression (${reason})`);
    this.name = 'CronError';
  }
}

const SHORTHANDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** value of names[0] */
  nameBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS, nameBase: 0 },
];

function parseValue(text: string, f: FieldSpec, expr: string): number {
  const lower = text.toLowerCase();
  if (f.names) {
    const i = f.names.indexOf(lower);
    if (i >= 0) return i + f.nameBase!;
  }
  if (!/^\d+$/.test(text)) throw new CronError(expr, `${f.name} "${text}" is not a number${f.names ? ' or a name' : ''}`);
  const n = Number.parseInt(text, 10);
  if (n < f.min || n > f.max) throw new CronError(expr, `${f.name} ${n} out of range ${f.min}-${f.max}`);
  return n;
}

function parseField(text: string, f: FieldSpec, expr: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') throw new CronError(expr, `empty list item in ${f.name}`);
    const [rangeText, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new CronError(expr, `${f.name} "${part}" has more than one step`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number.parseInt(stepText, 10) === 0) throw new CronError(expr, `${f.name} step "${stepText}" must be a positive number`);
      step = Number.parseInt(stepText, 10);
    }
    let lo: number;
    let hi: number;
    if (rangeText === '*') {
      lo = f.min;
      hi = f.max === 7 ? 6 : f.max;
    } else if (rangeText!.includes('-')) {
      const [a, b, more] = rangeText!.split('-');
      if (more !== undefined || a === '' || b === '') throw new CronError(expr, `${f.name} range "${rangeText}" is malformed`);
      lo = parseValue(a!, f, expr);
      hi = parseValue(b!, f, expr);
      if (lo > hi) throw new CronError(expr, `${f.name} range ${rangeText} runs backwards`);
    } else {
      lo = parseValue(rangeText!, f, expr);
      // `5/15` means from 5 to the end in steps of 15
      hi = stepText !== undefined ? (f.max === 7 ? 6 : f.max) : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(f.max === 7 && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses an expression; throws CronError naming the field and the reason. */
export function parseCron(text: string): CronExpr {
  const trimmed = text.trim();
  const expanded = trimmed.startsWith('@') ? SHORTHANDS[trimmed.toLowerCase()] : trimmed;
  if (expanded === undefined) throw new CronError(text, `unknown shorthand ${trimmed}`);
  const parts = expanded.split(/\s+/).filter((p) => p !== '');
  if (parts.length !== 5) throw new CronError(text, `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, text));
  return {
    text: trimmed,
    minutes: sets[0]!,
    hours: sets[1]!,
    days: sets[2]!,
    months: sets[3]!,
    weekdays: sets[4]!,
    anyDay: parts[2]!.startsWith('*'),
    anyWeekday: parts[4]!.startsWith('*'),
  };
}

function dayMatches(c: CronExpr, d: Date): boolean {
  const dom = c.days.has(d.getDate());
  const dow = c.weekdays.has(d.getDay());
  if (c.anyDay && c.anyWeekday) return true;
  if (c.anyDay) return dow;
  if (c.anyWeekday) return dom;
  return dom || dow;
}

/** The first time strictly after `after` (to the minute) at which the expression fires. */
export function nextRun(expr: string | CronExpr, after: Date): Date {
  const c = typeof expr === 'string' ? parseCron(expr) : expr;
  const t = new Date(after.getTime());
  t.setSeconds(0, 0);
  t.setMinutes(t.getMinutes() + 1);
  // 5 years covers every satisfiable expression (Feb 29 recurs within 8 years at most: use 9)
  const limit = after.getTime() + 9 * 366 * 24 * 3600 * 1000;
  while (t.getTime() <= limit) {
    if (!c.months.has(t.getMonth() + 1)) {
      t.setMonth(t.getMonth() + 1, 1);
      t.setHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(c, t)) {
      t.setDate(t.getDate() + 1);
      t.setHours(0, 0, 0, 0);
      continue;
    }
    if (!c.hours.has(t.getHours())) {
      t.setHours(t.getHours() + 1, 0, 0, 0);
      continue;
    }
    if (!c.minutes.has(t.getMinutes())) {
      t.setMinutes(t.getMinutes() + 1, 0, 0);
      continue;
    }
    return t;
  }
  throw new CronError(c.text, 'it never fires');
}

/** Checks once that an expression can fire at all (e.g. `0 0 31 2 *` never does). */
export function validateCron(text: string): CronExpr {
  const c = parseCron(text);
  nextRun(c, new Date(2000, 0, 1));
  return c;
}
