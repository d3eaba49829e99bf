import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { backup, BackupAhead, backupWhileUnlocking, type BackupOptions } from '../ops/backup.js';
import { backupDetectedStore, type StorePlan } from '../ops/storeBackup.js';
import { detectStore } from '../opencart/detectStore.js';
import type { SnapshotKind } from '../repo/snapshot.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { formatBytes, formatDuration, progressParts } from './output.js';
import { EXIT_PARTIAL } from './exitCodes.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('back up files and directories into a new snapshot (a single OpenCart store folder: its files, storage and database)')
    .argument('[paths...]', 'files and directories to save')
    .option('--type <kind>', 'incremental (default), differential or full', 'incremental')
    .option('--tag <tag>', 'tag the snapshot (repeatable)', collect, [])
    .option('--exclude <glob>', 'leave out matching paths (repeatable)', collect, [])
    .option('--time <iso>', 'record this time instead of now')
    .option('--host <name>', 'record this host name')
    .option('--db <url>', 'also dump this database: mysql://user:pass@host:port/db (?socket=/path)')
    .option('--db-schema-only <table>', 'save this table without its rows (repeatable)', collect, [])
    .option('--db-parallel <n>', 'connections dumping tables at once', (v) => Number.parseInt(v, 10))
    .option('--no-default-excludes', 'store backups: keep the caches, logs and sessions the store rebuilds itself')
    .option('--skip-volatile', 'store backups: save session-type tables without their rows')
    .option('--files-only', 'store backups: save the files only, not the database')
    .action(async (paths: string[], opts: { type: string; tag: string[]; exclude: string[]; time?: string; host?: string; db?: string; dbSchemaOnly: string[]; dbParallel?: number; defaultExcludes: boolean; skipVolatile?: boolean; filesOnly?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      if (!['incremental', 'differential', 'full'].includes(opts.type)) throw new OcvaultError('Usage', `--type must be incremental, differential or full, not ${opts.type}`);
      const time = opts.time ? new Date(opts.time) : undefined;
      if (time && Number.isNaN(time.getTime())) throw new OcvaultError('Usage', `--time ${opts.time} is not a date`);
      const started = Date.now();
      // one folder holding an OpenCart store: its files, moved storage and database in one snapshot
      const store = paths.length === 1 ? await detectStore(paths[0]!) : undefined;
      // a store's paths and excludes are known once its plan is made, which needs its database
      const ahead = !store && opts.type === 'incremental' ? new BackupAhead(paths, opts.exclude) : undefined;
      const run = (repo: Parameters<typeof backup>[0], common: Omit<BackupOptions, 'paths' | 'database'>): Promise<Awaited<ReturnType<typeof backup>> & { plan?: StorePlan }> =>
        store
          ? backupDetectedStore(repo, store, { ...common, defaultExcludes: opts.defaultExcludes, skipVolatile: opts.skipVolatile, filesOnly: opts.filesOnly, databaseUrl: opts.db, schemaOnly: opts.dbSchemaOnly, parallel: opts.dbParallel })
          : backup(repo, { ...common, paths, database: opts.db ? { url: opts.db, schemaOnly: opts.dbSchemaOnly, parallel: opts.dbParallel } : undefined, ahead });
      const result = await withRepository(g, (repo) =>
        run(repo, {
          onDatabase: (d) => {
            if (!out.json && !out.quiet) {
              process.stderr.write(
                `database ${d.database}: ${d.tables} tables, ${d.rows} rows, ${formatBytes(d.rowBytes)} dumped in ${formatDuration(d.durationMs)}; ` +
                  `consistency by ${d.lockStrategy}${d.lockedMs ? `, tables read-locked for ${formatDuration(d.lockedMs)}` : ', no table locked'}` +
                  `${d.binlog ? `; binlog ${d.binlog.file}:${d.binlog.position}${d.binlog.gtid ? ` gtid ${d.binlog.gtid}` : ''}` : ''}\n`,
              );
            }
          },
          kind: opts.type as SnapshotKind,
          tags: opts.tag,
          excludes: opts.exclude,
          time,
          host: opts.host,
          onWarning: (m) => out.warn(m),
          onNote: (m) => {
            if (!out.quiet) process.stderr.write(`note: ${m}\n`);
          },
          onProgress: out.progress
            ? (p, totals) => {
                const s = progressParts(started, p, totals);
                out.status(`${s.done}${s.of}, ${s.rate}, ${formatBytes(p.addedBytes)} added${p.errors ? `, ${p.errors} errors` : ''}${s.eta}`);
              }
            : undefined,
        }),
        ahead?.whileUnlocking ?? backupWhileUnlocking,
      );
      out.clearStatus();
      const s = result.snapshot;
      const info = result.plan?.info;
      if (out.json) {
        out.printJson({ id: result.id, shortId: result.id.slice(0, 8), kind: s.kind, parent: s.parent ?? null, time: s.time, paths: s.paths, tags: s.tags, stats: s.stats, database: s.databaseStats ?? null, warnings: result.warnings, notes: result.notes, ...(info ? { store: info, excludes: result.plan!.options.excludes } : {}) });
      } else {
        if (info) out.print(`store "${info.store}": OpenCart ${info.version || info.family}, admin ${info.admin ? `${info.admin}/` : 'not found'}${info.layout === 'split' ? `, storage ${info.storage} (outside the store)` : ''}, tables ${info.dbPrefix}*`);
        out.print(
          `snapshot ${result.id.slice(0, 8)} saved (${s.kind}${s.parent ? `, parent ${s.parent.slice(0, 8)}` : ''}): ` +
            `${s.stats.files} files (${s.stats.newFiles} new, ${s.stats.changedFiles} changed, ${s.stats.unchangedFiles} unchanged), ` +
            `${formatBytes(s.stats.bytes)}, added ${formatBytes(s.stats.addedBytes)} in ${formatDuration(s.stats.durationMs)}`,
        );
      }
      if (result.warnings.length) {
        process.stderr.write(`${result.warnings.length} file(s) could not be read completely; the snapshot holds everything else\n`);
        process.exitCode = EXIT_PARTIAL;
      }
    });
}
