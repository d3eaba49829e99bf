/**
 * Helpers to run the real `ocvault` command (bin/ocvault, the launcher npm links) as a child
 * process, and a throwaway repository (`TestRepo`) with its own cache dir and password, so
 * tests never touch ~/.cache or each other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { removeTree } from './tree.js';

/** dist/test/helpers/cli.js → repository root (three levels up). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI_PATH = path.join(REPO_ROOT, 'bin', 'ocvault');

export interface RunOptions {
  /** extra environment; a value of `undefined` removes the variable */
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string | Buffer;
  uid?: number;
  gid?: number;
  /** kill the process after this long (default 150 s) */
  timeoutMs?: number;
  /** run the child under this umask (e.g. 0o077) */
  umask?: number;
}

export interface RunResult {
  /** exit status; null if killed by a signal */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** the command line, for messages */
  argv: string[];
}

/** The environment a test child sees: ours minus every OCVAULT_* variable (hermetic tests). */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('OCVAULT_')) continue;
    env[k] = v;
  }
  // never let a developer's own config, colours or a TTY-like mode leak in
  env.NO_COLOR = '1';
  return env;
}

export interface RunningOcvault {
  child: ChildProcess;
  done: Promise<RunResult>;
}

/** Start `ocvault ARGS`; `done` resolves when it exits (never rejects on a non-zero exit). */
export function startOcvault(args: string[], opts: RunOptions = {}): RunningOcvault {
  const env = baseEnv();
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // with a umask, go through sh so the child really runs under it
  const [cmd, argv] =
    opts.umask === undefined
      ? [CLI_PATH, args]
      : ['/bin/sh', ['-c', `umask ${opts.umask.toString(8).padStart(3, '0')} && exec "$0" "$@"`, CLI_PATH, ...args]];
  const child = spawn(cmd, argv, {
    cwd: opts.cwd ?? os.tmpdir(),
    env,
    uid: opts.uid,
    gid: opts.gid,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = new Promise<RunResult>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 150_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        argv: ['ocvault', ...args],
      });
    });
  });
  child.stdin!.on('error', () => undefined); // the CLI may exit before reading stdin
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  return { child, done };
}

export function runOcvault(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return startOcvault(args, opts).done;
}

/** A readable description of a finished run, for assertion messages. */
export function describeRun(r: RunResult): string {
  const clip = (s: string): string => (s.length > 4000 ? s.slice(0, 4000) + `… (${s.length} chars)` : s);
  return `$ ${r.argv.map((a) => JSON.stringify(a)).join(' ')}\n→ exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}${r.timedOut ? ' TIMED OUT' : ''}\n--- stdout ---\n${clip(r.stdout)}\n--- stderr ---\n${clip(r.stderr)}`;
}

export class RunError extends Error {
  constructor(readonly result: RunResult, why: string) {
    super(`${why}\n${describeRun(result)}`);
    this.name = 'RunError';
  }
}

/** Throws (with the full output) unless the exit code is one of `codes`. */
export function expectCode(r: RunResult, ...codes: number[]): RunResult {
  if (r.code === null || !codes.includes(r.code)) throw new RunError(r, `expected exit code ${codes.join(' or ')}, got ${r.code}`);
  return r;
}

export function parseJson<T>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new RunError(r, `stdout is not one JSON document: ${(e as Error).message}`);
  }
}

/** Run, require exit 0 (or one of `okCodes`), parse stdout as JSON. */
export async function runJson<T>(args: string[], opts: RunOptions = {}, okCodes: number[] = [0]): Promise<T> {
  const r = await runOcvault(args, opts);
  expectCode(r, ...okCodes);
  return parseJson<T>(r);
}

/** The shape `backup --json` prints. */
export interface BackupStats {
  files: number;
  dirs: number;
  bytes: number;
  newFiles: number;
  changedFiles: number;
  unchangedFiles: number;
  addedBytes: number;
  addedBlobs: number;
  durationMs: number;
  errors: number;
}
export interface BackupResult {
  id: string;
  kind: 'full' | 'differential' | 'incremental';
  parent: string | null;
  stats: BackupStats;
  warnings: string[];
}
export interface SnapshotInfo {
  id: string;
  shortId: string;
  time: string;
  host: string;
  kind: 'full' | 'differential' | 'incremental';
  parent: string | null;
  tags: string[];
  paths: string[];
  addedBytes: number;
  stats: BackupStats;
}
export interface LsEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mode: number | string;
  mtime: string | number;
}
export interface RepoStats {
  snapshots: number;
  packs: number;
  blobs: number;
  storedBytes: number;
  [k: string]: unknown;
}

/** Make a fresh temp dir (removed by `removeTree`). */
export async function makeTempDir(prefix = 'ocvault-e2e-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface TestRepoOptions {
  /** run `init` (default true) */
  init?: boolean;
  /** `init --no-encryption` */
  encryption?: boolean;
  password?: string;
  /** run every command as this user (e.g. nobody when we are root) */
  uid?: number;
  gid?: number;
}

/**
 * One throwaway repository: `<base>/repo`, its cache `<base>/cache`, a password; every run gets
 * OCVAULT_REPOSITORY, OCVAULT_CACHE_DIR, OCVAULT_PASSWORD and a private XDG_CACHE_HOME/HOME.
 * `base` is also a scratch space for source trees and restore targets (`tmp.path(...)`).
 */
