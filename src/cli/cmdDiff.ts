import type { Command } from 'commander';
import { diffSnapshots, type SnapshotDiff, type TableDiff } from '../ops/diff.js';
import type { RowChange, ShownRow } from '../ops/diffRows.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { formatBytes } from './output.js';
import { printablePath } from '../sources/files/printable.js';

function signedBytes(n: number): string {
  return `${n < 0 ? '-' : '+'}${formatBytes(Math.abs(n))}`;
}

function showRow(r: ShownRow): string {
  return Object.entries(r).map(([k, v]) => `${k}=${v === null ? 'NULL' : JSON.stringify(v)}`).join(' ');
}

function rowLines(t: TableDiff): string[] {
  const out: string[] = [];
  const key = (c: RowChange): string => `{${showRow(c.key)}}`;
  for (const c of t.rows?.removed ?? []) out.push(`      - ${key(c)} ${showRow(c.row ?? {})}`);
  for (const c of t.rows?.added ?? []) out.push(`      + ${key(c)} ${showRow(c.row ?? {})}`);
  for (const c of t.rows?.changed ?? []) {
    const what = Object.entries(c.changes ?? {}).map(([k, v]) => `${k}: ${v.before === null ? 'NULL' : JSON.stringify(v.before)} → ${v.after === null ? 'NULL' : JSON.stringify(v.after)}`);
    out.push(`      ~ ${key(c)} ${what.join(', ')}`);
  }
  return out;
}

/** The human report of a diff. */
export function formatDiff(d: SnapshotDiff): string[] {
  const lines = [`from snapshot ${d.a.slice(0, 8)} to ${d.b.slice(0, 8)}`];
  const f = d.files;
  lines.push(`files: ${f.added} added, ${f.removed} removed, ${f.changed} changed (${signedBytes(f.sizeDelta)})`);
  for (const c of f.changes) {
    const mark = c.change === 'added' ? '+' : c.change === 'removed' ? '-' : 'M';
    const size = c.type === 'dir' ? 'folder' : c.change === 'changed' ? `${formatBytes(c.sizeBefore ?? 0)} → ${formatBytes(c.size)}` : formatBytes(c.size);
    lines.push(`  ${mark} ${printablePath(c.path)}  (${size}${c.typeBefore ? `, was a ${c.typeBefore}` : ''})`);
  }
  if (d.database) {
    const db = d.database;
    lines.push(`database: ${db.tables.length} table(s) changed, ${db.unchangedTables} unchanged`);
    for (const t of db.tables) {
      if (t.status !== 'changed') {
        lines.push(`  ${t.status === 'added' ? '+' : '-'} ${t.table}: table ${t.status} (${t.status === 'added' ? t.rowsAfter : t.rowsBefore} rows)`);
        continue;
      }
      const parts: string[] = [];
      if (t.comparable === false) parts.push(`key changed: rows not matched (${t.rowsBefore} → ${t.rowsAfter})`);
      else parts.push(`${t.added ?? 0} added, ${t.removed ?? 0} removed, ${t.changed ?? 0} changed (${t.rowsBefore} → ${t.rowsAfter} rows)`);
      if (t.schemaChanged) {
        const cols = [t.columnsAdded?.length ? `columns added: ${t.columnsAdded.join(', ')}` : '', t.columnsRemoved?.length ? `columns removed: ${t.columnsRemoved.join(', ')}` : ''].filter((x) => x);
        parts.push(`definition changed${cols.length ? ` (${cols.join('; ')})` : ''}`);
      }
      lines.push(`  M ${t.table}: ${parts.join('; ')}`);
      lines.push(...rowLines(t));
    }
    for (const o of db.objects) lines.push(`  ${o.status === 'added' ? '+' : o.status === 'removed' ? '-' : 'M'} ${o.kind} ${o.name}`);
  }
  return lines;
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('what changed between two snapshots: files, table rows (by key) and definitions')
    .argument('<snapshotA>', "the earlier snapshot (id, unique prefix, or 'latest')")
    .argument('<snapshotB>', 'the later snapshot')
    .option('--rows', 'show the added, removed and changed rows themselves')
    .action(async (a: string, b: string, opts: { rows?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const d = await withRepository(g, (repo) => diffSnapshots(repo, a, b, { rows: opts.rows === true }));
      if (out.json) out.printJson(d);
      else for (const l of formatDiff(d)) out.print(l);
    });
}
