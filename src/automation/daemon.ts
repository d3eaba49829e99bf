import type { AutomationConfig } from './config.js';
import { findJob } from './config.js';
import { configRedactor, runJob, type JobOutcome } from './runJob.js';
import { notifyOutcome } from './notify/notify.js';
import { Scheduler, type Clock, type MissedRun } from './scheduler.js';

export interface DaemonOptions {
  clock?: Clock;
  log?: (line: string) => void;
}

/** One log line for an outcome. */
export function describeOutcome(o: JobOutcome): string {
  return `job ${o.job} ${o.status}: ${o.summary}${o.error ? `: ${o.error}` : ''}${o.warnings.length ? ` (${o.warnings.length} warning(s): ${o.warnings.join('; ')})` : ''} [${o.durationMs} ms]`;
}

/** Runs a job now, logs and notifies its outcome: what `run-job` and the daemon both do. */
export async function runJobAndNotify(cfg: AutomationConfig, name: string, log: (line: string) => void = () => undefined): Promise<JobOutcome> {
  const job = findJob(cfg, name);
  const redactor = configRedactor(cfg);
  const outcome = await runJob(cfg, job, { log, redactor });
  log(describeOutcome(outcome));
  await notifyOutcome(cfg.notifications, outcome, redactor, log);
  return outcome;
}

/** The outcome a missed run is reported as (a warning: the backup it stood for did not happen in time). */
export function missedOutcome(cfg: AutomationConfig, m: MissedRun): JobOutcome {
  const job = findJob(cfg, m.job);
  return {
    job: job.name,
    type: job.type,
    status: 'warning',
    repository: job.repository,
    store: job.store ?? job.source,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    summary: `missed run: the schedule "${job.schedule}" fired at ${m.missedAt.toISOString()} while ocvault daemon was not running (last run ${m.lastRun.toISOString()}); running it now`,
    warnings: [],
  };
}

/** A scheduler over the config's scheduled jobs that runs, logs and notifies each. */
export function createDaemon(cfg: AutomationConfig, opts: DaemonOptions = {}): Scheduler {
  const log = opts.log ?? (() => undefined);
  const redactor = configRedactor(cfg);
  return new Scheduler({
    jobs: cfg.jobs.filter((j) => j.schedule !== undefined).map((j) => ({ name: j.name, schedule: j.schedule!, repository: j.repository })),
    stateFile: cfg.stateFile,
    clock: opts.clock,
    log,
    run: (name) => runJobAndNotify(cfg, name, log),
    onMissed: async (m) => {
      await notifyOutcome(cfg.notifications, missedOutcome(cfg, m), redactor, log);
    },
  });
}
