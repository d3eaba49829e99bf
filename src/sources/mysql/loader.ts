import { OcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget, parseConnectionUrl, type ConnectionTarget } from './connectionUrl.js';
import { createEvents, createRoutines, createTriggers, createViews, type DefinerPolicy } from './createObjects.js';
import { DbConnection, scalar, str } from './dbConnection.js';
import { quoteIdent } from './identifiers.js';
import { createTableForLoad, finishTableLoad, loadRows, type LoadMode } from './loadTable.js';
import { rowPart } from './rowParts.js';
import { isTransactionalEngine } from './tablePlan.js';
import type { DatabaseManifest, TableManifest } from './manifest.js';
import { checkResults, checkTable, type TableCheck } from './verify.js';

/** The row stream of one table (the bytes the dump produced, in order), from its chunk `from` (default 0). */
export type RowSource = (table: TableManifest, from?: number) => AsyncIterable<Buffer>;

/**
 * A transactional table with at least this many row bytes per part loads in parts over all
 * connections at once: the biggest table otherwise is the whole critical path (the bench's
 * oc_order, 61 % of the rows, alone in one LOAD DATA while the other connection idles).
 */
const PART_BYTES = 8 * 1024 * 1024;

/** One LOAD DATA's worth of work: a table, or one part of a big one. */
interface LoadItem {
  table: TableManifest;
  part: number;
  parts: number;
}

/** How the parts of one table are getting on. */
interface TableProgress {
  created?: Promise<void>;
  partsLeft: number;
  loaded: number;
}

/** The load items, biggest first: big transactional tables split into `parallel` parts. */
export function loadItems(tables: readonly TableManifest[], parallel: number, partBytes = PART_BYTES): LoadItem[] {
  const items: LoadItem[] = [];
  for (const table of tables) {
    const splittable = parallel > 1 && isTransactionalEngine(table.engine) && table.rowData.length >= parallel;
    const parts = splittable ? Math.max(1, Math.min(parallel, Math.floor(table.rowBytes / partBytes))) : 1;
    for (let part = 0; part < parts; part++) items.push({ table, part, parts });
  }
  return items.sort((a, b) => b.table.rowBytes / b.parts - a.table.rowBytes / a.parts);
}

export interface LoadOptions {
  /**
   * Load into a database that is not empty. Without `tables`, everything in it is dropped
   * first so it ends up equal to the snapshot; with `tables`, only those tables are replaced.
   * (The caller takes the safety snapshot before.)
   */
  force?: boolean;
  /** only these tables and their triggers (default: the whole database) */
  tables?: readonly string[];
  /**
   * connections loading at once (default 3: on the 2-core bench machine a third connection
   * keeps the server busy while the others wait on their client; restore 9.8-10.0 s with 2,
   * 8.1-9.0 s with 3, the same with 4)
   */
  parallel?: number;
  /** a transactional table loads in parts over all connections from this many row bytes a part (default 8 MiB) */
  partBytes?: number;
  /** see DefinerPolicy (default `auto`) */
  definers?: DefinerPolicy;
  /** read every table back and compare its checksum with the manifest (default true) */
  verify?: boolean;
  /** force INSERT statements instead of LOAD DATA LOCAL INFILE (default: LOAD DATA when the server allows it) */
  mode?: LoadMode;
  onTable?: (table: string, rows: number) => void;
}

export interface LoadResult {
  tables: number;
  rows: number;
  views: number;
  triggers: number;
  routines: number;
  events: number;
  mode: LoadMode;
  /** objects dropped first (force) */
  dropped: number;
  durationMs: number;
  /** every table read back and compared with the manifest (empty with verify: false) */
  checks: TableCheck[];
}

interface Existing {
  tables: string[];
  views: string[];
  routines: Array<{ name: string; type: string }>;
  events: string[];
}

