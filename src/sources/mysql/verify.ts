import { OcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget, parseConnectionUrl, type ConnectionTarget } from './connectionUrl.js';
import { DbConnection } from './dbConnection.js';
import type { DatabaseManifest, TableManifest } from './manifest.js';
import { streamTableRows } from './tableRows.js';

export interface TableCheck {
  name: string;
  rows: number;
  checksum: string;
  ok: boolean;
}

export interface VerifyOptions {
  /** only these tables (default: all of the manifest) */
  tables?: readonly string[];
  /** connections reading at once (default 2) */
  parallel?: number;
}

/**
 * Reads every table back in the manifest's key order, through the same row encoder the dump
 * used, and compares row count and checksum with the manifest. A mismatch throws a
 * DatabaseError naming the table(s); otherwise the per-table results are returned.
 */
export async function verifyTables(target: ConnectionTarget | string, manifest: Pick<DatabaseManifest, 'tables'>, options: VerifyOptions = {}): Promise<TableCheck[]> {
  const t = typeof target === 'string' ? parseConnectionUrl(target) : target;
  const wanted = options.tables ? new Set(options.tables) : undefined;
  const queue = manifest.tables.filter((x) => !wanted || wanted.has(x.name)).sort((a, b) => b.rowBytes - a.rowBytes);
  const results: TableCheck[] = [];
  const n = Math.max(1, Math.min(options.parallel ?? 2, queue.length));
  const conns: DbConnection[] = [];
  try {
    for (let i = 0; i < n; i++) conns.push(await DbConnection.open(t, { action: 'verify' }));
    await Promise.all(conns.map(async (conn) => {
      for (let table = queue.shift(); table !== undefined; table = queue.shift()) results.push(await checkTable(conn, table));
    }));
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
  return checkResults(t, manifest.tables, results);
}

/** Sorts the checks by table; throws the DatabaseError naming every table that differs. */
export function checkResults(t: ConnectionTarget, tables: readonly TableManifest[], results: TableCheck[]): TableCheck[] {
  results.sort((a, b) => (a.name < b.name ? -1 : 1));
  const bad = results.filter((r) => !r.ok);
  if (bad.length > 0) {
    const first = tables.find((x) => x.name === bad[0]?.name) as TableManifest;
    const detail = bad.length === 1 && bad[0] ? ` (${bad[0].rows} rows read back, ${first.rowCount} in the snapshot${bad[0].rows === first.rowCount ? ', contents differ' : ''})` : '';
    throw new OcvaultError('DatabaseError', `restored ${describeTarget(t)} does not match the snapshot: table ${bad.map((b) => `\`${b.name}\``).join(', ')} differs${detail}`, { database: t.database, table: bad[0]?.name, tables: bad.length });
  }
  return results;
}

/** Reads one table back and compares it with its manifest. */
export async function checkTable(conn: DbConnection, table: TableManifest): Promise<TableCheck> {
  const r = await streamTableRows(conn, table.name, table, () => undefined, 1 << 20, 'verify');
  return { name: table.name, rows: r.rows, checksum: r.checksum, ok: r.rows === table.rowCount && r.checksum === table.checksum };
}
