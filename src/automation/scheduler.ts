import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { nextRun, parseCron, type CronExpr } from './cron.js';

/** Time as the scheduler sees it; tests drive it by hand. */
export interface Clock {
  now(): Date;
  /** resolves at `when` (or earlier when `signal` aborts) */
  sleepUntil(when: Date, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleepUntil: (when, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      // long sleeps in slices: timers cap at ~24.8 days, and the wall clock may jump
      const ms = Math.min(Math.max(0, when.getTime() - Date.now()), 60_000);
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

export interface ScheduledJob {
  name: string;
  schedule: string;
  /** jobs on one repository never run at the same time */
  repository: string;
}

export interface MissedRun {
  job: string;
  /** the last run the state file recorded */
  lastRun: Date;
  /** the first run that should have happened since */
  missedAt: Date;
}

/** Last run of each job, kept in a small JSON file across restarts. */
export interface SchedulerState {
  lastRun: Record<string, string>;
}

export interface SchedulerOptions {
  jobs: ScheduledJob[];
  /** runs one job; may throw (the scheduler logs it and goes on) */
  run: (job: string, reason: 'schedule' | 'missed', firedAt: Date) => Promise<unknown>;
  stateFile: string;
  clock?: Clock;
  onMissed?: (m: MissedRun) => void | Promise<void>;
  log?: (line: string) => void;
}

async function readState(file: string): Promise<SchedulerState> {
  try {
    const s = JSON.parse(await fsp.readFile(file, 'utf8')) as SchedulerState;
    return { lastRun: typeof s.lastRun === 'object' && s.lastRun !== null ? s.lastRun : {} };
  } catch {
    return { lastRun: {} };
  }
}

/**
 * Runs jobs on their cron schedules. Each repository has a queue, so two jobs on one repository
 * run one after the other while jobs on different repositories run side by side. A job that
 * throws is logged; the others go on. On start, a job whose schedule fired while the scheduler
 * was down (per the state file) is reported through `onMissed` and run once.
 */
export class Scheduler {
  private readonly clock: Clock;
  private readonly crons = new Map<string, CronExpr>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private state: SchedulerState = { lastRun: {} };
  private stateWrite: Promise<void> = Promise.resolve();
  private loop?: Promise<void>;

  constructor(private readonly opts: SchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    for (const j of opts.jobs) this.crons.set(j.name, parseCron(j.schedule));
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Loads the state, reports and queues missed runs, and starts the loop. */
  async start(): Promise<MissedRun[]> {
    this.state = await readState(this.opts.stateFile);
    const now = this.clock.now();
    const missed: MissedRun[] = [];
    for (const j of this.opts.jobs) {
      const last = this.state.lastRun[j.name];
      if (last === undefined) {
        // first start: nothing was missed; count from now
        this.state.lastRun[j.name] = now.toISOString();
        continue;
      }
      const lastRun = new Date(last);
      const due = nextRun(this.crons.get(j.name)!, lastRun);
      if (due.getTime() <= now.getTime()) missed.push({ job: j.name, lastRun, missedAt: due });
    }
    await this.saveState();
    for (const m of missed) {
      this.log(`job ${m.job} missed its run at ${m.missedAt.toISOString()} (last run ${m.lastRun.toISOString()}); running it now`);
      try {
        await this.opts.onMissed?.(m);
      } catch (e) {
        this.log(`reporting the missed run of ${m.job} failed: ${(e as Error).message}`);
      }
      this.enqueue(this.opts.jobs.find((j) => j.name === m.job)!, 'missed', now);
    }
    this.loop = this.runLoop(now);
    return missed;
  }

  /** The next time each job fires. */
  upcoming(after: Date = this.clock.now()): { job: string; at: Date }[] {
    return this.opts.jobs.map((j) => ({ job: j.name, at: nextRun(this.crons.get(j.name)!, after) })).sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  private async runLoop(from: Date): Promise<void> {
    const next = new Map(this.opts.jobs.map((j) => [j.name, nextRun(this.crons.get(j.name)!, from)]));
    while (!this.abort.signal.aborted) {
      if (next.size === 0) {
        await new Promise<void>((resolve) => this.abort.signal.addEventListener('abort', () => resolve(), { once: true }));
        break;
      }
      const soonest = new Date(Math.min(...[...next.values()].map((d) => d.getTime())));
      await this.clock.sleepUntil(soonest, this.abort.signal);
      if (this.abort.signal.aborted) break;
      const now = this.clock.now();
      for (const j of this.opts.jobs) {
        const at = next.get(j.name)!;
        if (at.getTime() > now.getTime()) continue;
        this.enqueue(j, 'schedule', at);
        next.set(j.name, nextRun(this.crons.get(j.name)!, now));
      }
    }
  }

  private enqueue(job: ScheduledJob, reason: 'schedule' | 'missed', firedAt: Date): void {
    const prev = this.queues.get(job.repository) ?? Promise.resolve();
    const p = prev.then(async () => {
      if (this.abort.signal.aborted) return;
      this.log(`job ${job.name} starts (${reason === 'missed' ? 'missed run' : `scheduled ${firedAt.toISOString()}`})`);
      try {
        await this.opts.run(job.name, reason, firedAt);
      } catch (e) {
        this.log(`job ${job.name} failed: ${(e as Error).message}`);
      }
      this.state.lastRun[job.name] = firedAt.toISOString();
      await this.saveState();
    });
    this.queues.set(job.repository, p);
    this.running.add(p);
    void p.finally(() => {
      this.running.delete(p);
      if (this.queues.get(job.repository) === p) this.queues.delete(job.repository);
    });
  }

  private saveState(): Promise<void> {
    const file = this.opts.stateFile;
    const text = JSON.stringify(this.state, null, 2) + '\n';
    this.stateWrite = this.stateWrite.then(async () => {
      try {
        await fsp.mkdir(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await fsp.writeFile(tmp, text);
        await fsp.rename(tmp, file);
      } catch (e) {
        this.log(`cannot save scheduler state ${file}: ${(e as Error).message}`);
      }
    });
    return this.stateWrite;
  }

  /** Resolves when every queued and running job is done. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    await this.stateWrite;
  }

  /** Stops scheduling; waits for running jobs to finish (queued ones are dropped). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.idle();
  }
}
