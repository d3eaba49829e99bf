import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { check, type CheckReport } from '../ops/check.js';
import { restoreDrill, type DrillReport } from '../ops/restoreDrill.js';
import { databaseDrill } from '../ops/databaseDrill.js';
import { parseReadDataSubset } from '../ops/verifyPack.js';
import { output, type GlobalOptions } from './context.js';
import { withTolerantRepository } from './tolerantRepository.js';
import { formatBytes, formatDuration, type Output } from './output.js';

interface CheckFlags {
  readData?: boolean;
  readDataSubset?: string;
  restore?: string | boolean;
  db?: string;
  tmpDir?: string;
  keepRestored?: boolean;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('verify the repository: index, packs, snapshots and trees; --read-data reads every blob; --restore runs a restore drill')
    .option('--read-data', 'read every pack and verify every blob')
    .option('--read-data-subset <subset>', 'read part of the packs: N/M (part N of M, stable) or P% (random)')
    .option('--restore [snapshot]', "restore drill: restore a snapshot (default 'latest') into a temporary place and compare it with the snapshot")
    .option('--db <url>', 'with --restore: the server for the temporary database (mysql://user:pass@host:port)')
    .option('--tmp-dir <dir>', 'with --restore: where the temporary restore goes (default: the system temp directory)')
    .option('--keep-restored', 'with --restore: leave the restored files in place')
    .action(async (flags: CheckFlags, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      if (flags.readData && flags.readDataSubset) throw new OcvaultError('Usage', 'give either --read-data or --read-data-subset');
      if (flags.restore !== undefined) {
        if (flags.readData || flags.readDataSubset) throw new OcvaultError('Usage', '--restore runs a restore drill; run --read-data separately');
        const ref = typeof flags.restore === 'string' ? flags.restore : 'latest';
        const report = await withTolerantRepository(g, (repo) =>
          restoreDrill(repo, {
            snapshot: ref,
            tmpDir: flags.tmpDir,
            keep: flags.keepRestored,
            databaseUrl: flags.db,
            databaseDrill,
            onProgress: out.progress ? (step, message) => out.status(`${step}: ${message}`) : undefined,
          }),
        );
        out.clearStatus();
        if (out.json) out.printJson(report);
        else printDrill(out, report);
        if (!report.passed) process.exitCode = 1;
        return;
      }
      const readData = flags.readData ? { all: true as const } : flags.readDataSubset ? parseReadDataSubset(flags.readDataSubset) : undefined;
      const report = await withTolerantRepository(g, (repo, backend) =>
        check(repo, {
          readData,
          backend,
          onProgress: out.progress ? (phase, d, t) => out.status(`${phase} ${d}${t ? `/${t}` : ''}`) : undefined,
        }),
      );
      out.clearStatus();
      if (out.json) out.printJson(report);
      else printCheck(out, report);
      if (!report.ok) process.exitCode = 1;
    });
}

const SHOWN_FILES = 20;

function printCheck(out: Output, r: CheckReport): void {
  out.print(`checked ${r.segments} index segment(s), ${r.packs} pack(s), ${r.blobs} blob(s), ${r.snapshots} snapshot(s) (${r.referencedBlobs} blobs referenced)`);
  if (r.readData) out.print(`read ${r.readData.packs} of ${r.readData.of} pack(s) (subset ${r.readData.subset}, ${formatBytes(r.readData.bytes)})`);
  for (const e of r.errors) out.print(`error: ${e.message}`);
  for (const d of r.damage) {
    out.print('');
    out.print(d.pack ? `damaged pack ${d.pack}${d.problems.length ? `: ${d.problems.join('; ')}` : ''}` : 'blobs in no index:');
    out.print(`  ${d.blobs.length} damaged blob(s)${d.blobs[0] ? ` (e.g. ${d.blobs[0].id.slice(0, 12)}: ${d.blobs[0].problem})` : ''}`);
    if (d.snapshots.length === 0) out.print('  no snapshot uses them');
    for (const s of d.snapshots) {
      const files = s.files.slice(0, SHOWN_FILES).join(', ') + (s.files.length > SHOWN_FILES ? `, … (${s.files.length} in all)` : '');
      out.print(`  snapshot ${s.id.slice(0, 8)} (${s.time.replace('T', ' ').slice(0, 19)}): ${files}`);
    }
  }
  if (r.info.length) out.print('');
  for (const i of r.info) out.print(`info: ${i.message}`);
  out.print('');
  out.print(r.ok ? `no errors were found (${formatDuration(r.durationMs)})` : `${r.errors.length} error(s) found: run 'ocvault repair index' for index damage, 'ocvault repair snapshots' to salvage damaged snapshots`);
}

function printDrill(out: Output, r: DrillReport): void {
  out.print(`restore drill of snapshot ${r.snapshot.slice(0, 8)} (${r.time.replace('T', ' ').slice(0, 19)}):`);
  for (const s of r.steps) {
    if (s.skipped) {
      out.print(`  ${s.name}: SKIPPED (${s.skipped})`);
      continue;
    }
    out.print(`  ${s.name}: ${s.passed ? 'PASS' : 'FAIL'} — ${s.checked} entries compared, ${formatBytes(s.bytes)} verified (${formatDuration(s.durationMs)})`);
    for (const p of s.problems.slice(0, 50)) out.print(`    ${p}`);
    if (s.problems.length > 50) out.print(`    … ${s.problems.length - 50} more`);
  }
  if (r.target) out.print(`  restored files left in ${r.target}`);
  out.print(r.passed ? (r.complete ? 'drill passed' : 'drill passed (incomplete: a step was skipped)') : 'drill FAILED');
}
