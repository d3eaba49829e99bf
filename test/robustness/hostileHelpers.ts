/**
 * Helpers for the hostile-input tests: a byte-exact listing of a tree (names as raw bytes,
 * never through strings), a guard that proves nothing appeared or changed in a directory, and
 * a writer for damaged snapshots whose trees hold names a backup would never make.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import assert from 'node:assert/strict';
import { backendFromUrl } from '../../src/storage/backendFromUrl.js';
import { Repository } from '../../src/repo/repository.js';
import { encodeTree, type TreeNode } from '../../src/repo/tree.js';
import type { BlobId } from '../../src/repo/blobId.js';
import type { TestRepo } from '../helpers/cli.js';

export interface ByteEntry {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev' | 'socket';
  mode: number;
  /** sha256 of a file's content, a link target in hex, a device number */
  what: string;
}

const SLASH = Buffer.from('/');

/**
 * Every entry under `root`, keyed by its path bytes in hex (components joined by '2f'), read
 * with Buffer paths only, so a name that is not UTF-8 can neither be lost nor merged with another.
 */
export function byteTree(root: string | Buffer): Map<string, ByteEntry> {
  const out = new Map<string, ByteEntry>();
  const walk = (abs: Buffer, rel: Buffer | undefined): void => {
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      const childAbs = Buffer.concat([abs, SLASH, name]);
      const childRel = rel ? Buffer.concat([rel, SLASH, name]) : name;
      const st = lstatSync(childAbs);
      const mode = st.mode & 0o7777;
      let e: ByteEntry;
      if (st.isDirectory()) e = { type: 'dir', mode, what: '' };
      else if (st.isFile()) e = { type: 'file', mode, what: createHash('sha256').update(readFileSync(childAbs)).digest('hex') };
      else if (st.isSymbolicLink()) e = { type: 'symlink', mode: 0, what: readlinkSync(childAbs, { encoding: 'buffer' }).toString('hex') };
      else if (st.isFIFO()) e = { type: 'fifo', mode, what: '' };
      else if (st.isCharacterDevice()) e = { type: 'chardev', mode, what: String(st.rdev) };
      else if (st.isBlockDevice()) e = { type: 'blockdev', mode, what: String(st.rdev) };
      else e = { type: 'socket', mode, what: '' };
      out.set(childRel.toString('hex'), e);
      if (e.type === 'dir') walk(childAbs, childRel);
    }
  };
  walk(typeof root === 'string' ? Buffer.from(root) : root, undefined);
  return out;
}

/** A path key of byteTree, readable in a message (JSON-quoted, bytes that are not UTF-8 as U+FFFD). */
export function showKey(hex: string): string {
  return JSON.stringify(Buffer.from(hex, 'hex').toString('utf8'));
}

/** Asserts two byteTree listings are equal, naming every difference. */
export function assertSameBytes(expected: Map<string, ByteEntry>, actual: Map<string, ByteEntry>, what: string): void {
  const problems: string[] = [];
  for (const [k, e] of expected) {
    const a = actual.get(k);
    if (!a) problems.push(`missing ${showKey(k)} (${e.type})`);
    else if (a.type !== e.type || a.mode !== e.mode || a.what !== e.what) problems.push(`${showKey(k)}: expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`);
  }
  for (const [k, a] of actual) if (!expected.has(k)) problems.push(`unexpected ${showKey(k)} (${a.type})`);
  assert.equal(problems.length, 0, `${what}: ${problems.length} difference(s):\n  ${problems.slice(0, 30).join('\n  ')}`);
}

/**
 * Remembers what a directory (outside a restore target) holds; `assertUntouched` fails naming
 * anything added, removed or changed since.
 */
export class OutsideGuard {
  private readonly before: Map<string, ByteEntry>;
  constructor(readonly dir: string) {
    this.before = byteTree(dir);
  }
  assertUntouched(what: string): void {
    assertSameBytes(this.before, byteTree(this.dir), `${what}: the directory outside the target ${this.dir} changed`);
  }
}

/** A node with harmless metadata; the caller adds name, type and content. */
export function node(name: string, type: TreeNode['type'], extra: Partial<TreeNode> = {}): TreeNode {
  return { name, type, mode: type === 'dir' ? 0o755 : 0o644, mtimeNs: '1700000000000000000', ...(type === 'file' ? { size: 0, content: [] } : {}), ...extra };
}

export interface DamagedTreeBuilder {
  /** stores a file's content as one data blob */
  data(content: string): Promise<{ id: BlobId; size: number }>;
  /** stores a tree blob exactly as given: no sorting, no validation */
  tree(nodes: TreeNode[]): Promise<BlobId>;
}

/**
 * Writes a snapshot whose root tree `build` makes with the library (as `ops/backup.ts` would,
 * but with whatever names the test wants). Returns the snapshot id.
 */
export async function writeDamagedSnapshot(t: TestRepo, build: (b: DamagedTreeBuilder) => Promise<BlobId>): Promise<string> {
  const repo = await Repository.open(await backendFromUrl(t.repo), { password: t.password, cacheDir: t.path('library-cache') });
  try {
    await repo.lockShared();
    const root = await build({
      data: async (content) => {
        const bytes = Buffer.from(content);
        return { id: (await repo.saveBlob('data', bytes)).id, size: bytes.length };
      },
      tree: async (nodes) => (await repo.saveBlob('tree', encodeTree({ nodes }))).id,
    });
    await repo.flush();
    return await repo.saveSnapshot({
      version: 1,
      time: new Date().toISOString(),
      host: 'hostile-test',
      user: 'test',
      kind: 'full',
      tags: ['damaged'],
      paths: ['/hostile'],
      tree: root,
      stats: { files: 0, dirs: 0, bytes: 0, newFiles: 0, changedFiles: 0, unchangedFiles: 0, addedBytes: 0, addedBlobs: 0, durationMs: 0, errors: 0 },
    });
  } finally {
    await repo.close();
  }
}
