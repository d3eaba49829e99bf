import type { Repository } from '../repo/repository.js';
import type { DatabaseManifest, TableManifest } from '../sources/mysql/index.js';
import { loadDatabaseManifest } from './databaseSnapshot.js';
import { diffTrees, type FileChange } from './diffFiles.js';
import { diffTableRows, type RowBlobReader, type TableRowDiff } from './diffRows.js';

export interface TableDiff extends Partial<TableRowDiff> {
  table: string;
  status: 'added' | 'removed' | 'changed';
  /** the table definition changed (AUTO_INCREMENT counters aside) */
  schemaChanged: boolean;
  columnsAdded?: string[];
  columnsRemoved?: string[];
  rowsBefore: number;
  rowsAfter: number;
}

export interface ObjectDiff {
  kind: 'view' | 'trigger' | 'routine' | 'event';
  name: string;
  status: 'added' | 'removed' | 'changed';
}

export interface SnapshotDiff {
  a: string;
  b: string;
  files: {
    added: number;
    removed: number;
    changed: number;
    /** bytes after minus bytes before, over the changed paths */
    sizeDelta: number;
    changes: FileChange[];
  };
  database?: {
    tables: TableDiff[];
    objects: ObjectDiff[];
    /** tables whose rows and definition are the same in both (skipped by blob id) */
    unchangedTables: number;
  };
}

export interface DiffOptions {
  /** include the changed rows themselves */
  rows?: boolean;
}

/** A CREATE TABLE without its AUTO_INCREMENT counter, which moves with every insert. */
export function normalizeCreate(sql: string): string {
  return sql.replace(/\s+AUTO_INCREMENT=\d+/i, '');
}

function repoReader(repo: Repository): RowBlobReader {
  return { length: (id) => repo.locate(id).rawLength, load: (id) => repo.loadBlob(id) };
}

async function diffTable(reader: RowBlobReader, a: TableManifest | undefined, b: TableManifest | undefined, rows: boolean): Promise<TableDiff | undefined> {
  if (!a) return { table: b!.name, status: 'added', schemaChanged: true, rowsBefore: 0, rowsAfter: b!.rowCount, added: b!.rowCount, removed: 0, changed: 0 };
  if (!b) return { table: a.name, status: 'removed', schemaChanged: true, rowsBefore: a.rowCount, rowsAfter: 0, added: 0, removed: a.rowCount, changed: 0 };
  const schemaChanged = normalizeCreate(a.createStatement) !== normalizeCreate(b.createStatement);
  const sameRows = a.rowData.length === b.rowData.length && a.rowData.every((id, i) => id === b.rowData[i]) && a.checksum === b.checksum;
  const namesA = a.columns.map((c) => c.name);
  const namesB = b.columns.map((c) => c.name);
  const columns = schemaChanged ? { columnsAdded: namesB.filter((n) => !namesA.includes(n)), columnsRemoved: namesA.filter((n) => !namesB.includes(n)) } : {};
  if (sameRows && !schemaChanged) return undefined;
  const base = { table: a.name, status: 'changed' as const, schemaChanged, ...columns, rowsBefore: a.rowCount, rowsAfter: b.rowCount };
  if (sameRows && namesA.join('\0') === namesB.join('\0')) return { ...base, added: 0, removed: 0, changed: 0, comparable: true, skippedBlobs: a.rowData.length };
  const r = await diffTableRows(reader, a, b, rows);
  if (!schemaChanged && r.added === 0 && r.removed === 0 && r.changed === 0) return undefined;
  return { ...base, ...r };
}

function diffObjects(a: DatabaseManifest | undefined, b: DatabaseManifest | undefined): ObjectDiff[] {
  const out: ObjectDiff[] = [];
  const kinds = [['view', 'views'], ['trigger', 'triggers'], ['routine', 'routines'], ['event', 'events']] as const;
  for (const [kind, field] of kinds) {
    const x = new Map<string, string>((a?.[field] ?? []).map((o: { name: string; createStatement: string }) => [o.name, o.createStatement]));
    const y = new Map<string, string>((b?.[field] ?? []).map((o: { name: string; createStatement: string }) => [o.name, o.createStatement]));
    for (const [name, sql] of x) {
      if (!y.has(name)) out.push({ kind, name, status: 'removed' });
      else if (y.get(name) !== sql) out.push({ kind, name, status: 'changed' });
    }
    for (const name of y.keys()) if (!x.has(name)) out.push({ kind, name, status: 'added' });
  }
  return out;
}

/**
 * What changed from snapshot A to snapshot B: files added, removed and changed (with sizes);
 * per table, rows added, removed and changed by key, and definition changes; views,
 * triggers, routines and events. Identical subtrees, files and row blobs are skipped by id.
 */
export async function diffSnapshots(repo: Repository, refA: string, refB: string, opts: DiffOptions = {}): Promise<SnapshotDiff> {
  const A = repo.resolveSnapshot(refA);
  const B = repo.resolveSnapshot(refB);
  await repo.lockShared();
  repo.startWorkers();
  const changes = await diffTrees(repo, A.snapshot.tree, B.snapshot.tree);
  const files = {
    added: changes.filter((c) => c.change === 'added').length,
    removed: changes.filter((c) => c.change === 'removed').length,
    changed: changes.filter((c) => c.change === 'changed').length,
    sizeDelta: changes.reduce((n, c) => n + (c.change === 'removed' ? -c.size : c.size - (c.sizeBefore ?? 0)), 0),
    changes,
  };
  const result: SnapshotDiff = { a: A.id, b: B.id, files };
  if (!A.snapshot.database && !B.snapshot.database) return result;
  const [ma, mb] = await Promise.all([
    A.snapshot.database ? loadDatabaseManifest(repo, A.snapshot.database) : undefined,
    B.snapshot.database ? loadDatabaseManifest(repo, B.snapshot.database) : undefined,
  ]);
  const reader = repoReader(repo);
  const ta = new Map((ma?.tables ?? []).map((t) => [t.name, t]));
  const tb = new Map((mb?.tables ?? []).map((t) => [t.name, t]));
  const names = [...new Set([...ta.keys(), ...tb.keys()])].sort();
  const tables: TableDiff[] = [];
  for (const n of names) {
    const d = await diffTable(reader, ta.get(n), tb.get(n), opts.rows === true);
    if (d) tables.push(d);
  }
  result.database = { tables, objects: diffObjects(ma, mb), unchangedTables: names.length - tables.length };
  return result;
}
