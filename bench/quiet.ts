/**
 * How busy the machine is: CPU time from /proc/stat, so a step can report how much CPU
 * *other* processes used while it ran, and the runner can wait for a quiet machine.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

const USER_HZ = 100;

export interface CpuSample {
  busySeconds: number;
  totalSeconds: number;
}

/** Machine-wide CPU seconds (all cores) from /proc/stat; zeros when unavailable. */
export function cpuSample(): CpuSample {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
      line.trim().split(/\s+/).map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    return { busySeconds: busy / USER_HZ, totalSeconds: (busy + idle + iowait) / USER_HZ };
  } catch {
    return { busySeconds: 0, totalSeconds: 0 };
  }
}

/** Fraction (0–1) of all cores busy over `ms` milliseconds. */
export async function busyFraction(ms: number): Promise<number> {
  const a = cpuSample();
  await sleep(ms);
  const b = cpuSample();
  const total = b.totalSeconds - a.totalSeconds;
  return total > 0 ? (b.busySeconds - a.busySeconds) / total : 0;
}

/**
 * Waits (up to maxWaitSeconds) until less than `maxBusy` of the CPUs is busy over a
 * 2-second window. Returns the last measured fraction.
 */
export async function waitForQuiet(maxBusy: number, maxWaitSeconds: number, log: (m: string) => void): Promise<number> {
  const deadline = Date.now() + maxWaitSeconds * 1000;
  let busy = await busyFraction(2000);
  let said = false;
  while (busy > maxBusy && Date.now() < deadline) {
    if (!said) {
      log(`machine busy (${(busy * 100).toFixed(0)}% of ${cpus().length} CPUs); waiting up to ${maxWaitSeconds} s for < ${(maxBusy * 100).toFixed(0)}%`);
      said = true;
    }
    await sleep(3000);
    busy = await busyFraction(2000);
  }
  if (said) log(busy > maxBusy ? `still busy (${(busy * 100).toFixed(0)}%), going on` : `quiet now (${(busy * 100).toFixed(0)}%)`);
  return busy;
}