export class TestRepo {
  readonly repo: string;
  readonly cache: string;
  password: string;
  repoId = '';
  /** stdout of `init` */
  initOutput = '';
  uid?: number;
  gid?: number;

  private constructor(readonly base: string, password: string) {
    this.repo = path.join(base, 'repo');
    this.cache = path.join(base, 'cache');
    this.password = password;
  }

  static async create(opts: TestRepoOptions = {}): Promise<TestRepo> {
    const base = await makeTempDir();
    const r = new TestRepo(base, opts.password ?? `pw-${randomBytes(8).toString('hex')}`);
    r.uid = opts.uid;
    r.gid = opts.gid;
    if (opts.uid !== undefined) await fsp.chmod(base, 0o777);
    await fsp.mkdir(path.join(base, 'xdg'), { recursive: true, mode: 0o777 });
    if (opts.uid !== undefined) await fsp.chmod(path.join(base, 'xdg'), 0o777);
    if (opts.init !== false) {
      const res = expectCode(await r.run(opts.encryption === false ? ['init', '--no-encryption'] : ['init']), 0);
      r.initOutput = res.stdout;
      const m = /\b[0-9a-f]{16,64}\b/.exec(res.stdout);
      r.repoId = m ? m[0] : '';
    }
    return r;
  }

  /** A copy of this repository (same password) with a scratch dir and an empty cache of its own. */
  async copy(): Promise<TestRepo> {
    const c = await TestRepo.create({ init: false, password: this.password });
    await fsp.cp(this.repo, c.repo, { recursive: true });
    return c;
  }

  /** A path inside the scratch dir (not created). */
  path(...parts: string[]): string {
    return path.join(this.base, ...parts);
  }

  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      OCVAULT_REPOSITORY: this.repo,
      OCVAULT_CACHE_DIR: this.cache,
      OCVAULT_PASSWORD: this.password,
      XDG_CACHE_HOME: path.join(this.base, 'xdg'),
      HOME: path.join(this.base, 'xdg'),
      ...extra,
    };
  }

  run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return runOcvault(args, { uid: this.uid, gid: this.gid, ...opts, env: this.env(opts.env) });
  }

  start(args: string[], opts: RunOptions = {}): RunningOcvault {
    return startOcvault(args, { uid: this.uid, gid: this.gid, ...opts, env: this.env(opts.env) });
  }

  /** Run, require exit code (default 0), return the result. */
  async ok(args: string[], opts: RunOptions = {}, ...codes: number[]): Promise<RunResult> {
    return expectCode(await this.run(args, opts), ...(codes.length ? codes : [0]));
  }

  async json<T>(args: string[], opts: RunOptions = {}, okCodes: number[] = [0]): Promise<T> {
    const r = expectCode(await this.run(args, opts), ...okCodes);
    return parseJson<T>(r);
  }

  /** `backup PATHS... EXTRA --json`; returns the parsed report (exit 0 required unless okCodes). */
  backup(paths: string[], extra: string[] = [], okCodes: number[] = [0], opts: RunOptions = {}): Promise<BackupResult> {
    return this.json<BackupResult>(['backup', ...paths, ...extra, '--json'], opts, okCodes);
  }

  snapshots(): Promise<SnapshotInfo[]> {
    return this.json<SnapshotInfo[]>(['snapshots', '--json']);
  }

  ls(snap: string, sub?: string): Promise<LsEntry[]> {
    return this.json<LsEntry[]>(['ls', snap, ...(sub === undefined ? [] : [sub]), '--json']);
  }

  stats(): Promise<RepoStats> {
    return this.json<RepoStats>(['stats', '--json']);
  }

  /** `restore SNAP --target TARGET EXTRA`; exit 0 required. Returns the target. */
  async restore(snap: string, target: string, extra: string[] = [], opts: RunOptions = {}): Promise<string> {
    await this.ok(['restore', snap, '--target', target, ...extra], opts);
    return target;
  }

  async cleanup(): Promise<void> {
    await removeTree(this.base);
  }
}

/**
 * Copies of a suite's template repository (made in its `before`), each with a cache of its
 * own; `cleanup` removes every copy and the template.
 */
export class TemplateCopies {
  private readonly copies: TestRepo[] = [];

  constructor(private readonly template: () => TestRepo | undefined) {}

  async copy(): Promise<TestRepo> {
    const t = this.template();
    if (!t) throw new Error('the template repository is not made yet');
    const c = await t.copy();
    this.copies.push(c);
    return c;
  }

  async cleanup(): Promise<void> {
    for (const c of this.copies) await c.cleanup();
    await this.template()?.cleanup();
  }
}

/** Total size in bytes of every regular file under `dir` (the repository's on-disk size). */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += (await fsp.lstat(p)).size;
    }
  };
  await walk(dir);
  return total;
}

/** Every regular file under `dir` (absolute paths). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
export const NOBODY = { uid: 65534, gid: 65534 };

/** The one line (trimmed) an error must print on stderr; fails if there are more. */
export function oneLine(r: RunResult): string {
  const lines = r.stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0);
  if (lines.length !== 1) throw new RunError(r, `expected exactly one line on stderr, got ${lines.length}`);
  return lines[0]!;
}
