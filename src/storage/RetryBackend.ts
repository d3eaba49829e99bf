import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend, ByteRange, LoadHints, ObjectInfo, ObjectType } from './Backend.js';
import { isTransient } from './storageErrors.js';

export interface RetryOptions {
  /** tries after the first (default 6: about half a minute of backoff in all) */
  retries?: number;
  /** first delay; each retry doubles it, with jitter (default 500 ms) */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** told about each retry, e.g. to print a warning */
  onRetry?: (what: string, attempt: number, error: unknown, delayMs: number) => void;
}

/**
 * Retries operations that failed with a transient error (see storageErrors.isTransient), with
 * exponential backoff. Every Backend operation is idempotent — objects are immutable and named
 * by their content — so trying a save or remove again is safe. Permanent errors (missing
 * object, wrong credentials, unknown host key) pass straight through.
 */
export class RetryBackend implements Backend {
  readonly location: string;
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(readonly inner: Backend, private readonly opts: RetryOptions = {}) {
    this.location = inner.location;
    this.retries = opts.retries ?? 6;
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 15_000;
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (attempt > this.retries || !isTransient(e)) throw e;
        const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        const delay = Math.round(backoff / 2 + (Math.random() * backoff) / 2);
        this.opts.onRetry?.(what, attempt, e, delay);
        await sleep(delay);
      }
    }
  }

  create(): Promise<void> {
    return this.retry('create', () => this.inner.create());
  }

  save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.retry(`save ${type}/${name}`, () => this.inner.save(type, name, data));
  }

  load(type: ObjectType, name: string, range?: ByteRange, hints?: LoadHints): Promise<Buffer> {
    return this.retry(`load ${type}/${name}`, () => this.inner.load(type, name, range, hints));
  }

  stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    return this.retry(`stat ${type}/${name}`, () => this.inner.stat(type, name));
  }

  list(type: ObjectType): Promise<ObjectInfo[]> {
    return this.retry(`list ${type}`, () => this.inner.list(type));
  }

  remove(type: ObjectType, name: string): Promise<void> {
    return this.retry(`remove ${type}/${name}`, () => this.inner.remove(type, name));
  }

  /** Passed on to the store, where it keeps temporary uploads. */
  removeStaleTemporaries(olderThanMs: number): Promise<void> {
    return this.retry('removal of stale temporaries', async () => this.inner.removeStaleTemporaries?.(olderThanMs));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
