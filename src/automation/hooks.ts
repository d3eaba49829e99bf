import { spawn } from 'node:child_process';

export interface HookResult {
  command: string;
  ok: boolean;
  code: number | null;
  timedOut: boolean;
  /** the last lines of stdout and stderr */
  output: string;
  durationMs: number;
}

const MAX_OUTPUT = 4000;

/**
 * Runs one hook command with /bin/sh, killing its process group after `timeoutMs`.
 * `env` is added to the environment (OCVAULT_JOB, OCVAULT_STATUS, ...).
 */
export function runHook(command: string, timeoutMs: number, env: Record<string, string> = {}): Promise<HookResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const take = (b: Buffer): void => {
      output = (output + b.toString('utf8')).slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ command, ok: false, code: null, timedOut, output: e.message, durationMs: Date.now() - started });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ command, ok: code === 0 && !timedOut, code, timedOut, output: output.trim(), durationMs: Date.now() - started });
    });
  });
}

/** One line for a failed hook: the command, how it ended, and its last output line. */
export function describeHookFailure(h: HookResult): string {
  const how = h.timedOut ? `timed out after ${Math.round(h.durationMs / 1000)} s` : `exited with status ${h.code}`;
  const last = h.output.split('\n').filter((l) => l.trim() !== '').pop();
  return `hook "${h.command}" ${how}${last ? `: ${last}` : ''}`;
}
