import { OcvaultError } from '../errors/OcvaultError.js';

/**
 * locks/<id>: who holds the repository. Backups take shared locks; maintenance that deletes
 * data (prune, repair) takes an exclusive one. Holders refresh their lock; a lock not
 * refreshed for STALE_MS, or held by a dead process on this host, is stale.
 */
export interface Lock {
  version: 1;
  time: string;
  host: string;
  pid: number;
  user: string;
  exclusive: boolean;
}

export const REFRESH_MS = 5 * 60 * 1000;
export const STALE_MS = 30 * 60 * 1000;

/** How often a held lock is refreshed and when an unrefreshed one counts as stale. */
export interface LockTiming {
  refreshMs: number;
  staleMs: number;
}

export const LOCK_TIMING: LockTiming = { refreshMs: REFRESH_MS, staleMs: STALE_MS };

export function encodeLock(l: Lock): Buffer {
  return Buffer.from(JSON.stringify(l));
}

export function decodeLock(bytes: Uint8Array, name: string): Lock {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new OcvaultError('CorruptObject', `lock ${name} is malformed`, { lock: name });
  }
  const l = v as Partial<Lock>;
  if (l.version !== 1 || typeof l.time !== 'string' || typeof l.host !== 'string' || typeof l.pid !== 'number' || typeof l.exclusive !== 'boolean') {
    throw new OcvaultError('CorruptObject', `lock ${name} is malformed`, { lock: name });
  }
  return l as Lock;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/** Stale: too old, or its process on this same host is gone. */
export function isStale(l: Lock, now: number, thisHost: string, staleMs = STALE_MS): boolean {
  if (now - Date.parse(l.time) > staleMs) return true;
  return l.host === thisHost && !processAlive(l.pid);
}

export function conflicts(wanted: { exclusive: boolean }, held: Lock): boolean {
  return wanted.exclusive || held.exclusive;
}
