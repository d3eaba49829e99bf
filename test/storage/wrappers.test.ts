import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend } from '../../src/storage/MemoryBackend.js';
import { RetryBackend } from '../../src/storage/RetryBackend.js';
import { LimitBackend } from '../../src/storage/LimitBackend.js';
import { FaultBackend } from '../../src/storage/FaultBackend.js';
import { storageFailure } from '../../src/storage/storageErrors.js';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import type { Backend, ByteRange, ObjectInfo, ObjectType } from '../../src/storage/Backend.js';
import { backendConformance } from './conformance.js';

backendConformance('retry+limit over memory', async () => new RetryBackend(new LimitBackend(new MemoryBackend(), 2)));

test('retry: transient failures are retried until they pass', async () => {
  const fault = new FaultBackend(new MemoryBackend());
  const retries: number[] = [];
  const b = new RetryBackend(fault, { baseDelayMs: 1, onRetry: (_w, attempt) => retries.push(attempt) });
  fault.inject({ op: 'save', times: 3 });
  await b.save('snapshots', 's', Buffer.from('x'));
  assert.deepEqual(retries, [1, 2, 3]);
  assert.equal((await b.load('snapshots', 's')).toString(), 'x');
});

test('retry: gives up after its retries with the last error', async () => {
  const fault = new FaultBackend(new MemoryBackend());
  const b = new RetryBackend(fault, { retries: 2, baseDelayMs: 1 });
  fault.inject({ op: 'list', times: Infinity });
  await assert.rejects(b.list('index'), (e: unknown) => e instanceof OcvaultError && e.code === 'StorageError');
  assert.equal(fault.calls.list, 3);
});

test('retry: permanent errors and missing objects are not retried', async () => {
  const fault = new FaultBackend(new MemoryBackend());
  const b = new RetryBackend(fault, { baseDelayMs: 1 });
  await assert.rejects(b.load('keys', 'none'), (e: unknown) => e instanceof OcvaultError && e.code === 'ObjectNotFound');
  assert.equal(fault.calls.load, 1);
  fault.inject({ op: 'stat', error: () => storageFailure('mem', 'stat', 'access denied', false) });
  await assert.rejects(b.stat('keys', 'k'), /access denied/);
  assert.equal(fault.calls.stat, 1);
});

test('retry: a save whose reply was lost is tried again harmlessly', async () => {
  const mem = new MemoryBackend();
  const fault = new FaultBackend(mem);
  const b = new RetryBackend(fault, { baseDelayMs: 1 });
  fault.inject({ op: 'save', afterSave: true });
  await b.save('data', 'ab'.repeat(32), Buffer.from('pack'));
  assert.equal(fault.calls.save, 2);
  assert.deepEqual(await mem.list('data'), [{ name: 'ab'.repeat(32), size: 4 }]);
});

/** A backend that counts how many calls run at once. */
class Counting implements Backend {
  readonly location = 'counting:';
  now = 0;
  max = 0;
  private async busy<T>(v: T): Promise<T> {
    this.now++;
    this.max = Math.max(this.max, this.now);
    await new Promise((r) => setTimeout(r, 5));
    this.now--;
    return v;
  }
  create(): Promise<void> {
    return this.busy(undefined);
  }
  save(_t: ObjectType, _n: string, _d: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.busy(undefined);
  }
  load(_t: ObjectType, _n: string, _r?: ByteRange): Promise<Buffer> {
    return this.busy(Buffer.alloc(0));
  }
  stat(_t: ObjectType, name: string): Promise<ObjectInfo> {
    return this.busy({ name, size: 0 });
  }
  list(_t: ObjectType): Promise<ObjectInfo[]> {
    return this.busy([]);
  }
  remove(_t: ObjectType, _n: string): Promise<void> {
    return this.busy(undefined);
  }
  async close(): Promise<void> {}
}

test('limit: no more operations at once than connections', async () => {
  const inner = new Counting();
  const b = new LimitBackend(inner, 3);
  await Promise.all([
    ...Array.from({ length: 10 }, (_, i) => b.save('data', `d${i}`, Buffer.alloc(1))),
    ...Array.from({ length: 10 }, (_, i) => b.load('data', `d${i}`)),
    b.list('index'),
    b.stat('keys', 'k'),
  ]);
  assert.equal(inner.max, 3);
});
