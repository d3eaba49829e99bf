import { OcvaultError } from '../errors/OcvaultError.js';

/**
 * The one storage interface. A backend stores whole immutable objects by (type, name); the
 * engine never assumes a file system. Every implementation passes test/storage/conformance.
 */
export type ObjectType = 'config' | 'keys' | 'data' | 'index' | 'snapshots' | 'locks';

export const OBJECT_TYPES: readonly ObjectType[] = ['config', 'keys', 'data', 'index', 'snapshots', 'locks'];

export interface ObjectInfo {
  name: string;
  size: number;
}

export interface ByteRange {
  offset: number;
  length: number;
}

/** How a caller will use what it loads, so a store with a cache of its own can act on it. */
export interface LoadHints {
  /** read once: nothing of it is worth keeping cached (a local directory frees its page-cache pages) */
  once?: boolean;
}

export interface Backend {
  /** Where the repository lives, for messages (no credentials). */
  readonly location: string;
  /** Create the layout of a new repository. Fails if a config object exists. */
  create(): Promise<void>;
  /**
   * Store a whole object, given as one buffer or as parts written back to back; it becomes
   * visible only once complete.
   */
  save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Read a whole object, or a byte range of it. Throws OcvaultError ObjectNotFound. */
  load(type: ObjectType, name: string, range?: ByteRange, hints?: LoadHints): Promise<Buffer>;
  stat(type: ObjectType, name: string): Promise<ObjectInfo>;
  list(type: ObjectType): Promise<ObjectInfo[]>;
  remove(type: ObjectType, name: string): Promise<void>;
  /**
   * Starts an object written piece by piece into the store itself (a local directory), so a
   * large object never sits whole in memory; it becomes visible under its name on commit.
   */
  stage?(): Promise<StagedObject>;
  /**
   * A folder of the store's own file system where other threads may write objects as plain
   * files (blob workers write their packs there), with `adopt` to make such a file an object.
   * Only a local directory has one; a wrapper that must see every write does not pass it on.
   */
  readonly stagingDir?: string;
  /** Makes a file written in `stagingDir` the object (type, name): flushed to disk, then renamed. */
  adopt?(file: string, type: ObjectType, name: string): Promise<void>;
  /**
   * Reads a byte range into the caller's buffer (`range.length` bytes at its start), where the
   * store can do so without an allocation of its own (a local directory): restore reuses its
   * read buffers instead of faulting in fresh memory for every pack.
   */
  loadInto?(type: ObjectType, name: string, range: ByteRange, target: Uint8Array, hints?: LoadHints): Promise<void>;
  /** Deletes temporary upload files older than `olderThanMs` (left by killed processes), where the store has any. */
  removeStaleTemporaries?(olderThanMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface StagedObject {
  append(parts: readonly Uint8Array[]): Promise<void>;
  commit(type: ObjectType, name: string): Promise<void>;
  discard(): Promise<void>;
}

/** One buffer from the parts of an object (for backends that need it whole). */
export function joinParts(data: Uint8Array | readonly Uint8Array[]): Buffer {
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat(data as Uint8Array[]);
}

/** Lists the config object through `stat`: one entry, or none before `init`. */
export async function listConfigByStat(backend: Pick<Backend, 'stat'>): Promise<ObjectInfo[]> {
  try {
    return [await backend.stat('config', CONFIG_NAME)];
  } catch (e) {
    if (e instanceof OcvaultError && e.code === 'ObjectNotFound') return [];
    throw e;
  }
}

/** The config object has a fixed name. */
export const CONFIG_NAME = 'config';
