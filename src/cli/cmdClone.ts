import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { cloneStore } from '../ops/clone.js';
import { withRepository, output, type GlobalOptions } from './context.js';
import { EXIT_PARTIAL } from './exitCodes.js';
import { formatBytes, formatDuration, restoreStatus } from './output.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface CloneFlags {
  to: string;
  db: string;
  url: string;
  storage?: string;
  mail: boolean;
  maintenance?: boolean;
  storeUrl: string[];
  dbParallel?: number;
}

function parseStoreUrls(list: string[]): Record<number, string> {
  const out: Record<number, string> = {};
  for (const item of list) {
    const m = /^(\d+)=(.+)$/.exec(item);
    if (!m) throw new OcvaultError('Usage', `--store-url ${item}: expected STORE_ID=URL, e.g. 1=https://shop2.staging.example.com/`);
    out[Number(m[1])] = m[2]!;
  }
  return out;
}

export function registerClone(program: Command): void {
  program
    .command('clone')
    .description('make a staging copy of a store snapshot: new folder, new database, new URL (the source is never written to)')
    .argument('<snapshot>', "a store snapshot: id, unique prefix, or 'latest'")
    .requiredOption('--to <dir>', 'the staging copy\'s folder (new or empty)')
    .requiredOption('--db <url>', 'the staging database: mysql://user:pass@host:port/db (new or empty)')
    .requiredOption('--url <url>', 'the staging copy\'s URL, e.g. https://staging.example.com/')
    .option('--storage <dir>', 'where a storage folder moved outside the store goes (default: <to>-storage)')
    .option('--no-mail', 'switch the copy\'s mail off')
    .option('--maintenance', 'turn maintenance mode on in the copy')
    .option('--store-url <id=url>', 'URL of extra store ID in the copy (repeatable; default https://storeID.<staging host>/)', collect, [])
    .option('--db-parallel <n>', 'connections loading tables at once', (v) => Number.parseInt(v, 10))
    .action(async (ref: string, opts: CloneFlags, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const started = Date.now();
      const storeUrls = parseStoreUrls(opts.storeUrl);
      const warnings: string[] = [];
      const r = await withRepository(g, (repo) =>
        cloneStore(repo, {
          snapshot: ref,
          to: opts.to,
          db: opts.db,
          url: opts.url,
          ...(opts.storage ? { storage: opts.storage } : {}),
          noMail: opts.mail === false,
          maintenance: opts.maintenance === true,
          storeUrls,
          parallel: opts.dbParallel,
          onProgress: out.progress ? (p, totals) => out.status(restoreStatus(started, p, totals)) : undefined,
          onTable: out.progress ? (t, rows) => out.status(`loaded ${t} (${rows} rows)`) : undefined,
          onUnrestored: (w) => warnings.push(w),
        }),
      );
      out.clearStatus();
      for (const w of warnings) out.warn(w);
      if (warnings.length) {
        if (!out.json) process.stderr.write(`${warnings.length} entr${warnings.length === 1 ? 'y' : 'ies'} could not be recreated; everything else was copied\n`);
        process.exitCode = EXIT_PARTIAL;
      }
      if (out.json) {
        out.printJson({ ...r, load: { ...r.load, checks: r.load.checks.length }, warnings });
        return;
      }
      out.print(`cloned store "${r.store}" from snapshot ${r.id.slice(0, 8)}`);
      out.print(`  files:    ${r.root}${r.storage ? ` (storage ${r.storage})` : ''}: ${r.files.files} files, ${formatBytes(r.files.bytes)}`);
      out.print(`  database: ${r.database}: ${r.load.tables} tables, ${r.load.rows} rows in ${formatDuration(Math.round(r.load.durationMs))}, checksums match`);
      out.print(`  url:      ${r.url}${r.adminUrl ? ` (admin ${r.adminUrl})` : ''}`);
      for (const s of r.stores) out.print(`  store ${s.id}:  ${s.url}`);
      for (const n of r.notes) out.warn(n);
      out.print(`  rewrote ${r.configs.join(', ')}; emptied ${r.emptied.length} cache/session folder(s); sessions truncated${opts.mail === false ? '; mail off' : ''}${opts.maintenance ? '; maintenance on' : ''}`);
    });
}
