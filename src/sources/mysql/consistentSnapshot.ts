import type { ConnectionTarget } from './connectionUrl.js';
import { DbConnection, scalar, str } from './dbConnection.js';
import { quoteIdent } from './identifiers.js';
import type { BinlogPosition, LockStats } from './manifest.js';
import { listTables, type TablePlan } from './tablePlan.js';

/**
 * One point in time shared by several connections.
 *
 * With one worker and only InnoDB tables: a single `START TRANSACTION WITH CONSISTENT
 * SNAPSHOT`, no lock at all. Otherwise (the trade-off, as in mydumper's `--less-locking`,
 * scoped to one database and needing only the LOCK TABLES privilege, not RELOAD):
 *
 * 1. the control connection takes `LOCK TABLES <every dumped table> READ`: writers to this
 *    database wait (other databases are untouched); it waits for open writers to finish;
 * 2. each worker connection opens `START TRANSACTION WITH CONSISTENT SNAPSHOT` (the same
 *    committed state, since nothing can commit to these tables) and the binary log position
 *    of that snapshot is read;
 * 3. a lock connection takes `LOCK TABLES <non-transactional tables> READ`, then the control
 *    connection unlocks: InnoDB writers go on at once (the snapshots keep the old state),
 *    MyISAM/Aria writers wait until those tables have been dumped — they have no snapshot,
 *    so the lock is the only way to read them as of the same point.
 *
 * If LOCK TABLES is not allowed, the dump still runs but LockStats says it is `unlocked`.
 */
export interface ConsistentSnapshot {
  readonly tables: TablePlan[];
  readonly workers: DbConnection[];
  readonly serverVersion: string;
  readonly dumpedAt: string;
  readonly binlog?: BinlogPosition;
  readonly locks: LockStats;
  /** Ends the read lock on non-transactional tables (once they are dumped). */
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

const DENIED = new Set([1044, 1142, 1227, 1045]);
const MAX_LIST_RETRIES = 5;

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
  let tables = await listTables(control, opts.tables);
  const nWorkers = Math.max(1, Math.min(opts.parallel, tables.length));
  const workers = await Promise.all(Array.from({ length: nWorkers }, () => DbConnection.open(target, { action: 'connect' })));
  opened.push(...workers);
  for (const w of workers) await w.run('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ', [], 'start snapshot');

  const locks: LockStats = { strategy: 'snapshot', lockWaitMs: 0, allTablesLockedMs: 0, nonTransactionalTables: [], nonTransactionalLockedMs: 0, warnings: [] };
  const startSnapshots = (): Promise<unknown> =>
    Promise.all(workers.map((w) => w.run('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY', [], 'start snapshot')));
  let lockConn: DbConnection | undefined;
  let nonTxLockedAt = 0;
  let gtid: string | undefined;
  let masterStatus: BinlogPosition | undefined;

