import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TemplateCopies, TestRepo } from '../helpers/cli.js';
import { backupVersions, FaultyBackend, openRepo, packFiles, restoredFiles, smallRepo, type Fault, type Version } from './fixtures.js';
import { forget } from '../../src/ops/forget.js';
import { prune } from '../../src/ops/prune.js';
import { check } from '../../src/ops/check.js';
import { IndexView } from '../../src/ops/indexView.js';

/**
 * Prune interrupted at every kind of step (repack upload, new index, pack deletion, old index
 * deletion): afterwards the repository is valid — every kept snapshot restores byte for byte,
 * check finds no error — and the next prune finishes the job.
 */
describe('prune is crash-safe', () => {
  let template: TestRepo;
  let kept: Version[];
  const copies = new TemplateCopies(() => template);

  before(async () => {
    template = await smallRepo();
    const versions = await backupVersions(template, template.path('shop'), 5);
    const repo = await openRepo(template);
    try {
      await forget(repo, { policy: { last: 2 } });
    } finally {
      await repo.close();
    }
    kept = versions.slice(3);
  });
  after(() => copies.cleanup());
  const copy = (): Promise<TestRepo> => copies.copy();

  /** How many times an uninterrupted prune saves or removes objects, by `op type`. */
  async function count(): Promise<Map<string, number>> {
    const t = await copy();
    const counter = new FaultyBackend(t.repo, { op: 'save', type: 'data', nth: Number.MAX_SAFE_INTEGER });
    const repo = await openRepo(t, { backend: counter });
    try {
      await prune(repo, { maxUnused: { percent: 0 } });
    } finally {
      await repo.close();
    }
    return counter.callsByType;
  }

  /** check finds no error and (with `restores`) every kept snapshot restores byte for byte; a fresh cache unless `cacheDir`. */
  async function assertWhole(t: TestRepo, label: string, restores: boolean, cacheDir?: string): Promise<void> {
    const repo = await openRepo(t, { cacheDir: cacheDir ?? t.path(`cache-${Math.random().toString(36).slice(2)}`) });
    try {
      const report = await check(repo);
      assert.deepEqual(report.errors, [], `${label}: check finds no error`);
      assert.deepEqual(repo.snapshots().map((s) => s.id), kept.map((v) => v.id), `${label}: the kept snapshots`);
      if (restores) for (const v of kept) assert.deepEqual(await restoredFiles(repo, v.id, t.path(`r-${Math.random().toString(36).slice(2)}`)), v.files, `${label}: ${v.time} restores`);
    } finally {
      await repo.close();
    }
  }

  test('interrupted at each step, the repository stays whole and the next prune completes', async () => {
    const calls = await count();
    const dataSaves = calls.get('save data') ?? 0;
    const dataRemoves = calls.get('remove data') ?? 0;
    assert.ok(dataSaves >= 1 && dataRemoves >= 2, `the full prune repacks (${dataSaves} new packs) and deletes (${dataRemoves} packs)`);
    const faults: Fault[] = [
      { op: 'save', type: 'data', nth: dataSaves }, // the last new pack of the repack
      { op: 'save', type: 'index', nth: 1 }, // the new index
      { op: 'remove', type: 'data', nth: 1 }, // the first pack deletion
      { op: 'remove', type: 'data', nth: dataRemoves }, // the last pack deletion
      { op: 'remove', type: 'index', nth: 1 }, // the old index
    ];
    for (const f of faults) {
      const label = `${f.op} ${f.type} #${f.nth}`;
      const t = await copy();
      const faulty = new FaultyBackend(t.repo, f);
      const repo = await openRepo(t, { backend: faulty });
      try {
        await assert.rejects(prune(repo, { maxUnused: { percent: 0 } }), /injected crash/, label);
      } finally {
        await repo.close();
      }
      assert.ok(faulty.fired, `${label}: the fault fired`);
      await assertWhole(t, label, false);
      // restores go through the local index: the cache the interrupted prune left behind must
      // not point into deleted packs
      await assertWhole(t, `${label}, with the crashed process's cache`, true, t.cache);

      // the next prune finishes; leftovers a superseded index lists go at once, packs that were
      // never indexed (new packs of an interrupted repack) wait for their grace period
      let repo2 = await openRepo(t);
      try {
        const r = await prune(repo2, { maxUnused: { percent: 0 } });
        assert.ok(r.orphans.every((o) => o.action === (o.reason.includes('superseded') || o.reason.includes('interrupted') ? 'delete' : 'keep')), `${label}: ${JSON.stringify(r.orphans)}`);
        if (f.type === 'index' && f.op === 'remove') assert.ok(r.segments.removed > 0, `${label}: old segments removed`);
      } finally {
        await repo2.close();
      }
      repo2 = await openRepo(t);
      try {
        await prune(repo2, { orphanGraceMs: 0 });
        const view = await IndexView.load(repo2);
        assert.deepEqual([...(await packFiles(t.repo)).keys()].sort(), [...view.packs.keys()].sort(), `${label}: in the end every pack in storage is indexed`);
        assert.deepEqual(view.superseded.size, 0);
      } finally {
        await repo2.close();
      }
      await assertWhole(t, `${label}, after the next prune`, false);
    }
  });

  test('an unindexed pack is kept by the first prune that sees it and deleted by one after the grace period', async () => {
    const t = await copy();
    const [some] = [...(await packFiles(t.repo)).entries()];
    const stray = path.join(t.repo, 'data', 'ab', 'ab'.repeat(32));
    await fsp.copyFile(some![1], stray);
    const repo = await openRepo(t);
    try {
      const first = await prune(repo, { now: new Date('2030-01-01T00:00:00Z') });
      assert.deepEqual(first.orphans.map((o) => [o.id, o.action]), [['ab'.repeat(32), 'keep']]);
      const soon = await prune(repo, { now: new Date('2030-01-01T12:00:00Z') });
      assert.deepEqual(soon.orphans.map((o) => o.action), ['keep']);
      const later = await prune(repo, { now: new Date('2030-01-02T00:00:01Z') });
      assert.deepEqual(later.orphans.map((o) => o.action), ['delete']);
    } finally {
      await repo.close();
    }
    await assert.rejects(fsp.stat(stray), 'the stray pack is gone');
  });
});
