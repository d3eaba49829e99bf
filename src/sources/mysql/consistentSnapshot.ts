import { OcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget, type ConnectionTarget } from './connectionUrl.js';
import { DbConnection, str } from './dbConnection.js';
import type { BinlogPosition, LockStats } from './manifest.js';
import { listTables, type TablePlan } from './tablePlan.js';
import { lockSteps, unlockAll, type LockStep } from './tableLocks.js';
import { readGtid, readMasterStatus, readSnapshotPosition } from './binlogPosition.js';
import { definitionFingerprint, readAllDefinitions } from './tableDefinition.js';

/**
 * One point in time shared by several connections.
 *
 * With one worker and only InnoDB tables: a single `START TRANSACTION WITH CONSISTENT
 * SNAPSHOT`, no lock at all. Otherwise (the trade-off, as in mydumper's `--less-locking`,
 * scoped to one database and needing only the LOCK TABLES privilege, not RELOAD):
 *
 * 1. a lock holder takes `LOCK TABLES <non-transactional tables> READ` (MyISAM, Aria...):
 *    their writers wait from now until those tables have been dumped — they have no
 *    snapshot, so a lock is the only way to read them as of one point. Holders also read
 *    those tables: once a writer queues for one, a connection without the lock may not
 *    even read it. More holders join (same read locks, NOWAIT) when no writer is queued
 *    yet, so several connections can read them; under write load one holder reads all;
 * 2. with several workers, the control connection takes `LOCK TABLES <InnoDB tables> READ`
 *    as well, so nothing can commit to this database (other databases are untouched);
 * 3. each worker opens `START TRANSACTION WITH CONSISTENT SNAPSHOT`: all see the same state,
 *    and the binary log position of that snapshot is read;
 * 4. the control connection unlocks at once (InnoDB writers go on; the snapshots keep the
 *    old state); each holder unlocks when its last table is dumped.
 *
 * The InnoDB lock is never waited for while holding (LOCK TABLES ... NOWAIT, polled): the
 * server would resolve a lock cycle with a shop transaction by failing the transaction.
 * While MyISAM locks are held it is polled only briefly: a transaction holding an InnoDB
 * table and waiting for a MyISAM table we hold would otherwise wait on us forever; then
 * everything is let go and taken again, until the overall deadline. InnoDB writers so wait only the milliseconds of steps
 * 2–4, MyISAM writers for their tables' part of the dump (LockStats reports both). If LOCK
 * TABLES is not allowed, the dump still runs but LockStats says `unlocked`, with a warning.
 */
export interface ConsistentSnapshot {
  readonly tables: TablePlan[];
  /** each table's definition fingerprint as of just before the snapshot (see tableDefinition.ts) */
  readonly definitions: ReadonlyMap<string, string>;
  /** connections inside the shared snapshot: they read the transactional tables */
  readonly workers: DbConnection[];
  /** connections holding read locks on every non-transactional table: they read those */
  readonly holders: DbConnection[];
  readonly serverVersion: string;
  readonly dumpedAt: string;
  readonly binlog?: BinlogPosition;
  readonly locks: LockStats;
  /** Unlocks the non-transactional tables (once they are all dumped). */
  releaseNonTransactional(): Promise<void>;
  /** Ends the snapshots and closes every connection. */
  close(): Promise<void>;
  /** Drops every connection at once. */
  abort(): void;
}

export interface SnapshotOptions {
  parallel: number;
  tables?: readonly string[];
  lockWaitTimeoutSeconds: number;
}

const MAX_ATTEMPTS = 50;

function now(): number {
  return performance.now();
}

export async function openConsistentSnapshot(target: ConnectionTarget, opts: SnapshotOptions): Promise<ConsistentSnapshot> {
  const control = await DbConnection.open(target, { action: 'connect' });
  const opened: DbConnection[] = [control];
  try {
    return await take(control, target, opts, opened);
  } catch (e) {
    for (const c of opened) c.destroy();
    throw e;
  }
}