  const needsLock = nWorkers > 1 || tables.some((t) => !t.transactional);
  if (!needsLock) {
    await startSnapshots();
  } else {
    await control.run(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.floor(opts.lockWaitTimeoutSeconds))}`, [], 'lock tables');
    let locked = false;
    for (let attempt = 0; attempt < MAX_LIST_RETRIES && !locked; attempt++) {
      if (tables.length === 0) break;
      const t0 = now();
      try {
        await control.run(`LOCK TABLES ${tables.map((t) => `${quoteIdent(t.name)} READ`).join(', ')}`, [], 'lock tables');
      } catch (e) {
        const errno = (e as { data?: { errno?: number } }).data?.errno;
        if (errno === 1146) {
          tables = await listTables(control, opts.tables); // a table was dropped meanwhile
          continue;
        }
        if (errno !== undefined && DENIED.has(errno)) break;
        throw e;
      }
      locks.lockWaitMs += now() - t0;
      // The list may have changed between listing and locking; under the lock it cannot.
      const again = await listTables(control, opts.tables);
      if (sameTables(again, tables)) {
        locked = true;
        tables = again;
      } else {
        await control.run('UNLOCK TABLES', [], 'unlock tables');
        tables = again;
      }
    }
    const lockedAt = now();
    if (locked || tables.length === 0) {
      locks.strategy = 'lock-tables';
    } else {
      locks.strategy = 'unlocked';
      locks.warnings.push(`user "${target.user}" may not LOCK TABLES: InnoDB tables were read from ${nWorkers} separate snapshots and MyISAM/Aria tables while they could change`);
    }
    await startSnapshots();
    if (locked) {
      gtid = await readGtid(control, mariadb);
      if (logBin && !mariadb) masterStatus = await readMasterStatus(control, locks);
      const nonTx = tables.filter((t) => !t.transactional);
      if (nonTx.length > 0) {
        lockConn = await DbConnection.open(target, { action: 'connect' });
        opened.push(lockConn);
        await lockConn.run(`LOCK TABLES ${nonTx.map((t) => `${quoteIdent(t.name)} READ`).join(', ')}`, [], 'lock tables');
        nonTxLockedAt = now();
        locks.nonTransactionalTables = nonTx.map((t) => t.name).sort();
      }
      await control.run('UNLOCK TABLES', [], 'unlock tables');
      locks.allTablesLockedMs = now() - lockedAt;
    }
  }
  const dumpedAt = new Date().toISOString();
  let binlog: BinlogPosition | undefined;
  if (logBin) {
    const first = workers[0] as DbConnection;
    binlog = mariadb ? await readSnapshotPosition(first, gtid ?? (await readGtid(control, mariadb))) : masterStatus;
  }
  await control.close();

  let released = lockConn === undefined;
  const releaseNonTransactional = async (): Promise<void> => {
    if (released) return;
    released = true;
    await lockConn?.run('UNLOCK TABLES', [], 'unlock tables');
    locks.nonTransactionalLockedMs = now() - nonTxLockedAt;
  };
  return {
    tables, workers, serverVersion, dumpedAt, binlog, locks,
    releaseNonTransactional,
    async close() {
      await releaseNonTransactional();
      await Promise.all(workers.map(async (w) => {
        await w.run('COMMIT', [], 'end snapshot').catch(() => undefined);
        await w.close();
      }));
      await lockConn?.close();
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

async function readGtid(conn: DbConnection, mariadb: boolean): Promise<string | undefined> {
  const rows = await conn.query(mariadb ? 'SELECT @@gtid_binlog_pos AS g' : 'SELECT @@gtid_executed AS g', [], 'read binlog position').catch(() => []);
  const g = scalar(rows);
  return g === undefined || g === '' ? undefined : g;
}

/** MariaDB: the binlog position that matches this connection's consistent snapshot. */
async function readSnapshotPosition(conn: DbConnection, gtid: string | undefined): Promise<BinlogPosition | undefined> {
  const rows = await conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'", [], 'read binlog position');
  const v = new Map(rows.map((r) => [str(r, 'Variable_name').toLowerCase(), str(r, 'Value')]));
  const file = v.get('binlog_snapshot_file');
  const position = Number(v.get('binlog_snapshot_position'));
  if (!file || !Number.isSafeInteger(position)) return undefined;
  return { file, position, ...(gtid !== undefined ? { gtid } : {}) };
}

/** MySQL: SHOW MASTER STATUS under the lock (needs REPLICATION CLIENT). */
async function readMasterStatus(conn: DbConnection, locks: LockStats): Promise<BinlogPosition | undefined> {
  for (const sql of ['SHOW BINARY LOG STATUS', 'SHOW MASTER STATUS']) {
    try {
      const [r] = await conn.query(sql, [], 'read binlog position');
      if (r) return { file: str(r, 'File'), position: Number(str(r, 'Position')), ...(str(r, 'Executed_Gtid_Set') ? { gtid: str(r, 'Executed_Gtid_Set') } : {}) };
      return undefined;
    } catch {
      // try the older spelling, then give up with a warning
    }
  }
  locks.warnings.push('binary log position not recorded (SHOW MASTER STATUS was refused)');
  return undefined;
}
