import { OcvaultError } from '../errors/OcvaultError.js';
import { Repository, type OpenOptions } from '../repo/repository.js';
import type { Backend, ByteRange, ObjectInfo, ObjectType } from '../storage/Backend.js';

export interface SkippedObject {
  type: 'index' | 'snapshots';
  name: string;
  message: string;
}

/** A backend that leaves some objects out of its listings (and passes everything else through). */
class HidingBackend implements Backend {
  readonly hidden = new Set<string>();

  constructor(readonly inner: Backend) {}

  get location(): string {
    return this.inner.location;
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.inner.save(type, name, data);
  }

  load(type: ObjectType, name: string, range?: ByteRange): Promise<Buffer> {
    return this.inner.load(type, name, range);
  }

  stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    return this.inner.stat(type, name);
  }

  async list(type: ObjectType): Promise<ObjectInfo[]> {
    return (await this.inner.list(type)).filter((o) => !this.hidden.has(`${type}/${o.name}`));
  }

  remove(type: ObjectType, name: string): Promise<void> {
    return this.inner.remove(type, name);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The index segment or snapshot object a failed open names as damaged, if any. */
function damagedObject(e: unknown): SkippedObject | undefined {
  if (!(e instanceof OcvaultError) || e.code !== 'CorruptObject') return undefined;
  const d = e.data;
  const m = typeof d.object === 'string' ? /^(index|snapshots)\/([0-9a-f]{64})$/.exec(d.object) : null;
  if (m) return { type: m[1] as SkippedObject['type'], name: m[2]!, message: e.message };
  if (typeof d.index === 'string') return { type: 'index', name: d.index, message: e.message };
  if (typeof d.snapshot === 'string' && /^[0-9a-f]{64}$/.test(d.snapshot)) return { type: 'snapshots', name: d.snapshot, message: e.message };
  return undefined;
}

/**
 * Opens a repository even when index segments or snapshot objects are damaged: each one the
 * normal open trips over is left out and reported, so check can run and name it, and repair can
 * work around it. `backend` (the unfiltered one) is returned for listings that must see all.
 */
export async function openTolerant(backend: Backend, opts: OpenOptions): Promise<{ repo: Repository; skipped: SkippedObject[]; backend: Backend }> {
  const hiding = new HidingBackend(backend);
  const skipped: SkippedObject[] = [];
  for (;;) {
    try {
      return { repo: await Repository.open(hiding, opts), skipped, backend };
    } catch (e) {
      const bad = damagedObject(e);
      if (!bad || hiding.hidden.has(`${bad.type}/${bad.name}`)) throw e;
      hiding.hidden.add(`${bad.type}/${bad.name}`);
      skipped.push(bad);
    }
  }
}