async function take(control: DbConnection, target: ConnectionTarget, opts: SnapshotOptions, opened: DbConnection[]): Promise<ConsistentSnapshot> {
  const [info] = await control.query('SELECT VERSION() AS v, @@log_bin AS lb', [], 'connect');
  const serverVersion = str(info ?? {}, 'v');
  const mariadb = /mariadb/i.test(serverVersion);
  const logBin = str(info ?? {}, 'lb') === '1';
  const parallel = Math.max(1, opts.parallel);
  let tables = await listTables(control, opts.tables);
  const nWorkers = Math.max(1, Math.min(parallel, tables.filter((t) => t.transactional).length));
  const workers = await Promise.all(Array.from({ length: nWorkers }, () => DbConnection.open(target, { action: 'connect' })));
  opened.push(...workers);
  for (const w of workers) {
    await w.run('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ', [], 'start snapshot');
    // a table's metadata lock is taken when it is dumped: do not wait forever behind DDL
    await w.run(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(opts.lockWaitTimeoutSeconds))}`, [], 'start snapshot');
  }
  const spare: DbConnection[] = [];
  const holderConn = async (i: number): Promise<DbConnection> => {
    while (spare.length <= i) {
      const c = await DbConnection.open(target, { action: 'connect' });
      opened.push(c);
      spare.push(c);
    }
    return spare[i] as DbConnection;
  };

  const locks: LockStats = { strategy: 'snapshot', lockWaitMs: 0, allTablesLockedMs: 0, nonTransactionalTables: [], nonTransactionalLockedMs: 0, warnings: [] };
  const startSnapshots = (): Promise<unknown> =>
    Promise.all(workers.map((w) => w.run('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY', [], 'start snapshot')));
  let holders: DbConnection[] = [];
  let gtid: string | undefined;
  let masterStatus: BinlogPosition | undefined;
  let nonTxLockedAt = 0;
  // Read before the snapshot: a table whose definition differs when it is dumped was altered
  // in between (InnoDB reports only rebuilds itself, not instant ALTERs).
  const fingerprints = async (): Promise<Map<string, string>> => new Map([...(await readAllDefinitions(control))].map(([n, d]) => [n, definitionFingerprint(d)]));
  let definitions = await fingerprints();

  if (nWorkers === 1 && tables.every((t) => t.transactional)) {
    await startSnapshots();
  } else {
    const deadline = now() + opts.lockWaitTimeoutSeconds * 1000;
    let locked: boolean | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && locked === undefined; attempt++) {
      const nonTx = tables.filter((t) => !t.transactional);
      const tx = tables.filter((t) => t.transactional);
      const steps: LockStep[] = [];
      if (nonTx.length > 0) {
        steps.push({ conn: await holderConn(0), tables: nonTx, wait: 'wait' });
        for (let i = 1; i < Math.min(parallel, nonTx.length); i++) steps.push({ conn: await holderConn(i), tables: nonTx, wait: 'join' });
      }
      if (nWorkers > 1 && tx.length > 0) steps.push({ conn: control, tables: tx, wait: steps.length === 0 ? 'poll' : 'poll-briefly' });
      const t0 = now();
      const outcome = await lockSteps(steps, deadline, mariadb);
      locks.lockWaitMs += now() - t0;
      if (outcome.result === 'denied') {
        locked = false;
      } else if (outcome.result === 'locked') {
        // The list may have changed between listing and locking; under the locks it cannot.
        const again = await listTables(control, opts.tables);
        if (sameTables(again, tables)) {
          locked = true;
          nonTxLockedAt = now();
          holders = outcome.held.filter((c) => c !== control);
        } else {
          tables = again;
          await unlockAll(outcome.held);
        }
      } else {
        if (outcome.result === 'dropped') tables = await listTables(control, opts.tables);
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
      }
      if (locked === undefined) definitions = await fingerprints();
    }
    if (locked === undefined) {
      throw new OcvaultError('DatabaseError', `could not lock the tables of ${describeTarget(target)} (they kept changing or stayed locked by writers)`, { database: target.database });
    }
    const lockedAt = now();
    await startSnapshots();
    if (locked) {
      locks.strategy = 'lock-tables';
      gtid = await readGtid(control, mariadb);
      if (logBin && !mariadb) masterStatus = await readMasterStatus(control, locks);
      await control.run('UNLOCK TABLES', [], 'unlock tables');
      locks.allTablesLockedMs = now() - lockedAt;
      locks.nonTransactionalTables = tables.filter((t) => !t.transactional).map((t) => t.name).sort();
    } else {
      locks.strategy = 'unlocked';
      locks.warnings.push(`user "${target.user}" may not LOCK TABLES: InnoDB tables were read from ${nWorkers} separate snapshots and MyISAM/Aria tables while they could change`);
    }
  }
  const dumpedAt = new Date().toISOString();
  let binlog: BinlogPosition | undefined;
  if (logBin) {
    const first = workers[0] as DbConnection;
    binlog = mariadb ? await readSnapshotPosition(first, gtid ?? (await readGtid(control, mariadb))) : masterStatus;
  }
  await control.close();
  for (const c of spare) if (!holders.includes(c)) await c.close();

  let released = holders.length === 0;
  const releaseNonTransactional = async (): Promise<void> => {
    if (released) return;
    released = true;
    await unlockAll(holders);
    locks.nonTransactionalLockedMs = now() - nonTxLockedAt;
  };
  return {
    tables, definitions, workers, holders, serverVersion, dumpedAt, binlog, locks, releaseNonTransactional,
    async close() {
      await releaseNonTransactional();
      await Promise.all([
        ...workers.map(async (w) => {
          await w.run('COMMIT', [], 'end snapshot').catch(() => undefined);
          await w.close();
        }),
        ...holders.map((h) => h.close()),
      ]);
    },
    abort() {
      for (const c of opened) c.destroy();
    },
  };
}

function sameTables(a: TablePlan[], b: TablePlan[]): boolean {
  if (a.length !== b.length) return false;
  const names = new Set(a.map((t) => `${t.name}\0${t.engine}`));
  return b.every((t) => names.has(`${t.name}\0${t.engine}`));
}
