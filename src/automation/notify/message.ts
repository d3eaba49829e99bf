import type { JobOutcome } from '../runJob.js';

export interface NotifyMessage {
  subject: string;
  text: string;
  /** the machine-readable form a generic webhook receives */
  json: Record<string, unknown>;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** What the outcome says in words: what ran, store, snapshot, bytes added, duration, error. */
export function formatOutcome(o: JobOutcome, host: string): NotifyMessage {
  const word = o.status === 'success' ? 'succeeded' : o.status === 'warning' ? 'finished with warnings' : 'FAILED';
  const subject = `ocvault: job ${o.job} ${word}${o.store ? ` (${o.store})` : ''} on ${host}`;
  const lines = [
    `Job: ${o.job} (${o.type})`,
    `Status: ${o.status}`,
    `Host: ${host}`,
    `Repository: ${o.repository}`,
    ...(o.store ? [`Store: ${o.store}`] : []),
    ...(o.snapshotId ? [`Snapshot: ${o.snapshotId}`] : []),
    ...(o.addedBytes !== undefined ? [`Added: ${bytes(o.addedBytes)} (${o.addedBytes} bytes)`] : []),
    `Started: ${o.startedAt}`,
    `Duration: ${duration(o.durationMs)}`,
    `Result: ${o.summary}`,
    ...(o.error ? [`Error: ${o.error}`] : []),
    ...o.warnings.map((w) => `Warning: ${w}`),
  ];
  return { subject, text: `${subject}\n\n${lines.join('\n')}\n`, json: { event: o.status, host, ...o } };
}
