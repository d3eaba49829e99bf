import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import { applyPolicy, describePolicy, isEmptyPolicy, type KeepPolicy } from './keepPolicy.js';
import { groupSnapshots, type GroupField, type GroupKey } from './snapshotGroups.js';

export interface ForgetOptions {
  policy: KeepPolicy;
  /** default host,paths (like restic) */
  groupBy?: GroupField[];
  /** forget exactly these snapshots instead of applying a policy */
  snapshots?: string[];
  dryRun?: boolean;
  now?: Date;
  /** periods in UTC instead of the local time zone */
  utc?: boolean;
}

export interface ForgetEntry {
  id: string;
  time: string;
  tags: string[];
  keep: boolean;
  /** the rules that kept it; for a removed snapshot, why it goes */
  reasons: string[];
}

export interface ForgetGroup {
  key: GroupKey;
  snapshots: ForgetEntry[];
}

export interface ForgetResult {
  policy: string;
  dryRun: boolean;
  groups: ForgetGroup[];
  kept: number;
  removed: string[];
}

export const DEFAULT_GROUP_BY: GroupField[] = ['host', 'paths'];

/**
 * Applies a keep policy to each group of snapshots and deletes the snapshot objects it does not
 * keep (the data they alone used goes at the next prune). Refuses a policy that keeps nothing.
 */
export async function forget(repo: Repository, opts: ForgetOptions): Promise<ForgetResult> {
  const explicit = opts.snapshots ?? [];
  if (explicit.length > 0 && !isEmptyPolicy(opts.policy)) throw new OcvaultError('Usage', 'give either snapshots to forget or a keep policy, not both');
  if (explicit.length === 0 && isEmptyPolicy(opts.policy)) {
    throw new OcvaultError('Usage', 'no keep rule given (--keep-last, --keep-daily, --keep-within, --keep-tag, ...): refusing to forget every snapshot');
  }
  if (!opts.dryRun) await repo.lockExclusive();
  await repo.syncSnapshots();
  const all = repo.snapshots();

  let groups: ForgetGroup[];
  if (explicit.length > 0) {
    const doomed = new Set(explicit.map((ref) => repo.resolveSnapshot(ref).id));
    groups = groupSnapshots(all.filter((s) => doomed.has(s.id)), []).map((g) => ({
      key: g.key,
      snapshots: g.members.map(({ id, snapshot: s }) => ({ id, time: s.time, tags: s.tags, keep: false, reasons: ['named on the command line'] })),
    }));
  } else {
    groups = groupSnapshots(all, opts.groupBy ?? DEFAULT_GROUP_BY).map((g) => {
      const byId = new Map(g.members.map((m) => [m.id, m.snapshot]));
      const decisions = applyPolicy(
        g.members.map((m) => ({ id: m.id, time: new Date(m.snapshot.time), tags: m.snapshot.tags })),
        opts.policy,
        { now: opts.now, utc: opts.utc },
      );
      return {
        key: g.key,
        snapshots: decisions.map((d) => ({ id: d.id, time: byId.get(d.id)!.time, tags: byId.get(d.id)!.tags, keep: d.keep, reasons: d.keep ? d.reasons : ['no rule keeps it'] })),
      };
    });
  }

  const removed = groups.flatMap((g) => g.snapshots.filter((s) => !s.keep).map((s) => s.id));
  if (!opts.dryRun) for (const id of removed) await repo.removeSnapshot(id);
  return {
    policy: explicit.length > 0 ? `forget ${explicit.length} named snapshot(s)` : describePolicy(opts.policy),
    dryRun: opts.dryRun === true,
    groups,
    kept: groups.reduce((n, g) => n + g.snapshots.filter((s) => s.keep).length, 0),
    removed,
  };
}
