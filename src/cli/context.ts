import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { OcvaultError, type ErrorCode } from '../errors/OcvaultError.js';
import type { Backend } from '../storage/Backend.js';
import { backendFromUrl } from '../storage/backendFromUrl.js';
import { Repository, type OpenOptions } from '../repo/repository.js';
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

/** A path, sftp://, s3://, s3+http:// or rclone: location (see storage/backendFromUrl.ts). */
export function openBackend(location: string): Promise<Backend> {
  return backendFromUrl(location);
}

function firstLine(s: string): string {
  return s.replace(/\r?\n.*$/s, '');
}

/** Where one repository's password may come from, in the order they are tried. */
export interface PasswordSources {
  file?: string;
  command?: string;
  /** environment variables: one naming a password file, one holding the password */
  fileEnv: string;
  env: string;
  /** the error code a failed file or command gets, and how the command is named in it */
  errorCode: ErrorCode;
  commandName: string;
}

/** The first line of the first source given; undefined when none is. */
export function passwordFrom(s: PasswordSources): string | undefined {
  const fromFile = (file: string): string => {
    try {
      return firstLine(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new OcvaultError(s.errorCode, `cannot read password file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  if (s.file) return fromFile(s.file);
  if (s.command) {
    try {
      return firstLine(execSync(s.command, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    } catch {
      throw new OcvaultError(s.errorCode, `${s.commandName} failed`);
    }
  }
  if (process.env[s.fileEnv]) return fromFile(process.env[s.fileEnv]!);
  return process.env[s.env];
}

/**
 * The password, from (in order) --password-file, --password-command, OCVAULT_PASSWORD_FILE,
 * OCVAULT_PASSWORD. Undefined when none is given.
 */
export function readPassword(g: GlobalOptions): string | undefined {
  return passwordFrom({ file: g.passwordFile, command: g.passwordCommand, fileEnv: 'OCVAULT_PASSWORD_FILE', env: 'OCVAULT_PASSWORD', errorCode: 'NoPassword', commandName: 'the password command' });
}

export async function openRepository(g: GlobalOptions, whileUnlocking?: OpenOptions['whileUnlocking']): Promise<Repository> {
  const backend = await openBackend(repoLocation(g));
  try {
    return await Repository.open(backend, { password: readPassword(g), cacheDir: g.cacheDir, whileUnlocking });
  } catch (e) {
    await backend.close().catch(() => undefined);
    throw e;
  }
}

/** Runs `fn` with an open repository and always closes it (releasing locks, stopping workers). */
export async function withRepository<T>(g: GlobalOptions, fn: (repo: Repository) => Promise<T>, whileUnlocking?: OpenOptions['whileUnlocking']): Promise<T> {
  const repo = await openRepository(g, whileUnlocking);
  try {
    return await fn(repo);
  } finally {
    await repo.close();
  }
}
