import { readdirSync, readFileSync } from 'node:fs';

/** The pids of every descendant of `pid` (children first found via /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Kills a process this test started, and everything it started, by pid. */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  const all = [pid, ...descendants(pid)];
  for (const p of all) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}
