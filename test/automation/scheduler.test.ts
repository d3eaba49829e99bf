import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Scheduler, type MissedRun } from '../../src/automation/scheduler.js';
import { FakeClock, settle, waitFor } from './fakeClock.js';

const at = (d: number, h: number, mi = 0): Date => new Date(2026, 2, d, h, mi);
const hm = (d: Date): string => `${d.getDate()} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;

async function tempState(): Promise<{ dir: string; file: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ocvault-sched-'));
  return { dir, file: path.join(dir, 'state.json') };
}

test('jobs fire at their scheduled times', async () => {
  const { dir, file } = await tempState();
  const clock = new FakeClock(at(10, 0, 10));
  const ran: string[] = [];
  const s = new Scheduler({
    jobs: [
      { name: 'hourly', schedule: '0 * * * *', repository: 'r1' },
      { name: 'odd', schedule: '30 */2 * * *', repository: 'r2' },
    ],
    stateFile: file,
    clock,
    run: async (job, _reason, firedAt) => {
      ran.push(`${job}@${hm(firedAt)}`);
    },
  });
  assert.deepEqual(await s.start(), []);
  await clock.advanceTo(at(10, 4, 0));
  await s.idle();
  // the two repositories run independently: compare each job's own runs
  assert.deepEqual(ran.filter((r) => r.startsWith('hourly')), ['hourly@10 01:00', 'hourly@10 02:00', 'hourly@10 03:00', 'hourly@10 04:00']);
  assert.deepEqual(ran.filter((r) => r.startsWith('odd')), ['odd@10 00:30', 'odd@10 02:30']);
  const state = JSON.parse(await fsp.readFile(file, 'utf8')) as { lastRun: Record<string, string> };
  assert.equal(state.lastRun.hourly, at(10, 4).toISOString());
  assert.equal(state.lastRun.odd, at(10, 2, 30).toISOString());
  await s.stop();
  await fsp.rm(dir, { recursive: true });
});

test('never two jobs on one repository at once; other repositories run alongside', async () => {
  const { dir, file } = await tempState();
  const clock = new FakeClock(at(10, 0, 30));
  const active = new Map<string, number>();
  let maxOnR1 = 0;
  const finish = new Map<string, () => void>();
  const order: string[] = [];
  const repoOf: Record<string, string> = { a: 'r1', b: 'r1', c: 'r2' };
  const s = new Scheduler({
    jobs: Object.entries(repoOf).map(([name, repository]) => ({ name, schedule: '0 1 * * *', repository })),
    stateFile: file,
    clock,
    run: (job) =>
      new Promise<void>((resolve) => {
        const repo = repoOf[job]!;
        active.set(repo, (active.get(repo) ?? 0) + 1);
        if (repo === 'r1') maxOnR1 = Math.max(maxOnR1, active.get(repo)!);
        order.push(`start ${job}`);
        finish.set(job, () => {
          active.set(repo, active.get(repo)! - 1);
          order.push(`end ${job}`);
          resolve();
        });
      }),
  });
  await s.start();
  await clock.advanceTo(at(10, 1, 0));
  assert.deepEqual(order, ['start a', 'start c'], 'a and c run together, b waits for a');
  finish.get('c')!();
  await settle();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!order.includes('start b'), 'b still waits for a');
  finish.get('a')!();
  await waitFor(() => order.includes('start b'));
  assert.deepEqual(order, ['start a', 'start c', 'end c', 'end a', 'start b']);
  finish.get('b')!();
  await s.idle();
  assert.equal(maxOnR1, 1);
  await s.stop();
  await fsp.rm(dir, { recursive: true });
});

test('a failing job does not stop the others, nor its own next run', async () => {
  const { dir, file } = await tempState();
  const clock = new FakeClock(at(10, 0, 30));
  const ran: string[] = [];
  const logs: string[] = [];
  const s = new Scheduler({
    jobs: [
      { name: 'bad', schedule: '0 * * * *', repository: 'r1' },
      { name: 'good', schedule: '0 * * * *', repository: 'r1' },
    ],
    stateFile: file,
    clock,
    log: (l) => logs.push(l),
    run: async (job, _reason, firedAt) => {
      ran.push(`${job}@${hm(firedAt)}`);
      if (job === 'bad') throw new Error('database unreachable');
    },
  });
  await s.start();
  await clock.advanceTo(at(10, 2, 0));
  await s.idle();
  assert.deepEqual(ran, ['bad@10 01:00', 'good@10 01:00', 'bad@10 02:00', 'good@10 02:00']);
  assert.ok(logs.some((l) => l.includes('job bad failed: database unreachable')), logs.join('\n'));
  await s.stop();
  await fsp.rm(dir, { recursive: true });
});

test('runs missed while down are reported and run once on start', async () => {
  const { dir, file } = await tempState();
  await fsp.writeFile(file, JSON.stringify({ lastRun: { daily: at(9, 2).toISOString(), weekly: at(12, 9).toISOString() } }));
  const clock = new FakeClock(at(12, 10));
  const ran: string[] = [];
  const missed: MissedRun[] = [];
  const s = new Scheduler({
    jobs: [
      { name: 'daily', schedule: '0 2 * * *', repository: 'r1' },
      { name: 'weekly', schedule: '0 3 * * 0', repository: 'r1' },
      { name: 'fresh', schedule: '0 2 * * *', repository: 'r2' },
    ],
    stateFile: file,
    clock,
    onMissed: (m) => {
      missed.push(m);
    },
    run: async (job, reason, firedAt) => {
      ran.push(`${job}:${reason}@${hm(firedAt)}`);
    },
  });
  const reported = await s.start();
  await s.idle();
  assert.equal(reported.length, 1);
  assert.equal(missed.length, 1);
  assert.equal(missed[0]!.job, 'daily');
  assert.equal(missed[0]!.missedAt.getTime(), at(10, 2).getTime(), 'the first missed run (10th 02:00), reported once for three missed days');
  assert.deepEqual(ran, ['daily:missed@12 10:00']);
  // then the normal schedule goes on
  await clock.advanceTo(at(13, 2, 0));
  await s.idle();
  assert.deepEqual(ran, ['daily:missed@12 10:00', 'daily:schedule@13 02:00', 'fresh:schedule@13 02:00']);
  await s.stop();
  // a restart right away misses nothing
  const again = new Scheduler({ jobs: [{ name: 'daily', schedule: '0 2 * * *', repository: 'r1' }], stateFile: file, clock, run: async () => undefined });
  assert.deepEqual(await again.start(), []);
  await again.stop();
  await fsp.rm(dir, { recursive: true });
});
