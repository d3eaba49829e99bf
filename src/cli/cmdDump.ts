import type { Command } from 'commander';
import { dumpSql } from '../ops/dumpSql.js';
import { withRepository, type GlobalOptions } from './context.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];
let stdoutWatched = false;

/** Writes to stdout, waiting when the pipe is full. A reader that went away (`| head`) ends the dump quietly. */
function writeStdout(bytes: Buffer): Promise<void> | void {
  if (!stdoutWatched) {
    stdoutWatched = true;
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
  if (process.stdout.write(bytes)) return;
  return new Promise((resolve) => process.stdout.once('drain', () => resolve()));
}

export function registerDump(program: Command): void {
  program
    .command('dump')
    .description("write a snapshot's database as standard SQL on stdout (loads with the stock mysql/mariadb client)")
    .argument('<snapshot>', "snapshot id, unique prefix, or 'latest'")
    .option('--table <name>', 'only this table (repeatable)', collect, [])
    .option('--database <name>', 'begin with CREATE DATABASE IF NOT EXISTS and USE of this name')
    .option('--drop-tables', 'add DROP TABLE IF EXISTS before each table')
    .action(async (ref: string, opts: { table: string[]; database?: string; dropTables?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      await withRepository(g, (repo) => dumpSql(repo, { snapshot: ref, tables: opts.table.length ? opts.table : undefined, database: opts.database, dropTables: opts.dropTables }, writeStdout));
    });
}
