/**
 * Runs one command and measures it: wall time (hrtime around the child), peak RSS and
 * CPU time from GNU `/usr/bin/time -f` (max RSS of the largest single process in the
 * tree), and — by polling /proc — the peak of the *summed* RSS of the whole process tree
 * (catches tools that fan out into several processes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CommandSpec {
  argv: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
}

export interface Measurement {
  wallSeconds: number;
  /** Peak RSS of the largest single process (GNU time %M), KiB; 0 if unavailable. */
  peakRssKiB: number;
  /** Peak of the summed RSS of the command's whole process tree (polled), KiB. */
  peakTreeRssKiB: number;
  userSeconds: number;
  systemSeconds: number;
  exitCode: number;
  stdoutTail: string;
  stderrTail: string;
}

export class CommandError extends Error {
  constructor(readonly spec: CommandSpec, readonly measurement: Measurement) {
    super(
      `command failed (exit ${measurement.exitCode}): ${spec.argv.join(' ')}\n` +
      `--- stderr (tail) ---\n${measurement.stderrTail.trimEnd() || '(empty)'}\n` +
      (measurement.stdoutTail.trim() ? `--- stdout (tail) ---\n${measurement.stdoutTail.trimEnd()}\n` : ''),
    );
  }
}

const GNU_TIME = '/usr/bin/time';
const TAIL_BYTES = 8192;
const POLL_MS = 500;

class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > TAIL_BYTES * 2 && this.chunks.length > 1) {
      const first = this.chunks.shift();
      this.size -= first?.length ?? 0;
    }
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString('utf8');
  }
}

const PAGE_KIB = 4;

/**
 * Sum of RSS (KiB) over all descendants of `root` (and `root` itself if `includeRoot`).
 * Cheap on purpose (it runs next to the measured tool on a small machine): only pids
 * >= root are considered — descendants are created after it (pid wrap-around aside).
 */
async function treeRssKiB(root: number, includeRoot: boolean): Promise<number> {
  const parents = new Map<number, number>();
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return 0;
  }
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid < root) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised comm, which may contain spaces.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(pid, Number(after[1]));
    } catch {
      // process vanished
    }
  }
  const inTree = new Set<number>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!inTree.has(pid) && inTree.has(ppid)) { inTree.add(pid); grew = true; }
    }
  }
  if (!includeRoot) inTree.delete(root);
  let total = 0;
  for (const pid of inTree) {
    try {
      const statm = await readFile(`/proc/${pid}/statm`, 'utf8');
      total += Number(statm.split(' ')[1] ?? 0) * PAGE_KIB;
    } catch {
      // process vanished
    }
  }
  return total;
}

let counter = 0;

/** Children currently being measured (each leads its own process group). */
const running = new Set<ChildProcess>();

/**
 * Stops every running measured command — its whole process group, since GNU time does not
 * forward signals — and waits (≤ 10 s, then SIGKILL) until they are gone, so the caller can
 * delete their repositories without a tool still writing into them.
 */
export async function stopRunning(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  await Promise.all([...running].map(async (child) => {
    const pid = child.pid;
    if (pid === undefined || child.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const kill = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pid, sig);
      } catch {
        // already gone
      }
    };
    kill(signal);
    const timer = setTimeout(() => kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }));
}

export async function measure(spec: CommandSpec): Promise<Measurement> {
  const useTime = existsSync(GNU_TIME);
  const timeFile = join(tmpdir(), `ocvault-bench-time-${process.pid}-${counter++}.txt`);
  const [cmd, ...rest] = useTime
    ? [GNU_TIME, '-f', '%e %M %U %S', '-o', timeFile, ...spec.argv]
    : [...spec.argv];
  if (cmd === undefined) throw new Error('measure: empty argv');

  const stdout = new Tail();
  const stderr = new Tail();
  const started = process.hrtime.bigint();
  const child = spawn(cmd, rest, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so stopRunning() can signal the tool and not just GNU time.
    detached: true,
  });
  running.add(child);
  child.on('close', () => running.delete(child));
  child.stdout.on('data', (b: Buffer) => stdout.push(b));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));

  let peakTree = 0;
  let polling = false;
  const poll = setInterval(() => {
    if (polling || child.pid === undefined) return;
    polling = true;
    treeRssKiB(child.pid, !useTime)
      .then((kib) => { peakTree = Math.max(peakTree, kib); })
      .finally(() => { polling = false; });
  }, POLL_MS);

  const exitCode = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  }).finally(() => clearInterval(poll));
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;

  let peakRssKiB = 0;
  let userSeconds = 0;
  let systemSeconds = 0;
  if (useTime) {
    try {
      const text = await readFile(timeFile, 'utf8');
      // GNU time writes "Command exited with non-zero status N" before the format line.
      const line = text.trim().split('\n').pop() ?? '';
      const [, rss, user, sys] = line.trim().split(/\s+/).map(Number);
      peakRssKiB = rss ?? 0;
      userSeconds = user ?? 0;
      systemSeconds = sys ?? 0;
    } catch {
      // time output missing (e.g. command not found): leave zeros
    }
    await rm(timeFile, { force: true });
  }

  const m: Measurement = {
    wallSeconds, peakRssKiB, peakTreeRssKiB: peakTree, userSeconds, systemSeconds, exitCode,
    stdoutTail: stdout.text(), stderrTail: stderr.text(),
  };
  return m;
}

/** measure(), throwing CommandError (with the stderr tail) on a non-zero exit. */
export async function measureOk(spec: CommandSpec): Promise<Measurement> {
  const m = await measure(spec);
  if (m.exitCode !== 0) throw new CommandError(spec, m);
  return m;
}
