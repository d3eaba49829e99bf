/**
 * Result types of a benchmark run, the printed table, and ocvault's ratios to the
 * other tools next to the targets.
 */
import type { VerifyResult } from './fsutil.js';
import type { ToolName } from './tools.js';

export interface StepResult {
  wallSeconds: number;
  /** max(GNU time %M, polled process-tree sum), KiB. */
  peakRssKiB: number;
  userSeconds: number;
  systemSeconds: number;
  /** Duration of the `sync` run right after the step (flushing its dirty pages), s. */
  flushSeconds: number;
  /** 1-minute load average just before the step (anything well above 0 means a busy machine). */
  loadAverage1m: number;
  /**
   * CPU time used by *other* processes while the step ran, as % of the machine's capacity
   * over the step (all cores). Anything above a few % means the timing is disturbed.
   */
  otherCpuPercent: number;
  /** Repository size on disk after the step (backups only). */
  repoDiskBytes?: number;
  repoFiles?: number;
}

export interface RunSample {
  init?: StepResult;
  firstBackup?: StepResult;
  unchangedBackup?: StepResult;
  restore?: StepResult;
}

export type StepName = keyof RunSample;
export const STEP_NAMES: readonly StepName[] = ['init', 'firstBackup', 'unchangedBackup', 'restore'];

export interface ToolResult extends RunSample {
  tool: ToolName;
  version?: string;
  settings: Readonly<Record<string, string>>;
  status: 'ok' | 'failed' | 'unavailable';
  error?: string;
  /** Every repetition; the step fields of the result are per-field medians over these. */
  samples: RunSample[];
  verify?: Omit<VerifyResult, 'missing' | 'extra' | 'sizeMismatch' | 'contentMismatch'> & {
    missing: number; extra: number; sizeMismatch: number; contentMismatch: number; examples: string[];
  };
}

export interface Ratio {
  metric: string;
  other: ToolName;
  ocvault: number;
  otherValue: number;
  ratio: number;
  /** Target for ocvault/other (only set against restic). */
  target?: number;
  pass?: boolean;
}

const MIB = 1024 * 1024;

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] ?? 0) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

/** Per-field median of one step over the samples that have it. */
export function medianStep(samples: readonly RunSample[], step: StepName): StepResult | undefined {
  const list = samples.map((s) => s[step]).filter((s): s is StepResult => s !== undefined);
  if (list.length === 0) return undefined;
  const pick = (f: (s: StepResult) => number | undefined): number | undefined => {
    const vals = list.map(f).filter((x): x is number => x !== undefined);
    return vals.length ? median(vals) : undefined;
  };
  return {
    wallSeconds: pick((s) => s.wallSeconds) ?? 0,
    peakRssKiB: pick((s) => s.peakRssKiB) ?? 0,
    userSeconds: pick((s) => s.userSeconds) ?? 0,
    systemSeconds: pick((s) => s.systemSeconds) ?? 0,
    flushSeconds: pick((s) => s.flushSeconds) ?? 0,
    loadAverage1m: pick((s) => s.loadAverage1m) ?? 0,
    otherCpuPercent: pick((s) => s.otherCpuPercent) ?? 0,
    repoDiskBytes: pick((s) => s.repoDiskBytes),
    repoFiles: pick((s) => s.repoFiles),
  };
}

export function peakRss(r: ToolResult): number {
  return Math.max(r.firstBackup?.peakRssKiB ?? 0, r.unchangedBackup?.peakRssKiB ?? 0, r.restore?.peakRssKiB ?? 0);
}

const METRICS: Array<{ name: string; get: (r: ToolResult) => number | undefined; target?: number }> = [
  { name: 'first backup wall s', get: (r) => r.firstBackup?.wallSeconds, target: 0.4 },
  { name: 'unchanged backup wall s', get: (r) => r.unchangedBackup?.wallSeconds, target: 0.5 },
  { name: 'restore wall s', get: (r) => r.restore?.wallSeconds, target: 0.5 },
  { name: 'peak RSS MiB (all steps)', get: (r) => (r.firstBackup ? peakRss(r) / 1024 : undefined), target: 1.5 },
  { name: 'first backup CPU s (user+sys)', get: (r) => (r.firstBackup ? r.firstBackup.userSeconds + r.firstBackup.systemSeconds : undefined) },
  { name: 'unchanged backup CPU s', get: (r) => (r.unchangedBackup ? r.unchangedBackup.userSeconds + r.unchangedBackup.systemSeconds : undefined) },
  { name: 'restore CPU s', get: (r) => (r.restore ? r.restore.userSeconds + r.restore.systemSeconds : undefined) },
  { name: 'repo size MiB after 2 backups', get: (r) => (r.unchangedBackup?.repoDiskBytes ?? 0) / MIB || undefined },
];

