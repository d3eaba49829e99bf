import type { DbConnection } from './dbConnection.js';
import { quoteIdent } from './identifiers.js';
import type { TablePlan } from './tablePlan.js';

const DENIED = new Set([1044, 1142, 1227]);
/** how long the InnoDB lock is polled for while MyISAM tables are held, before starting over */
const BRIEF_LOCK_WAIT_MS = 3000;

function now(): number {
  return performance.now();
}

/**
 * How a lock step waits for writers. `wait`: as long as allowed (MyISAM writers finish their
 * statement soon). `join`: now or never (an extra holder; skipped when a writer is queued).
 * `poll`/`poll-briefly`: retry NOWAIT until the deadline / for a few seconds: the InnoDB lock
 * never waits while holding, because a transaction that holds one table and wants another
 * we hold would be chosen as deadlock victim and fail in the shop's face.
 */
export interface LockStep {
  conn: DbConnection;
  tables: TablePlan[];
  wait: 'wait' | 'join' | 'poll' | 'poll-briefly';
}

/**
 * Takes the read locks step by step. `held` lists the connections holding locks (a `join`
 * step that could not join is left out). On `denied` (LOCK TABLES not allowed), `retry`
 * (a brief poll ran out) or `dropped` (a table vanished) nothing is held.
 */
export async function lockSteps(steps: LockStep[], deadline: number, mariadb: boolean): Promise<{ result: 'locked' | 'denied' | 'retry' | 'dropped'; held: DbConnection[] }> {
  const held: DbConnection[] = [];
  for (const step of steps) {
    try {
      if (await lockStep(step, deadline, mariadb)) held.push(step.conn);
    } catch (e) {
      await unlockAll(held);
      const errno = (e as { data?: { errno?: number } }).data?.errno;
      if (errno !== undefined && DENIED.has(errno)) return { result: 'denied', held: [] };
      if (errno === 1146) return { result: 'dropped', held: [] };
      if (errno === 1205 && now() < deadline) return { result: 'retry', held: [] };
      throw e;
    }
  }
  return { result: 'locked', held };
}

/** One LOCK TABLES ... READ; false when a `join` step could not join. */
async function lockStep(step: LockStep, deadline: number, mariadb: boolean): Promise<boolean> {
  const list = `LOCK TABLES ${step.tables.map((t) => `${quoteIdent(t.name)} READ`).join(', ')}`;
  const setWait = (ms: number): Promise<unknown> => step.conn.run(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(ms / 1000))}`, [], 'lock tables');
  if (step.wait === 'wait') {
    await setWait(deadline - now());
    await step.conn.run(list, [], 'lock tables');
    return true;
  }
  // MySQL has no NOWAIT for LOCK TABLES: the shortest wait it allows is one second.
  const nowait = mariadb ? `${list} NOWAIT` : list;
  if (!mariadb) await setWait(1000);
  const until = step.wait === 'poll' ? deadline : Math.min(deadline, now() + BRIEF_LOCK_WAIT_MS);
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      await step.conn.run(nowait, [], 'lock tables');
      return true;
    } catch (e) {
      const errno = (e as { data?: { errno?: number } }).data?.errno;
      if (errno !== 1205) throw e;
      if (step.wait === 'join') return false;
      if (now() >= until) throw e;
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}

export async function unlockAll(conns: DbConnection[]): Promise<void> {
  for (const c of conns) await c.run('UNLOCK TABLES', [], 'unlock tables');
}
