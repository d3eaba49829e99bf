import { OcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget } from './connectionUrl.js';
import { str, type DbConnection } from './dbConnection.js';

/** A base table to dump, as listed before the snapshot. */
export interface TablePlan {
  name: string;
  engine: string;
  /** InnoDB: read from the consistent snapshot; others: read under a read lock */
  transactional: boolean;
  /** data + index bytes the server reports (an estimate, for scheduling) */
  estimatedBytes: number;
}

const TRANSACTIONAL_ENGINES = new Set(['innodb', 'xtradb', 'rocksdb', 'tokudb']);

export function isTransactionalEngine(engine: string): boolean {
  return TRANSACTIONAL_ENGINES.has(engine.toLowerCase());
}

/**
 * Lists the base tables of the connection's database (only `only`, when given), in dump
 * order: non-transactional tables first (their read lock is released as soon as they are
 * done), then the largest first (so parallel workers finish together).
 */
export async function listTables(conn: DbConnection, only?: readonly string[]): Promise<TablePlan[]> {
  const rows = await conn.query(
    'SELECT TABLE_NAME AS n, TABLE_TYPE AS t, ENGINE AS e, COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS b ' +
      'FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()', [], 'list tables');
  const wanted = only ? new Set(only) : undefined;
  const plans: TablePlan[] = [];
  for (const r of rows) {
    const name = str(r, 'n');
    const type = str(r, 't');
    if (wanted && !wanted.has(name)) continue;
    if (type === 'VIEW' || type === 'SYSTEM VIEW') continue;
    if (type !== 'BASE TABLE') {
      throw new OcvaultError('DatabaseError', `${type.toLowerCase()} \`${name}\` in ${describeTarget(conn.target)} cannot be backed up (not a base table or view)`, { database: conn.target.database, table: name });
    }
    const engine = str(r, 'e');
    plans.push({ name, engine, transactional: isTransactionalEngine(engine), estimatedBytes: Number(str(r, 'b')) || 0 });
  }
  if (wanted) {
    const found = new Set(plans.map((p) => p.name));
    const missing = [...wanted].filter((n) => !found.has(n));
    if (missing.length > 0) {
      throw new OcvaultError('DatabaseError', `table ${missing.map((n) => `\`${n}\``).join(', ')} not found in ${describeTarget(conn.target)}`, { database: conn.target.database, table: missing[0] });
    }
  }
  return plans.sort((a, b) => Number(a.transactional) - Number(b.transactional) || b.estimatedBytes - a.estimatedBytes || (a.name < b.name ? -1 : 1));
}
