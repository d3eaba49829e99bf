import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { restore } from '../ops/restore.js';
import { storeInfoFromMeta } from '../opencart/storeSnapshotInfo.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { formatBytes, formatDuration, restoreStatus } from './output.js';
import { EXIT_PARTIAL } from './exitCodes.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface RestoreFlags {
  target?: string;
  include: string[];
  db?: string;
  table: string[];
  force?: boolean;
  filesOnly?: boolean;
  dbOnly?: boolean;
  storageTarget?: string;
}

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore a snapshot: files into a directory, the database into a database')
    .argument('<snapshot>', "snapshot id, unique prefix, or 'latest'")
    .option('--target <dir>', 'where to put the files')
    .option('--include <glob>', 'restore only matching paths (repeatable)', collect, [])
    .option('--db <url>', 'load the database into mysql://user:pass@host:port/db (?socket=/path)')
    .option('--table <name>', 'restore only this table (repeatable)', collect, [])
    .option('--force', 'replace a non-empty database or a live store (a snapshot of what is replaced is taken first)')
    .option('--storage-target <dir>', 'store snapshots: where a storage folder moved outside the store goes (default: its old place when restoring in place, else <target>-storage)')
    .option('--files-only', 'restore only the files')
    .option('--db-only', 'restore only the database')
    .action(async (ref: string, opts: RestoreFlags, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const started = Date.now();
      if (opts.filesOnly && opts.dbOnly) throw new OcvaultError('Usage', '--files-only and --db-only exclude each other');
      const report: Record<string, unknown> = {};
      await withRepository(g, async (repo) => {
        const { id, snapshot } = repo.resolveSnapshot(ref);
        report.id = id;
        if (storeInfoFromMeta(snapshot.meta)) {
          // a store: files to --target, the database into the one its config names (or --db)
          const warnings: string[] = [];
          // store and database restores load their (database) code only when a snapshot needs it
          const { restoreStore } = await import('../ops/storeRestore.js');
          const r = await restoreStore(repo, {
            snapshot: id,
            target: opts.target,
            storageTarget: opts.storageTarget,
            db: opts.db,
            filesOnly: opts.filesOnly,
            dbOnly: opts.dbOnly,
            includes: opts.include,
            tables: opts.table.length ? opts.table : undefined,
            force: opts.force,
            onSafetySnapshot: (sid) => {
              if (!out.json) process.stderr.write(`saved what this restore replaces as snapshot ${sid.slice(0, 8)} (restore that to undo)\n`);
            },
            onProgress: out.progress ? (p, totals) => out.status(restoreStatus(started, p, totals)) : undefined,
            onTable: out.progress ? (t, rows) => out.status(`loaded ${t} (${rows} rows)`) : undefined,
            onWarning: (m) => out.warn(m),
            onUnrestored: (w) => warnings.push(w),
          });
          out.clearStatus();
          Object.assign(report, { store: r.store, safetySnapshot: r.safetySnapshot ?? null });
          for (const w of warnings) out.warn(w);
          if (warnings.length) {
            process.stderr.write(`${warnings.length} entr${warnings.length === 1 ? 'y' : 'ies'} could not be recreated; everything else was restored\n`);
            process.exitCode = EXIT_PARTIAL;
          }
          if (r.files) {
            report.files = { target: r.files.target, storageTarget: r.files.storageTarget ?? null, ...r.files.progress, warnings };
            if (!out.json) out.print(`restored the files of store snapshot ${id.slice(0, 8)} to ${r.files.target}${r.files.storageTarget ? ` (storage to ${r.files.storageTarget})` : ''}: ${r.files.progress.files} files, ${r.files.progress.dirs} dirs, ${r.files.progress.symlinks} links, ${formatBytes(r.files.progress.bytes)}`);
          }
          if (r.database) {
            const l = r.database.load;
            report.database = { target: r.database.target, ...l, checks: l.checks.length, safetySnapshot: r.safetySnapshot ?? null };
            if (!out.json) out.print(`loaded the database of snapshot ${id.slice(0, 8)} into ${r.database.target}: ${l.tables} tables, ${l.rows} rows in ${formatDuration(Math.round(l.durationMs))} (${l.mode}); all ${l.checks.length} table checksums match`);
          }
          return;
        }
        const wantFiles = !opts.dbOnly && snapshot.tree !== undefined;
        const wantDb = !opts.filesOnly && snapshot.database !== undefined && opts.db !== undefined;
        if (wantFiles && !opts.target) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds files: give --target DIR (or --db-only)`);
        if (opts.dbOnly && !snapshot.database) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds no database`);
        if ((opts.dbOnly || (!snapshot.tree && snapshot.database)) && !opts.db) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds a database: give --db URL to load it into`);
        if (!wantFiles && !wantDb) throw new OcvaultError('Usage', 'nothing to restore');
        if (wantFiles) {
          const r = await restore(repo, {
            snapshot: id,
            target: opts.target!,
            includes: opts.include,
            onProgress: out.progress ? (p, totals) => out.status(restoreStatus(started, p, totals)) : undefined,
            onWarning: (m) => out.warn(m),
          });
          out.clearStatus();
          report.files = { target: opts.target, ...r.progress, warnings: r.warnings };
          for (const w of r.warnings) out.warn(w);
          if (!out.json) out.print(`restored the files of snapshot ${id.slice(0, 8)} to ${opts.target}: ${r.progress.files} files, ${r.progress.dirs} dirs, ${r.progress.symlinks} links${r.progress.specials ? `, ${r.progress.specials} FIFOs/devices` : ''}, ${formatBytes(r.progress.bytes)}`);
          if (r.warnings.length) {
            process.stderr.write(`${r.warnings.length} entr${r.warnings.length === 1 ? 'y' : 'ies'} could not be recreated; everything else was restored\n`);
            process.exitCode = EXIT_PARTIAL;
          }
        } else if (snapshot.database && !opts.db && !opts.filesOnly && !out.json) {
          out.print(`snapshot ${id.slice(0, 8)} also holds a database; give --db URL to restore it`);
        }
        if (wantDb) {
          const { restoreDatabase } = await import('../ops/restoreDatabase.js');
          const r = await restoreDatabase(repo, {
            snapshot: id,
            url: opts.db!,
            tables: opts.table.length ? opts.table : undefined,
            force: opts.force,
            onSafetySnapshot: (sid) => {
              if (!out.json) process.stderr.write(`the database was not empty: saved it first as snapshot ${sid.slice(0, 8)} (restore that to undo)\n`);
            },
            onTable: out.progress ? (t, rows) => out.status(`loaded ${t} (${rows} rows)`) : undefined,
          });
          out.clearStatus();
          report.database = { ...r.load, checks: r.load.checks.length, safetySnapshot: r.safetySnapshot ?? null };
          if (!out.json) {
            out.print(
              `loaded the database of snapshot ${id.slice(0, 8)}: ${r.load.tables} tables, ${r.load.rows} rows in ${formatDuration(Math.round(r.load.durationMs))} (${r.load.mode}); ` +
                `all ${r.load.checks.length} table checksums match`,
            );
          }
        }
      });
      if (out.json) out.printJson(report);
    });
}
