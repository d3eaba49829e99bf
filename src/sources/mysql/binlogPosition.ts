import { scalar, str, type DbConnection } from './dbConnection.js';
import type { BinlogPosition, LockStats } from './manifest.js';

/**
 * The binary log position of a dump, for point-in-time recovery: replay the binlog from
 * there. MariaDB reports the position of a consistent snapshot itself (no privilege
 * needed); MySQL needs SHOW MASTER STATUS while writes are locked out.
 */

/** @@gtid_binlog_pos (MariaDB) or @@gtid_executed (MySQL); read while the tables are locked. */
export async function readGtid(conn: DbConnection, mariadb: boolean): Promise<string | undefined> {
  const rows = await conn.query(mariadb ? 'SELECT @@gtid_binlog_pos AS g' : 'SELECT @@gtid_executed AS g', [], 'read binlog position').catch(() => []);
  const g = scalar(rows);
  return g === undefined || g === '' ? undefined : g;
}

/** MariaDB: the binlog position that matches this connection's consistent snapshot. */
export async function readSnapshotPosition(conn: DbConnection, gtid: string | undefined): Promise<BinlogPosition | undefined> {
  const rows = await conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'", [], 'read binlog position');
  const v = new Map(rows.map((r) => [str(r, 'Variable_name').toLowerCase(), str(r, 'Value')]));
  const file = v.get('binlog_snapshot_file');
  const position = Number(v.get('binlog_snapshot_position'));
  if (!file || !Number.isSafeInteger(position)) return undefined;
  return { file, position, ...(gtid !== undefined ? { gtid } : {}) };
}

/** MySQL: SHOW MASTER STATUS under the lock (needs REPLICATION CLIENT). */
export async function readMasterStatus(conn: DbConnection, locks: LockStats): Promise<BinlogPosition | undefined> {
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