async function readExisting(conn: DbConnection): Promise<Existing> {
  const rows = await conn.query('SELECT TABLE_NAME AS n, TABLE_TYPE AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()', [], 'inspect target');
  const routines = await conn.query('SELECT ROUTINE_NAME AS n, ROUTINE_TYPE AS t FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()', [], 'inspect target');
  const events = await conn.query('SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()', [], 'inspect target');
  return {
    tables: rows.filter((r) => str(r, 't') !== 'VIEW').map((r) => str(r, 'n')),
    views: rows.filter((r) => str(r, 't') === 'VIEW').map((r) => str(r, 'n')),
    routines: routines.map((r) => ({ name: str(r, 'n'), type: str(r, 't') })),
    events: events.map((r) => str(r, 'n')),
  };
}

/**
 * Loads a database from its manifest and row streams: creates the database if needed, the
 * tables (keys and checks off, rows through LOAD DATA LOCAL INFILE; each table read back and
 * its checksum compared with the manifest as soon as it is loaded), then routines, views,
 * triggers and events. A checksum mismatch is a DatabaseError naming the table(s). Refuses a non-empty target
 * (TargetNotEmpty) unless `force`.
 */
export async function loadDatabase(target: ConnectionTarget | string, manifest: DatabaseManifest, rows: RowSource, options: LoadOptions = {}): Promise<LoadResult> {
  const t = typeof target === 'string' ? parseConnectionUrl(target) : target;
  const started = performance.now();
  const wanted = options.tables ? new Set(options.tables) : undefined;
  if (wanted) {
    const missing = [...wanted].filter((n) => !manifest.tables.some((x) => x.name === n));
    if (missing.length > 0) throw new OcvaultError('Usage', `table ${missing.map((n) => `\`${n}\``).join(', ')} is not in the snapshot of database "${manifest.database}"`, { table: missing[0] });
  }
  const tables = manifest.tables.filter((x) => !wanted || wanted.has(x.name));
  const whole = wanted === undefined;
  const views = whole ? manifest.views : [];
  const routines = whole ? manifest.routines : [];
  const events = whole ? manifest.events : [];
  const triggers = manifest.triggers.filter((x) => whole || wanted.has(x.table));
  const policy = options.definers ?? 'auto';

  const admin = await DbConnection.open(t, { action: 'connect', noDatabase: true });
  let dropped = 0;
  let mode: LoadMode = options.mode ?? 'load-data';
  const conns: DbConnection[] = [];
  let verifiedChecks: TableCheck[] = [];
  try {
    const charset = manifest.charset ? ` CHARACTER SET ${manifest.charset}${manifest.collation ? ` COLLATE ${manifest.collation}` : ''}` : '';
    await admin.run(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(t.database)}${charset}`, [], 'create database');
    await admin.run(`USE ${quoteIdent(t.database)}`, [], 'create database');
    const existing = await readExisting(admin);
    dropped = await clearTarget(admin, t, existing, tables, options.force === true, whole);
    if (whole && charset !== '') await admin.run(`ALTER DATABASE ${quoteIdent(t.database)}${charset}`, [], 'create database');
    if (mode === 'load-data' && scalar(await admin.query('SELECT @@local_infile', [], 'load')) !== '1') mode = 'insert';
    const maxPacket = Number(scalar(await admin.query('SELECT @@max_allowed_packet', [], 'load'))) || 4 << 20;
    const maxStatementBytes = Math.max(64 << 10, Math.min(4 << 20, Math.floor(maxPacket / 4)));

    const n = Math.max(1, Math.floor(options.parallel ?? 3));
    const queue = loadItems(tables, n, options.partBytes);
    const connections = Math.max(1, Math.min(n, queue.length));
    for (let i = 0; i < connections; i++) {
      const c = await DbConnection.open(t, { action: 'load', localFiles: mode === 'load-data' });
      conns.push(c);
      await c.run('SET SESSION foreign_key_checks = 0, unique_checks = 0', [], 'load');
    }
    let firstError: unknown;
    const checks: TableCheck[] = [];
    const progress = new Map<string, TableProgress>();
    await Promise.all(conns.map(async (conn) => {
      for (let item = queue.shift(); item !== undefined && firstError === undefined; item = queue.shift()) {
        const { table } = item;
        let p = progress.get(table.name);
        if (!p) progress.set(table.name, (p = { partsLeft: item.parts, loaded: 0 }));
        try {
          // the first part to start creates the table; the others wait for it
          p.created ??= createTableForLoad(conn, table);
          await p.created;
          const lines = (): AsyncIterable<Buffer> => (item.parts === 1 ? rows(table) : rowPart((from) => rows(table, from), table.rowData.length, item.part, item.parts));
          const loaded = await loadRows(conn, table, lines, mode, maxStatementBytes);
          p.loaded += loaded; // not `+= await`: that would add to the count read before the wait
          if (--p.partsLeft > 0) continue;
          await finishTableLoad(conn, table, p.loaded);
          // verified right away, while the other connections still load: hides most of its time
          if (options.verify !== false) checks.push(await checkTable(conn, table));
        } catch (e) {
          if (firstError === undefined) {
            firstError = e;
            for (const other of conns) if (other !== conn) other.destroy(); // stop the other loads now
          }
          return;
        }
        options.onTable?.(table.name, table.rowCount);
      }
    }));
    if (firstError !== undefined) throw firstError;
    verifiedChecks = options.verify === false ? [] : checkResults(t, tables, checks);
    await createRoutines(admin, routines, policy);
    await createViews(admin, views, policy);
    await createTriggers(admin, triggers, policy);
    await createEvents(admin, events, policy);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await admin.close();
  }
  return {
    tables: tables.length, rows: tables.reduce((s, x) => s + x.rowCount, 0),
    views: views.length, triggers: triggers.length, routines: routines.length, events: events.length,
    mode, dropped, durationMs: performance.now() - started, checks: verifiedChecks,
  };
}

