import pLimit, { type LimitFunction } from 'p-limit';
import type { Backend, ByteRange, LoadHints, ObjectInfo, ObjectType } from './Backend.js';

/**
 * At most `connections` operations reach the store at once (a remote server or API has its
 * own limits; more parallel requests than it serves only add timeouts). Put it under the
 * RetryBackend so that a request waiting out its backoff does not hold a slot.
 */
export class LimitBackend implements Backend {
  readonly location: string;
  private readonly limit: LimitFunction;

  constructor(readonly inner: Backend, readonly connections: number) {
    this.location = inner.location;
    this.limit = pLimit(Math.max(1, connections));
  }

  /** Operations running or waiting. */
  get pending(): number {
    return this.limit.activeCount + this.limit.pendingCount;
  }

  create(): Promise<void> {
    return this.limit(() => this.inner.create());
  }

  save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.limit(() => this.inner.save(type, name, data));
  }

  load(type: ObjectType, name: string, range?: ByteRange, hints?: LoadHints): Promise<Buffer> {
    return this.limit(() => this.inner.load(type, name, range, hints));
  }

  stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    return this.limit(() => this.inner.stat(type, name));
  }

  list(type: ObjectType): Promise<ObjectInfo[]> {
    return this.limit(() => this.inner.list(type));
  }

  remove(type: ObjectType, name: string): Promise<void> {
    return this.limit(() => this.inner.remove(type, name));
  }

  /** Passed on to the store, where it keeps temporary uploads. */
  removeStaleTemporaries(olderThanMs: number): Promise<void> {
    return this.limit(async () => this.inner.removeStaleTemporaries?.(olderThanMs));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
