import { OcvaultError } from '../errors/OcvaultError.js';
import { joinParts, type Backend, type ByteRange, type ObjectInfo, type ObjectType } from './Backend.js';

/** A repository in memory: for tests of the layers above storage, and the conformance suite. */
export class MemoryBackend implements Backend {
  readonly location = 'memory:';
  private readonly objects = new Map<string, Buffer>();

  private key(type: ObjectType, name: string): string {
    return `${type}/${name}`;
  }

  async create(): Promise<void> {
    if (this.objects.has(this.key('config', 'config'))) throw new OcvaultError('RepositoryExists', 'a repository already exists in memory');
  }

  async save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    this.objects.set(this.key(type, name), Buffer.from(joinParts(data)));
  }

  async load(type: ObjectType, name: string, range?: ByteRange): Promise<Buffer> {
    const obj = this.objects.get(this.key(type, name));
    if (!obj) throw new OcvaultError('ObjectNotFound', `${type}/${name} not found in memory`, { type, name });
    if (!range) return Buffer.from(obj);
    if (range.offset + range.length > obj.length) throw new OcvaultError('CorruptObject', `${type}/${name} is shorter than expected`, { type, name });
    return Buffer.from(obj.subarray(range.offset, range.offset + range.length));
  }

  async stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    const obj = this.objects.get(this.key(type, name));
    if (!obj) throw new OcvaultError('ObjectNotFound', `${type}/${name} not found in memory`, { type, name });
    return { name, size: obj.length };
  }

  async list(type: ObjectType): Promise<ObjectInfo[]> {
    const prefix = `${type}/`;
    return [...this.objects].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => ({ name: k.slice(prefix.length), size: v.length }));
  }

  async remove(type: ObjectType, name: string): Promise<void> {
    this.objects.delete(this.key(type, name));
  }

  async close(): Promise<void> {}
}
