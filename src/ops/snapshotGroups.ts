import { OcvaultError } from '../errors/OcvaultError.js';
import type { Snapshot } from '../repo/snapshot.js';

/** What `--group-by` may name; a policy applies to each group on its own. */
export type GroupField = 'host' | 'paths' | 'store' | 'tags';

export const GROUP_FIELDS: readonly GroupField[] = ['host', 'paths', 'store', 'tags'];

export interface GroupKey {
  host?: string;
  paths?: string[];
  store?: string | null;
  tags?: string[];
}

/** Parses `host,paths` (an empty string: everything in one group). */
export function parseGroupBy(text: string): GroupField[] {
  const fields = text.split(',').map((f) => f.trim()).filter((f) => f.length > 0);
  for (const f of fields) {
    if (!GROUP_FIELDS.includes(f as GroupField)) throw new OcvaultError('Usage', `cannot group by ${JSON.stringify(f)}: use ${GROUP_FIELDS.join(', ')}`);
  }
  return [...new Set(fields)] as GroupField[];
}

export function groupKey(s: Snapshot, fields: readonly GroupField[]): GroupKey {
  const key: GroupKey = {};
  for (const f of fields) {
    if (f === 'host') key.host = s.host;
    else if (f === 'paths') key.paths = [...s.paths].sort();
    else if (f === 'store') key.store = s.store ?? null;
    else key.tags = [...s.tags].sort();
  }
  return key;
}

/** Groups snapshots by the fields, keeping the order in which groups first appear. */
export function groupSnapshots<T extends { snapshot: Snapshot }>(list: readonly T[], fields: readonly GroupField[]): { key: GroupKey; members: T[] }[] {
  const groups = new Map<string, { key: GroupKey; members: T[] }>();
  for (const item of list) {
    const key = groupKey(item.snapshot, fields);
    const k = JSON.stringify(key);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { key, members: [] }));
    g.members.push(item);
  }
  return [...groups.values()];
}

export function describeGroup(key: GroupKey): string {
  const parts: string[] = [];
  if (key.host !== undefined) parts.push(`host ${key.host}`);
  if (key.store !== undefined) parts.push(`store ${key.store ?? '(none)'}`);
  if (key.paths !== undefined) parts.push(`paths ${key.paths.join(' ') || '(none)'}`);
  if (key.tags !== undefined) parts.push(`tags ${key.tags.join(',') || '(none)'}`);
  return parts.length ? parts.join(', ') : 'all snapshots';
}
