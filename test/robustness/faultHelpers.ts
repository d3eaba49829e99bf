/**
 * Shared helpers for the storage-fault and fuzz tests: a small real tmpfs (root only), a
 * deterministic PRNG with a printable seed, byte mutations, and the assertions every failure
 * must pass (one line, no stack trace, a documented exit code, no password).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { promisify } from 'node:util';
import { describeRun, isRoot, type RunResult } from '../helpers/cli.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';

const run = promisify(execFile);

/** Why a tmpfs test cannot run here, or undefined when it can. */
export function tmpfsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs needs Linux';
  if (!isRoot()) return 'mounting a tmpfs needs root';
  return undefined;
}

/** A tmpfs of `bytes` mounted on `dir` (created); `unmount` is safe to call more than once. */
export interface Tmpfs {
  dir: string;
  resize(bytes: number): Promise<void>;
  /** remount read-only (true) or read-write */
  readOnly(ro: boolean): Promise<void>;
  unmount(): Promise<void>;
}

export async function mountTmpfs(dir: string, bytes: number, inodes?: number): Promise<Tmpfs> {
  await fsp.mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700${inodes ? `,nr_inodes=${inodes}` : ''}`, 'tmpfs', dir]);
  let mounted = true;
  return {
    dir,
    resize: async (n) => {
      await run('mount', ['-o', `remount,size=${n}`, dir]);
    },
    readOnly: async (ro) => {
      await run('mount', ['-o', `remount,${ro ? 'ro' : 'rw'}`, dir]);
    },
    unmount: async () => {
      if (!mounted) return;
      mounted = false;
      // lazy: a child killed a moment ago may still hold a file open
      await run('umount', ['-l', dir]);
    },
  };
}

/** A deterministic PRNG (mulberry32): the same seed gives the same mutations. */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** uniform in [0, 1) */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** an integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** The seed from OCVAULT_FUZZ_SEED, or a fresh one; printed so a failure can be replayed. */
export function fuzzSeed(): number {
  const given = process.env.OCVAULT_FUZZ_SEED;
  const seed = given ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32) >>> 0;
  console.log(`# fuzz seed ${seed} (replay with OCVAULT_FUZZ_SEED=${seed})`);
  return seed;
}

export type MutationKind = 'bitflip' | 'truncate' | 'extend' | 'zero-range' | 'random-range' | 'empty';

export const MUTATION_KINDS: readonly MutationKind[] = ['bitflip', 'truncate', 'extend', 'zero-range', 'random-range', 'empty'];

/**
 * Mutates `data` (never returning it unchanged); `what` describes the change for messages.
 * Draws the same number of values from `rnd` whatever the data's length (random fill comes
 * from a PRNG of its own), so a seed replays even where object sizes differ between runs.
 */
export function mutate(data: Buffer, kind: MutationKind, rnd: Prng): { bytes: Buffer; what: string } {
  const len = data.length;
  const at = (): number => rnd.int(Math.max(1, len));
  switch (kind) {
    case 'bitflip': {
      const out = Buffer.from(data);
      const flips = 1 + rnd.int(3);
      const where: number[] = [];
      for (let i = 0; i < flips && len > 0; i++) {
        const o = at();
        out[o] = out[o]! ^ (1 << rnd.int(8));
        where.push(o);
      }
      if (out.equals(data)) out[0] = (out[0] ?? 0) ^ 1;
      return { bytes: out, what: `bit flips at ${where.join(',')}` };
    }
    case 'truncate': {
      // mostly near the end (headers, tags, length fields live there), sometimes anywhere
      const cut = rnd.next() < 0.5 ? Math.max(0, len - 1 - rnd.int(Math.min(len, 64))) : at();
      return { bytes: data.subarray(0, Math.min(cut, len - 1)), what: `truncated to ${Math.min(cut, len - 1)} of ${len}` };
    }
    case 'extend': {
      const n = 1 + rnd.int(rnd.next() < 0.5 ? 8 : 4096);
      const extra = rnd.next() < 0.5 ? Buffer.alloc(n) : new Prng(rnd.int(2 ** 32)).bytes(n);
      return { bytes: Buffer.concat([data, extra]), what: `extended by ${n} bytes` };
    }
    case 'zero-range':
    case 'random-range': {
      const out = Buffer.from(data);
      const start = at();
      const n = 1 + rnd.int(Math.min(Math.max(1, len - start), rnd.next() < 0.5 ? 16 : 65536));
      const fill = kind === 'zero-range' ? Buffer.alloc(n) : new Prng(rnd.int(2 ** 32)).bytes(n);
      fill.copy(out, start);
      if (out.equals(data)) out[start] = out[start]! ^ 0xff;
      return { bytes: out, what: `${kind} ${start}+${n}` };
    }
    case 'empty':
      return { bytes: Buffer.alloc(0), what: 'emptied' };
  }
}

/** A stack frame line ("    at foo (file.js:1:2)"). */
const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;

/** A CLI failure: exit 1 or 2 (never a signal, a crash code or a hang), one line on stderr, no stack, no password. */
export function assertCleanCliFailure(r: RunResult, password: string, mustName?: RegExp): string {
  assert.ok(!r.timedOut, `the command hung\n${describeRun(r)}`);
  assert.ok(r.code === 1 || r.code === 2, `exit 1 or 2 (not ${r.code}${r.signal ? `, signal ${r.signal}` : ''})\n${describeRun(r)}`);
  assert.ok(!STACK_LINE.test(r.stderr), `no stack trace\n${describeRun(r)}`);
  assert.doesNotMatch(r.stderr, /unexpected error|TypeError|RangeError|ReferenceError|SyntaxError|ERR_/, `no internal error\n${describeRun(r)}`);
  assert.ok(!(r.stdout + r.stderr).includes(password), `the password is not printed\n${describeRun(r)}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim().length > 0);
  const last = lines[lines.length - 1] ?? '';
  assert.match(last, /^ocvault: /, `the error line\n${describeRun(r)}`);
  if (mustName) assert.match(last, mustName, `the error names the object\n${describeRun(r)}`);
  return last;
}

/** A library failure: an OcvaultError with a one-line message naming what it must, no password. */
export function assertCleanError(e: unknown, password: string, mustName?: RegExp, label = ''): OcvaultError {
  if (!(e instanceof OcvaultError)) {
    assert.fail(`${label}: expected an OcvaultError, got ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
  }
  assert.ok(!e.message.includes('\n'), `${label}: one line: ${e.message}`);
  assert.ok(!e.message.includes(password), `${label}: no password in ${e.message}`);
  if (mustName) assert.match(e.message, mustName, `${label}: names the object`);
  return e;
}

/** Races `p` against a deadline, so a hang fails the test instead of stalling it. */
export async function within<T>(ms: number, label: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Files left in a local repository's tmp/ folder (temporary uploads and staged packs). */
export async function tmpLeftovers(repoDir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(`${repoDir}/tmp`)).filter((n) => n.endsWith('.tmp'));
  } catch {
    return [];
  }
}
