/**
 * How to invoke each backup tool for the benchmark: init, backup, restore, where the
 * restored files land, and how to tell whether the tool is installed.
 *
 * Extra arguments per tool and step may be passed through the environment, e.g.
 * OCVAULT_BENCH_OCVAULT_BACKUP_ARGS="--exclude foo", OCVAULT_BENCH_RESTIC_RESTORE_ARGS=...
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandSpec } from './measure.js';

export const TOOL_NAMES = ['ocvault', 'restic', 'borg'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export interface ToolContext {
  /** Root of the generated store tree (absolute). */
  source: string;
  /** Repository location (absolute; does not exist before init). */
  repo: string;
  /** Scratch folder of this tool for caches and config (exists). */
  work: string;
  password: string;
}

export interface Tool {
  name: ToolName;
  /** Version string when the tool is installed and runs, else undefined (with a reason). */
  probe(): Promise<{ version?: string; reason?: string }>;
  init(ctx: ToolContext): CommandSpec;
  /** `n` = 1 for the first backup, 2 for the unchanged second one. */
  backup(ctx: ToolContext, n: 1 | 2): CommandSpec;
  /** Restore the latest snapshot into `target` (exists, empty). */
  restore(ctx: ToolContext, target: string): CommandSpec;
  /** Where the source tree's contents end up after restore(ctx, target). */
  restoredRoot(ctx: ToolContext, target: string): string;
  /** Settings worth recording with the results. */
  settings: Readonly<Record<string, string>>;
}

function extraArgs(tool: ToolName, step: 'INIT' | 'BACKUP' | 'RESTORE'): string[] {
  const v = process.env[`OCVAULT_BENCH_${tool.toUpperCase()}_${step}_ARGS`];
  return v ? v.split(/\s+/).filter(Boolean) : [];
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}`.trim() });
    });
  });
}

/** Repository root: dist/bench/tools.js → ../.. ; bench/tools.ts (ts-node) → .. */
export function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const up2 = join(here, '..', '..');
  return existsSync(join(up2, 'package.json')) ? up2 : join(here, '..');
}

export function ocvaultBin(): string {
  return process.env['OCVAULT_BENCH_OCVAULT_BIN'] ?? join(repoRoot(), 'bin', 'ocvault');
}

const ocvault: Tool = {
  name: 'ocvault',
  // the command as installed (npm's bin link): its launcher sets up glibc's allocator and V8
  settings: { invocation: 'bin/ocvault', backupFlags: '--quiet' },
  async probe() {
    const bin = ocvaultBin();
    if (!existsSync(bin)) return { reason: `${bin} does not exist` };
    const help = await run(bin, ['--help']);
    if (help.code !== 0) return { reason: `--help exited ${help.code}: ${help.out.slice(-500)}` };
    const ver = await run(bin, ['--version']);
    return { version: ver.code === 0 && ver.out ? ver.out.split('\n')[0] : 'unknown version' };
  },
  init: (ctx) => ({
    argv: [ocvaultBin(), '-r', ctx.repo, 'init', ...extraArgs('ocvault', 'INIT')],
    env: env.ocvault(ctx),
  }),
  backup: (ctx) => ({
    argv: [ocvaultBin(), '-r', ctx.repo, 'backup', ctx.source, '--quiet', ...extraArgs('ocvault', 'BACKUP')],
    env: env.ocvault(ctx),
  }),
  restore: (ctx, target) => ({
    argv: [ocvaultBin(), '-r', ctx.repo, 'restore', 'latest', '--target', target, '--quiet', ...extraArgs('ocvault', 'RESTORE')],
    env: env.ocvault(ctx),
  }),
  // A snapshot of one directory restores its contents directly into the target.
  restoredRoot: (_ctx, target) => target,
};

const restic: Tool = {
  name: 'restic',
  settings: { repositoryVersion: '2', compression: 'auto (default)', backupFlags: '--quiet' },
  async probe() {
    const r = await run('restic', ['version']);
    return r.code === 0 ? { version: r.out.split('\n')[0] } : { reason: `restic version exited ${r.code}` };
  },
  init: (ctx) => ({
    argv: ['restic', '-r', ctx.repo, 'init', '--repository-version', '2', ...extraArgs('restic', 'INIT')],
    env: env.restic(ctx),
  }),
  backup: (ctx) => ({
    argv: ['restic', '-r', ctx.repo, 'backup', ctx.source, '--quiet', ...extraArgs('restic', 'BACKUP')],
    env: env.restic(ctx),
  }),
  restore: (ctx, target) => ({
    argv: ['restic', '-r', ctx.repo, 'restore', 'latest', '--target', target, ...extraArgs('restic', 'RESTORE')],
    env: env.restic(ctx),
  }),
  // restic recreates the absolute source path below the target.
  restoredRoot: (ctx, target) => join(target, ctx.source),
};

function borgEncryption(): string {
  return process.env['OCVAULT_BENCH_BORG_ENCRYPTION'] ?? 'repokey';
}

const borg: Tool = {
  name: 'borg',
  settings: { encryption: borgEncryption(), compression: 'zstd,3', paths: 'cwd = source, path "."' },
  async probe() {
    const r = await run('borg', ['--version']);
    return r.code === 0 ? { version: r.out.split('\n')[0] } : { reason: `borg --version exited ${r.code}` };
  },
  init: (ctx) => ({
    argv: ['borg', 'init', '-e', borgEncryption(), ...extraArgs('borg', 'INIT'), ctx.repo],
    env: env.borg(ctx),
  }),
  // Run from inside the source with path "." so the archive holds relative paths and
  // extract puts the tree's contents directly in the target, like ocvault does.
  backup: (ctx, n) => ({
    argv: ['borg', 'create', '--compression', 'zstd,3', ...extraArgs('borg', 'BACKUP'), `${ctx.repo}::snap${n}`, '.'],
    env: env.borg(ctx),
    cwd: ctx.source,
  }),
  restore: (ctx, target) => ({
    argv: ['borg', 'extract', ...extraArgs('borg', 'RESTORE'), `${ctx.repo}::snap2`],
    env: env.borg(ctx),
    cwd: target,
  }),
  restoredRoot: (_ctx, target) => target,
};

const env = {
  ocvault: (ctx: ToolContext): Record<string, string> => ({
    OCVAULT_PASSWORD: ctx.password,
    OCVAULT_CACHE_DIR: join(ctx.work, 'cache'),
  }),
  restic: (ctx: ToolContext): Record<string, string> => ({
    RESTIC_PASSWORD: ctx.password,
    RESTIC_CACHE_DIR: join(ctx.work, 'cache'),
  }),
  borg: (ctx: ToolContext): Record<string, string> => ({
    BORG_PASSPHRASE: ctx.password,
    BORG_BASE_DIR: join(ctx.work, 'base'),
    BORG_CACHE_DIR: join(ctx.work, 'cache'),
    BORG_CONFIG_DIR: join(ctx.work, 'config'),
    BORG_SECURITY_DIR: join(ctx.work, 'security'),
    BORG_KEYS_DIR: join(ctx.work, 'keys'),
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
  }),
};

export const TOOLS: Readonly<Record<ToolName, Tool>> = { ocvault, restic, borg };
