import type { Backend, ByteRange, LoadHints, ObjectInfo, ObjectType } from './Backend.js';
import { storageFailure } from './storageErrors.js';

export type BackendOp = 'create' | 'save' | 'load' | 'stat' | 'list' | 'remove';

/** One injected failure: which calls it hits, how many times, and what they throw. */
export interface Fault {
  op?: BackendOp;
  type?: ObjectType;
  /** calls to let through before failing (default 0) */
  skip?: number;
  /** calls to fail (default 1; Infinity: until cleared) */
  times?: number;
  /** what to throw (default a transient StorageError) */
  error?: () => Error;
  /** for saves: store the object anyway, then fail (the reply was lost, not the upload) */
  afterSave?: boolean;
  /** instead of failing: run this (e.g. stop the server), then let the call through */
  action?: () => Promise<void>;
  /** instead of failing: wait this long, then let the call through (a slow store) */
  delayMs?: number;
  /** for loads, instead of failing: return these bytes instead of what was read (a short or garbled read) */
  mangle?: (data: Buffer) => Buffer;
}

interface ActiveFault extends Required<Omit<Fault, 'op' | 'type' | 'action' | 'delayMs' | 'mangle'>> {
  op?: BackendOp;
  type?: ObjectType;
  action?: () => Promise<void>;
  delayMs?: number;
  mangle?: (data: Buffer) => Buffer;
}

/** A backend that fails on purpose, for tests of retries and of crash recovery. */
export class FaultBackend implements Backend {
  readonly location: string;
  private faults: ActiveFault[] = [];
  /** calls per operation, failed ones included */
  readonly calls: Record<BackendOp, number> = { create: 0, save: 0, load: 0, stat: 0, list: 0, remove: 0 };
  /** calls by `op type` (e.g. `remove data`), failed ones included */
  readonly callsByType = new Map<string, number>();
  /** injected failures thrown so far */
  failures = 0;

  constructor(readonly inner: Backend) {
    this.location = inner.location;
  }

  inject(f: Fault): void {
    this.faults.push({
      op: f.op,
      type: f.type,
      skip: f.skip ?? 0,
      times: f.times ?? 1,
      error: f.error ?? (() => storageFailure(this.location, `${f.op ?? 'operation'} (injected)`, 'connection reset by the server', true)),
      afterSave: f.afterSave ?? false,
      action: f.action,
      delayMs: f.delayMs,
      mangle: f.mangle,
    });
  }

  clear(): void {
    this.faults = [];
  }

  /** The fault this call hits, if any (counting down its skips and times). */
  private hit(op: BackendOp, type?: ObjectType): ActiveFault | undefined {
    this.calls[op]++;
    if (type) this.callsByType.set(`${op} ${type}`, (this.callsByType.get(`${op} ${type}`) ?? 0) + 1);
    for (const f of this.faults) {
      if ((f.op && f.op !== op) || (f.type && f.type !== type) || f.times <= 0) continue;
      if (f.skip > 0) {
        f.skip--;
        continue;
      }
      f.times--;
      return f;
    }
    return undefined;
  }

  private async run<T>(op: BackendOp, type: ObjectType | undefined, fn: () => Promise<T>): Promise<T> {
    const f = this.hit(op, type);
    if (!f) return fn();
    if (f.action) {
      await f.action();
      return fn();
    }
    if (f.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, f.delayMs));
      return fn();
    }
    if (f.mangle) {
      const mangle = f.mangle;
      const data = await fn();
      return (Buffer.isBuffer(data) ? mangle(data) : data) as T;
    }
    if (f.afterSave) await fn();
    this.failures++;
    throw f.error();
  }

  create(): Promise<void> {
    return this.run('create', undefined, () => this.inner.create());
  }

  save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.run('save', type, () => this.inner.save(type, name, data));
  }

  load(type: ObjectType, name: string, range?: ByteRange, hints?: LoadHints): Promise<Buffer> {
    return this.run('load', type, () => this.inner.load(type, name, range, hints));
  }

  stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    return this.run('stat', type, () => this.inner.stat(type, name));
  }

  list(type: ObjectType): Promise<ObjectInfo[]> {
    return this.run('list', type, () => this.inner.list(type));
  }

  remove(type: ObjectType, name: string): Promise<void> {
    return this.run('remove', type, () => this.inner.remove(type, name));
  }

  /** Passed on to the store, where it keeps temporary uploads. */
  removeStaleTemporaries(olderThanMs: number): Promise<void> {
    return this.inner.removeStaleTemporaries?.(olderThanMs) ?? Promise.resolve();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
