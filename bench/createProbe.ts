/**
 * Whether creating files is at its usual cost here. On ext4 without a journal (the bench VMs),
 * inodes freed in the last few minutes are skipped, with a buffer lookup each, as new ones are
 * allocated: within ~6 minutes of deleting a few restored trees, 20 000 empty creates took
 * 2.7-6 s of system time instead of 0.2-0.6 (native-notes.md, session 15), and a restore timed
 * then measured the deletion, not the tool.
 */
import { closeSync, constants as C, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Above this a create is slow: 17-30 µs each normally on the bench VMs, 150-350 after deletions. */
const SLOW_MICROS = 80;
const PROBE_FILES = 2000;
const RETRY_SECONDS = 30;

let probes = 0;

/**
 * Microseconds per file to create `files` empty files in a new folder under `dir`. The files
 * stay (removing them would start another slow spell); the caller's folder goes with the run.
 */
export function createMicros(dir: string, files = PROBE_FILES): number {
  const folder = join(dir, `probe-${process.pid}-${probes++}`);
  mkdirSync(folder, { recursive: true });
  const started = process.hrtime.bigint();
  for (let i = 0; i < files; i++) closeSync(openSync(join(folder, String(i)), C.O_CREAT | C.O_WRONLY | C.O_EXCL, 0o644));
  return Number(process.hrtime.bigint() - started) / 1000 / files;
}

/**
 * Waits (up to maxWaitSeconds) until creating files costs what it usually does, probing every
 * RETRY_SECONDS. Returns the last cost measured (µs per file).
 */
export async function waitForFastCreates(dir: string, maxWaitSeconds: number, log: (m: string) => void): Promise<number> {
  const deadline = Date.now() + maxWaitSeconds * 1000;
  let micros = createMicros(dir);
  if (micros <= SLOW_MICROS) return micros;
  log(`creating files is slow (${micros.toFixed(0)} µs each, usually under ${SLOW_MICROS}: files deleted in the last minutes?); waiting up to ${maxWaitSeconds} s`);
  while (micros > SLOW_MICROS && Date.now() < deadline) {
    await sleep(Math.min(RETRY_SECONDS * 1000, Math.max(0, deadline - Date.now())));
    micros = createMicros(dir);
  }
  log(micros > SLOW_MICROS ? `creates still slow (${micros.toFixed(0)} µs each), going on: restores are disturbed` : `creates at their usual cost now (${micros.toFixed(0)} µs each)`);
  return micros;
}
