import type { Clock } from '../../src/automation/scheduler.js';

/** A clock the test moves by hand: sleepers wake when `advanceTo` passes their time. */
export class FakeClock implements Clock {
  private t: number;
  private sleepers: { when: number; resolve: () => void }[] = [];

  constructor(start: Date) {
    this.t = start.getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  sleepUntil(when: Date, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (when.getTime() <= this.t || signal.aborted) return resolve();
      const s = { when: when.getTime(), resolve };
      this.sleepers.push(s);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** Moves time forward, waking each sleeper at its own time and letting the loop react. */
  async advanceTo(target: Date): Promise<void> {
    for (;;) {
      await settle();
      const due = this.sleepers.filter((s) => s.when <= target.getTime()).sort((a, b) => a.when - b.when)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.when);
      this.sleepers = this.sleepers.filter((s) => s !== due);
      due.resolve();
    }
    this.t = target.getTime();
    await settle();
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls (real time) until `cond` holds; fails after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
