import { hostname, userInfo } from 'node:os';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Backend } from '../storage/Backend.js';
import type { Blake3 } from './hash.js';
import type { Sealer } from './sealer.js';
import { conflicts, decodeLock, encodeLock, isStale, LOCK_TIMING, type Lock, type LockTiming } from './lock.js';
import { openObject, sealObject } from './objectCodec.js';

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

/** A lock this process holds, refreshed in the background until released. */
export class HeldLock {
  private timer: NodeJS.Timeout | undefined;
  private lostError: OcvaultError | undefined;
  /** our lock object is gone: nothing of ours to remove */
  private vanished = false;
  private lastRefresh = Date.now();

  constructor(
    private readonly backend: Backend,
    private readonly store: (l: Lock) => Promise<string>,
    private name: string,
    readonly exclusive: boolean,
    private readonly timing: LockTiming = LOCK_TIMING,
  ) {
    this.timer = setInterval(() => void this.refresh(), timing.refreshMs);
    this.timer.unref();
  }

  /**
   * Stores a fresh lock, then removes the previous one. If our lock is gone (removed by
   * `unlock --remove-all`, or the repository was deleted and made anew at the same place), the
   * lock is lost: stop, and store nothing, rather than go on unprotected or leave a lock sealed
   * with our key in what may now be another repository.
   */
  private async refresh(): Promise<void> {
    if (this.lostError) return;
    try {
      try {
        await this.backend.stat('locks', this.name);
      } catch (e) {
        if (e instanceof OcvaultError && e.code === 'ObjectNotFound') {
          this.vanished = true;
          this.lose(new OcvaultError('LockLost', `the repository lock ${this.name.slice(0, 12)} was removed by someone else (ocvault unlock --remove-all, or the repository was deleted); stopping rather than risk data`));
          return;
        }
        throw e;
      }
      const fresh = await this.store(newLock(this.exclusive));
      const old = this.name;
      this.name = fresh;
      this.lastRefresh = Date.now();
      await this.backend.remove('locks', old);
    } catch (e) {
      if (Date.now() - this.lastRefresh > this.timing.staleMs - this.timing.refreshMs) {
        this.lose(new OcvaultError('LockLost', `the repository lock could not be refreshed (${e instanceof Error ? e.message : String(e)}); stopping rather than risk data`));
      }
    }
  }

  private lose(e: OcvaultError): void {
    this.lostError = e;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Throws when the lock could not be kept; called before anything is made visible. */
  check(): void {
    if (this.lostError) throw this.lostError;
    if (Date.now() - this.lastRefresh > this.timing.staleMs - this.timing.refreshMs) {
      throw new OcvaultError('LockLost', 'the repository lock was not refreshed in time; stopping rather than risk data');
    }
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.vanished) return;
    await this.backend.remove('locks', this.name);
  }
}

/**
 * Removes locks: stale ones (dead process on this host, or not refreshed for STALE_MS), or
 * with `all` every lock, unreadable ones too. Returns the names removed.
 */
export async function removeLocks(backend: Backend, sealer: Sealer, all: boolean): Promise<string[]> {
  const removed: string[] = [];
  const now = Date.now();
  for (const info of await backend.list('locks')) {
    let stale = all;
    if (!stale) {
      try {
        stale = isStale(decodeLock(openObject(sealer, await backend.load('locks', info.name), `lock ${info.name}`), info.name), now, hostname());
      } catch (e) {
        if (!(e instanceof OcvaultError)) throw e;
      }
    }
    if (stale) {
      await backend.remove('locks', info.name);
      removed.push(info.name);
    }
  }
  return removed;
}

export function newLock(exclusive: boolean): Lock {
  return { version: 1, time: new Date().toISOString(), host: hostname(), pid: process.pid, user: currentUser(), exclusive };
}

/**
 * Takes a shared or exclusive lock: removes stale locks of dead processes on this host,
 * stores ours, then looks again so that two racing processes cannot both win.
 */
export async function acquireLock(backend: Backend, sealer: Sealer, hasher: Blake3, exclusive: boolean, timing: LockTiming = LOCK_TIMING): Promise<HeldLock> {
  const store = async (l: Lock): Promise<string> => {
    const bytes = sealObject(sealer, encodeLock(l), 0);
    const name = hasher.plain(bytes).toString('hex');
    await backend.save('locks', name, bytes);
    return name;
  };
  const blocking = async (mine?: string): Promise<Lock | undefined> => {
    const now = Date.now();
    for (const info of await backend.list('locks')) {
      if (info.name === mine) continue;
      let lock: Lock;
      try {
        lock = decodeLock(openObject(sealer, await backend.load('locks', info.name), `lock ${info.name}`), info.name);
      } catch (e) {
        if (e instanceof OcvaultError && e.code === 'ObjectNotFound') continue;
        if (e instanceof OcvaultError && e.code === 'CorruptObject') {
          throw new OcvaultError('Locked', `repository ${backend.location} holds lock ${info.name.slice(0, 12)} that cannot be read (${e.message}); if no other ocvault uses the repository, remove it with 'ocvault unlock --remove-all'`, { lock: info.name });
        }
        throw e;
      }
      if (isStale(lock, now, hostname(), timing.staleMs)) {
        if (lock.host === hostname() && now - Date.parse(lock.time) <= timing.staleMs) await backend.remove('locks', info.name);
        continue;
      }
      if (conflicts({ exclusive }, lock)) return lock;
    }
    return undefined;
  };
  // A live process here is simply busy. Another host's process cannot be seen from here: its lock
  // goes stale when no longer refreshed, or an operator who knows it is gone removes it at once.
  const hint = (l: Lock): string =>
    l.host === hostname()
      ? 'wait for it to finish'
      : `if no ocvault runs on ${l.host} any more, remove the lock with 'ocvault unlock --remove-all' ('ocvault unlock' removes it once not refreshed for ${Math.round(timing.staleMs / 60_000)} minutes)`;
  const describe = (l: Lock): string => `${l.exclusive ? 'exclusively' : 'shared'} by ${l.user ? l.user + '@' : ''}${l.host} pid ${l.pid} since ${l.time}; ${hint(l)}`;
  const before = await blocking();
  if (before) throw new OcvaultError('Locked', `repository ${backend.location} is locked ${describe(before)}`, { host: before.host, pid: before.pid });
  const name = await store(newLock(exclusive));
  const after = await blocking(name);
  if (after) {
    await backend.remove('locks', name);
    throw new OcvaultError('Locked', `repository ${backend.location} is locked ${describe(after)}`, { host: after.host, pid: after.pid });
  }
  return new HeldLock(backend, store, name, exclusive, timing);
}