export function ratios(results: readonly ToolResult[]): Ratio[] {
  const oc = results.find((r) => r.tool === 'ocvault' && r.status === 'ok');
  if (!oc) return [];
  const out: Ratio[] = [];
  for (const other of results) {
    if (other.tool === 'ocvault' || other.status !== 'ok') continue;
    for (const m of METRICS) {
      const a = m.get(oc);
      const b = m.get(other);
      if (a === undefined || b === undefined || b === 0) continue;
      const ratio = a / b;
      const target = other.tool === 'restic' ? m.target : undefined;
      out.push({ metric: m.name, other: other.tool, ocvault: a, otherValue: b, ratio, target, pass: target === undefined ? undefined : ratio <= target });
    }
  }
  return out;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padEnd(n) : s.padStart(n);
}

function fmt(v: number | undefined, digits = 1): string {
  return v === undefined ? '-' : v.toFixed(digits);
}

export function formatTable(results: readonly ToolResult[]): string {
  const head = ['tool', 'step', 'wall s', '(min–max)', 'user s', 'sys s', 'flush s', 'RSS MiB', 'repo MiB', 'repo files', 'other CPU%'];
  const widths = [8, 17, 8, 13, 8, 8, 8, 8, 9, 10, 10];
  const lines: string[] = [head.map((h, i) => pad(h, widths[i] ?? 8, i < 2)).join(' ')];
  lines.push(widths.map((w) => '-'.repeat(w)).join(' '));
  for (const r of results) {
    if (r.status === 'unavailable') {
      lines.push(`${pad(r.tool, 8, true)} (not run: ${r.error ?? 'unavailable'})`);
      continue;
    }
    const steps: Array<[string, StepName]> = [
      ['init', 'init'], ['first backup', 'firstBackup'], ['unchanged backup', 'unchangedBackup'], ['restore', 'restore'],
    ];
    for (const [label, name] of steps) {
      const s = r[name];
      if (!s) continue;
      const walls = r.samples.map((x) => x[name]?.wallSeconds).filter((x): x is number => x !== undefined);
      const range = walls.length > 1 ? `${fmt(Math.min(...walls), 2)}–${fmt(Math.max(...walls), 2)}` : '';
      const cells = [
        r.tool, label, fmt(s.wallSeconds, 2), range, fmt(s.userSeconds, 2), fmt(s.systemSeconds, 2), fmt(s.flushSeconds, 2),
        fmt(s.peakRssKiB / 1024), s.repoDiskBytes === undefined ? '' : fmt(s.repoDiskBytes / MIB), s.repoFiles === undefined ? '' : String(s.repoFiles),
        fmt(s.otherCpuPercent, 0),
      ];
      lines.push(cells.map((c, i) => pad(c, widths[i] ?? 8, i < 2)).join(' '));
    }
    if (r.verify) {
      const v = r.verify;
      lines.push(`${pad(r.tool, 8, true)} verify: ${v.ok ? 'OK' : 'MISMATCH'} — ${v.files}/${v.expectedFiles} files, ` +
        `${(v.bytes / MIB).toFixed(1)}/${(v.expectedBytes / MIB).toFixed(1)} MiB${v.hashed ? ', sha256 compared' : ', sizes only'}` +
        (v.ok ? '' : ` (missing ${v.missing}, extra ${v.extra}, size ${v.sizeMismatch}, content ${v.contentMismatch})`));
    }
    if (r.status === 'failed') lines.push(`${pad(r.tool, 8, true)} FAILED: ${(r.error ?? '').split('\n')[0] ?? ''}`);
  }
  return lines.join('\n');
}

export function formatRatios(list: readonly Ratio[], results: readonly ToolResult[]): string {
  if (list.length === 0) {
    const oc = results.find((r) => r.tool === 'ocvault');
    return `ocvault ratios: none (ocvault ${oc ? oc.status : 'not selected'})`;
  }
  const lines = ['ocvault / other                 other       ocvault     other    ratio   target'];
  for (const r of list) {
    const target = r.target === undefined ? '' : `≤ ${r.target.toFixed(2)} ${r.pass ? 'PASS' : 'MISS'}`;
    lines.push(`${pad(r.metric, 31, true)} ${pad(r.other, 7, true)} ${pad(fmt(r.ocvault, 2), 9)} ${pad(fmt(r.otherValue, 2), 9)} ${pad(fmt(r.ratio, 2), 8)}   ${target}`);
  }
  return lines.join('\n');
}
