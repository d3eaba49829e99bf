import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Backend } from '../storage/Backend.js';
import { LocalBackend } from '../storage/LocalBackend.js';
import { Repository } from '../repo/repository.js';
import { makeOutput, type Output } from './output.js';

/** Options every command accepts. */
export interface GlobalOptions {
  repo?: string;
  cacheDir?: string;
  passwordFile?: string;
  passwordCommand?: string;
  json?: boolean;
  quiet?: boolean;
}

export function output(g: GlobalOptions): Output {
  return makeOutput(g.json === true, g.quiet === true);
}

export function repoLocation(g: GlobalOptions): string {
  const loc = g.repo ?? process.env.OCVAULT_REPOSITORY;
  if (!loc) throw new OcvaultError('Usage', 'no repository given: use -r/--repo or OCVAULT_REPOSITORY');
  return loc;
}

export function openBackend(location: string): Backend {
  if (/^(sftp|s3):\/\//.test(location) || location.startsWith('rclone:')) {
    throw new OcvaultError('Usage', `remote repositories (${location.split(':')[0]}) are not supported by this build yet; use a local path`);
  }
  return new LocalBackend(location.startsWith('file://') ? location.slice(7) : location);
}

function firstLine(s: string): string {
  return s.replace(/\r?\n.*$/s, '');
}

/**
 * The password, from (in order) --password-file, --password-command, OCVAULT_PASSWORD_FILE,
 * OCVAULT_PASSWORD. Undefined when none is given.
 */
export function readPassword(g: GlobalOptions): string | undefined {
  const fromFile = (file: string): string => {
    try {
      return firstLine(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new OcvaultError('Usage', `cannot read password file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  if (g.passwordFile) return fromFile(g.passwordFile);
  if (g.passwordCommand) {
    try {
      return firstLine(execSync(g.passwordCommand, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    } catch {
      throw new OcvaultError('Usage', 'the password command failed');
    }
  }
  if (process.env.OCVAULT_PASSWORD_FILE) return fromFile(process.env.OCVAULT_PASSWORD_FILE);
  if (process.env.OCVAULT_PASSWORD !== undefined) return process.env.OCVAULT_PASSWORD;
  return undefined;
}

export async function openRepository(g: GlobalOptions): Promise<Repository> {
  return Repository.open(openBackend(repoLocation(g)), { password: readPassword(g), cacheDir: g.cacheDir });
}

/** Runs `fn` with an open repository and always closes it (releasing locks, stopping workers). */
export async function withRepository<T>(g: GlobalOptions, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const repo = await openRepository(g);
  try {
    return await fn(repo);
  } finally {
    await repo.close();
  }
}
