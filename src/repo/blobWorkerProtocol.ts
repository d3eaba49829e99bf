import type { ChunkerParams } from './config.js';
import type { Cipher } from './sealer.js';
import type { StagedPack } from './packFile.js';
import type { BlobWrite, WrittenBlobs } from './blobWrites.js';

/** Messages between the main thread and the blob workers (see blobWorker.ts). */
export interface WorkerInit {
  cipher: Cipher;
  encryptionKey: Uint8Array;
  idKey: Uint8Array;
  chunkerKey: Uint8Array;
  fileChunks: ChunkerParams;
  dbChunks: ChunkerParams;
  compressionLevel: number;
  /** for database row streams */
  dbCompressionLevel: number;
  /** the SQLite index to consult (read-only) for blobs already stored */
  indexFile: string;
  /** the blobs some worker of this pool has taken on storing (a BlobClaims table) */
  claims: SharedArrayBuffer;
  /**
   * Where the store can take files written by other threads: the worker writes its new blobs
   * into packs of its own there. Absent: new blobs go to the main thread in 'blobs' messages.
   */
  packs?: { dir: string; size: number };
}

export interface NewBlob {
  id: string;
  /** the sealed blob as parts written back to back */
  sealed: Uint8Array[];
  length: number;
  rawLength: number;
}

/**
 * A file to chunk, by its task. `latin1`: a path's raw bytes as a one-byte string. A message
 * copies a string's bytes, where a byte array costs an ArrayBuffer on each side (and a small
 * Buffer's is Node's 8 KiB pool).
 */
export interface FileToChunk {
  task: number;
  path: string | { latin1: string };
}

export type ToWorker =
  /** a thread started before its pool: what it works with, before any task */
  | { task: 0; kind: 'init'; init: WorkerInit }
  /** files chunked one after the other, all answered in one 'answers' */
  | { task: 0; kind: 'chunkFiles'; files: FileToChunk[] }
  | { task: number; kind: 'streamStart'; chunks: 'file' | 'db' }
  | { task: number; kind: 'streamPush'; bytes: Uint8Array }
  | { task: number; kind: 'streamEnd' }
  | { task: number; kind: 'openBlob'; id: string; sealed: Uint8Array; what: string }
  /** restore: open blobs lying in `bytes` (a piece of `pack`) and write each where it goes */
  | { task: number; kind: 'writeBlobs'; pack: string; bytes: Uint8Array; blobs: BlobWrite[] }
  | { task: number; kind: 'ack' }
  /** finish the open pack (answered with 'packsFlushed', after its 'pack') */
  | { task: number; kind: 'flushPacks' }
  /** drop the open pack and its file (the run failed; answered with 'packsFlushed') */
  | { task: number; kind: 'discardPacks' };

export interface AddedBlobs {
  blobs: number;
  bytes: number;
}

/** A file's stat as the worker saw it through the descriptor it read (the whole node but the name). */
export interface FileStat {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  inode: number;
  /** permission bits */
  mode: number;
  uid: number;
  gid: number;
}

export type FromWorker =
  /** `wantAck`: the worker waits for an ack once the main thread has taken these */
  | { task: number; kind: 'blobs'; blobs: NewBlob[]; wantAck: boolean }
  /**
   * `before`: the stat the file was opened with; `changed`: its size or mtime differed once it
   * was read. `added`: blobs this task stored in the worker's own packs (none when it sends them).
   */
  | { task: number; kind: 'chunked'; content: string[]; size: number; before: FileStat; changed: boolean; added: AddedBlobs }
  /** a finished pack of the worker's own, for the main thread to adopt and index */
  | { task: 0; kind: 'pack'; pack: StagedPack }
  | { task: number; kind: 'packsFlushed' }
  | { task: number; kind: 'opened'; plain: Uint8Array }
  | { task: number; kind: 'wroteBlobs'; written: WrittenBlobs }
  | { task: number; kind: 'streamAck' }
  /** `blob`, `target`: where a writeBlobs batch failed */
  | FailedTask
  /** the answers to a 'chunkFiles', each handled as if sent alone */
  | { task: 0; kind: 'answers'; answers: (ChunkedFile | FailedTask)[] };

export type ChunkedFile = Extract<FromWorker, { kind: 'chunked' }>;
export interface FailedTask {
  task: number;
  kind: 'failed';
  error: { message: string; code?: string; errno?: string };
  blob?: number;
  target?: number;
}