/** Refuses a non-empty target, or (force) drops what the load replaces. Returns objects dropped. */
async function clearTarget(conn: DbConnection, t: ConnectionTarget, existing: Existing, tables: TableManifest[], force: boolean, whole: boolean): Promise<number> {
  const loading = new Set(tables.map((x) => x.name));
  const conflicts = whole
    ? [...existing.tables, ...existing.views, ...existing.routines.map((r) => r.name), ...existing.events]
    : [...existing.tables, ...existing.views].filter((n) => loading.has(n));
  if (conflicts.length === 0) return 0;
  if (!force) {
    const what = whole ? `is not empty (${conflicts.length} objects, e.g. \`${conflicts[0]}\`)` : `already has table ${conflicts.map((n) => `\`${n}\``).join(', ')}`;
    throw new OcvaultError('TargetNotEmpty', `${describeTarget(t)} ${what}; restore into an empty database or use --force`, { database: t.database, objects: conflicts.length });
  }
  await conn.run('SET SESSION foreign_key_checks = 0', [], 'clear target');
  const views = whole ? existing.views : existing.views.filter((n) => loading.has(n));
  const baseTables = whole ? existing.tables : existing.tables.filter((n) => loading.has(n));
  for (const v of views) await conn.run(`DROP VIEW IF EXISTS ${quoteIdent(v)}`, [], 'clear target');
  for (const x of baseTables) await conn.run(`DROP TABLE IF EXISTS ${quoteIdent(x)}`, [], 'clear target', x);
  if (whole) {
    for (const r of existing.routines) await conn.run(`DROP ${r.type === 'FUNCTION' ? 'FUNCTION' : 'PROCEDURE'} IF EXISTS ${quoteIdent(r.name)}`, [], 'clear target');
    for (const e of existing.events) await conn.run(`DROP EVENT IF EXISTS ${quoteIdent(e)}`, [], 'clear target');
  }
  await conn.run('SET SESSION foreign_key_checks = 1', [], 'clear target');
  return views.length + baseTables.length + (whole ? existing.routines.length + existing.events.length : 0);
}
