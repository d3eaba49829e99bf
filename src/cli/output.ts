/** Human output: sizes, durations, tables, and progress lines that only a terminal sees. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)}s`;
}

/** The parts of a progress line that backup and restore share, as text. */
interface ProgressParts {
  /** "N files, B" done so far */
  done: string;
  /** " of N files, B" once the totals are final, else empty */
  of: string;
  /** "B/s" since `started` */
  rate: string;
  /** ", ETA T" once the totals are final and a rate is known, else empty */
  eta: string;
}

export function progressParts(started: number, done: { files: number; bytes: number }, totals: { files: number; bytes: number; done: boolean }): ProgressParts {
  const secs = (Date.now() - started) / 1000;
  const rate = secs > 0 ? done.bytes / secs : 0;
  const left = totals.done && rate > 0 ? Math.max(0, (totals.bytes - done.bytes) / rate) : undefined;
  return {
    done: `${done.files} files, ${formatBytes(done.bytes)}`,
    of: totals.done ? ` of ${totals.files} files, ${formatBytes(totals.bytes)}` : '',
    rate: `${formatBytes(rate)}/s`,
    eta: left !== undefined ? `, ETA ${formatDuration(Math.round(left * 1000))}` : '',
  };
}

/**
 * A restore's progress line: files and bytes written, of the totals once the walk of the
 * trees has found them all, the rate and then an ETA.
 */
export function restoreStatus(started: number, done: { files: number; bytes: number }, totals: { files: number; bytes: number; done: boolean }): string {
  const p = progressParts(started, done, totals);
  return `${p.done}${p.of}, ${p.rate}${p.eta}`;
}

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export interface Output {
  json: boolean;
  quiet: boolean;
  /** progress only on a terminal and not quiet */
  readonly progress: boolean;
  print(line: string): void;
  printJson(value: unknown): void;
  warn(line: string): void;
  status(line: string): void;
  clearStatus(): void;
}

export function makeOutput(json: boolean, quiet: boolean): Output {
  const tty = process.stderr.isTTY === true;
  let statusShown = false;
  return {
    json,
    quiet,
    progress: tty && !quiet && !json,
    print(line) {
      if (!quiet || json) process.stdout.write(line + '\n');
    },
    printJson(value) {
      process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    },
    warn(line) {
      this.clearStatus();
      process.stderr.write(`warning: ${line}\n`);
    },
    status(line) {
      if (!this.progress) return;
      const width = process.stderr.columns ?? 100;
      process.stderr.write('\r\x1b[K' + line.slice(0, width - 1));
      statusShown = true;
    },
    clearStatus() {
      if (statusShown) process.stderr.write('\r\x1b[K');
      statusShown = false;
    },
  };
}
