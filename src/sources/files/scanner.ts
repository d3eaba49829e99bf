import { promises as fsp } from 'node:fs';
import { matchesAny, type PathPattern } from './glob.js';

export interface ScanTotals {
  files: number;
  bytes: number;
  done: boolean;
}

/**
 * Counts what a backup will cover (lstat only), so progress can show an ETA. Runs beside the
 * backup; errors are ignored here because the archiver reports them.
 */
export async function scanTotals(paths: readonly string[], excludes: readonly PathPattern[], totals: ScanTotals): Promise<void> {
  const walk = async (abs: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await fsp.readdir(abs);
    } catch {
      return;
    }
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const child = `${abs}/${name}`;
      try {
        const st = await fsp.lstat(child);
        if (matchesAny(excludes, childRel, st.isDirectory())) continue;
        if (st.isDirectory()) await walk(child, childRel);
        else if (st.isFile()) {
          totals.files++;
          totals.bytes += st.size;
        }
      } catch {
        // vanished: the archiver will say so
      }
    }
  };
  for (const p of paths) {
    try {
      const st = await fsp.lstat(p);
      if (st.isDirectory()) await walk(p, paths.length === 1 ? '' : p.split('/').pop()!);
      else if (st.isFile()) {
        totals.files++;
        totals.bytes += st.size;
      }
    } catch {
      // reported by the archiver
    }
  }
  totals.done = true;
}
