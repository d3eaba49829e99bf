import { isOcvaultError } from '../../errors/OcvaultError.js';
import type { DbConnection } from './dbConnection.js';
import { stripDefiner } from './definer.js';
import type { EventManifest, RoutineManifest, TriggerManifest, ViewManifest } from './manifest.js';
import { orderViews } from './viewOrder.js';

/**
 * `keep`: create views, triggers, routines and events with their original DEFINER (needs
 * SET USER / SUPER when it is another user); `strip`: as the restoring user; `auto`: keep,
 * and strip only where the server refuses the original definer.
 */
export type DefinerPolicy = 'keep' | 'strip' | 'auto';

const NEEDS_PRIVILEGE = new Set([1227, 1044, 1142]);
const MISSING_DEPENDENCY = new Set([1146, 1356, 1305]);

function errnoOf(e: unknown): number | undefined {
  return isOcvaultError(e) && typeof e.data.errno === 'number' ? e.data.errno : undefined;
}

async function createWithDefiner(conn: DbConnection, statement: string, policy: DefinerPolicy, what: string): Promise<void> {
  if (policy === 'strip') {
    await conn.run(stripDefiner(statement), [], `create ${what}`);
    return;
  }
  try {
    await conn.run(statement, [], `create ${what}`);
  } catch (e) {
    const errno = errnoOf(e);
    if (policy !== 'auto' || errno === undefined || !NEEDS_PRIVILEGE.has(errno) || stripDefiner(statement) === statement) throw e;
    await conn.run(stripDefiner(statement), [], `create ${what}`);
  }
}

async function withSession(conn: DbConnection, vars: { sqlMode?: string; collation?: string; timeZone?: string }, fn: () => Promise<void>): Promise<void> {
  const sets: string[] = [];
  const values: string[] = [];
  if (vars.sqlMode !== undefined) { sets.push('sql_mode = ?'); values.push(vars.sqlMode); }
  if (vars.collation) { sets.push('collation_connection = ?'); values.push(vars.collation); }
  if (vars.timeZone) { sets.push('time_zone = ?'); values.push(vars.timeZone); }
  if (sets.length > 0) await conn.run(`SET SESSION ${sets.join(', ')}`, values, 'restore session');
  try {
    await fn();
  } finally {
    await conn.run("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', collation_connection = 'utf8mb4_general_ci', time_zone = '+00:00'", [], 'restore session');
  }
}

export async function createRoutines(conn: DbConnection, routines: readonly RoutineManifest[], policy: DefinerPolicy): Promise<void> {
  for (const r of routines) {
    await withSession(conn, { sqlMode: r.sqlMode, collation: r.collationConnection }, () => createWithDefiner(conn, r.createStatement, policy, `${r.type.toLowerCase()} ${r.name}`));
  }
}

/** Creates views dependencies first; a view whose dependency is still missing is retried after the others. */
export async function createViews(conn: DbConnection, views: readonly ViewManifest[], policy: DefinerPolicy): Promise<void> {
  let pending = orderViews(views);
  while (pending.length > 0) {
    const failed: ViewManifest[] = [];
    let lastError: unknown;
    for (const v of pending) {
      try {
        await withSession(conn, { collation: v.collationConnection }, () => createWithDefiner(conn, v.createStatement, policy, `view ${v.name}`));
      } catch (e) {
        const errno = errnoOf(e);
        if (errno === undefined || !MISSING_DEPENDENCY.has(errno)) throw e;
        failed.push(v);
        lastError = e;
      }
    }
    if (failed.length === pending.length) throw lastError;
    pending = failed;
  }
}

export async function createTriggers(conn: DbConnection, triggers: readonly TriggerManifest[], policy: DefinerPolicy): Promise<void> {
  for (const t of triggers) {
    await withSession(conn, { sqlMode: t.sqlMode, collation: t.collationConnection }, () => createWithDefiner(conn, t.createStatement, policy, `trigger ${t.name}`));
  }
}

export async function createEvents(conn: DbConnection, events: readonly EventManifest[], policy: DefinerPolicy): Promise<void> {
  for (const e of events) {
    await withSession(conn, { sqlMode: e.sqlMode, collation: e.collationConnection, timeZone: e.timeZone }, () => createWithDefiner(conn, e.createStatement, policy, `event ${e.name}`));
  }
}
