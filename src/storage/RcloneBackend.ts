import { randomBytes } from 'node:crypto';
import { OcvaultError, errnoCode } from '../errors/OcvaultError.js';
import type { Backend, ByteRange, ObjectInfo, ObjectType } from './Backend.js';
import { objectKey, tempKey } from './objectKey.js';
import { RcloneDaemon, RcloneError, type RcloneDaemonOptions } from './rcloneDaemon.js';
import { isTransientErrno, notFound, reasonOf, shortObject, storageFailure } from './storageErrors.js';

export interface RcloneBackendOptions extends RcloneDaemonOptions {
  /** the rclone path: `remote:path` (anything rclone accepts, e.g. `:local:/srv/x`) */
  fs: string;
}

interface RcItem {
  Path: string;
  Name: string;
  Size: number;
  IsDir: boolean;
}

/** Words in rclone's messages that mean the remote was unreachable or busy, not that we asked wrong. */
const TRANSIENT_TEXT = /connection refused|connection reset|broken pipe|timeout|timed out|EOF|no route|temporar|too many requests|rate limit|429|500|502|503|504|unavailable|couldn't connect|network|dial tcp/i;
const NOT_FOUND_TEXT = /object not found|directory not found|not found|no such file/i;

/**
 * A repository on any rclone remote (Google Drive, Dropbox, OneDrive, B2, Yandex Disk, SFTP,
 * …) through one long-lived `rclone rcd`. Uploads go to tmp/ and are moved into place once
 * complete and of the right size (rclone checks hashes on transfer where the remote has them),
 * so a cut-off upload is never visible; reads use ranged HTTP GETs on rclone's file server.
 */
export class RcloneBackend implements Backend {
  readonly location: string;
  private daemon: Promise<RcloneDaemon> | undefined;

  private readonly opts: RcloneBackendOptions;

  constructor(opts: RcloneBackendOptions) {
    this.location = `rclone:${opts.fs}`;
    // Our RetryBackend retries; rclone's own long retries would only hide a dead remote for minutes.
    this.opts = { ...opts, args: ['--low-level-retries', '3', '--contimeout', '15s', '--timeout', '60s', ...opts.args] };
  }

  private async rclone(): Promise<RcloneDaemon> {
    if (this.daemon) {
      const d = await this.daemon.catch(() => undefined);
      if (d?.alive) return d;
      this.daemon = undefined;
    }
    const started = RcloneDaemon.start(this.opts, this.location);
    this.daemon = started;
    started.catch(() => {
      if (this.daemon === started) this.daemon = undefined;
    });
    return started;
  }

  private failure(what: string, e: unknown, daemon?: RcloneDaemon): OcvaultError {
    if (e instanceof OcvaultError) return e;
    if (e instanceof RcloneError) return storageFailure(this.location, what, e.message, TRANSIENT_TEXT.test(e.message), e);
    const log = daemon?.log ? ` (rclone: ${daemon.log})` : '';
    return storageFailure(this.location, what, `rclone did not answer: ${reasonOf(e)}${log}`, isTransientErrno(e) || errnoCode(e) === undefined, e);
  }

  private async call<T>(what: string, method: string, params: Record<string, unknown>): Promise<T> {
    let d: RcloneDaemon | undefined;
    try {
      d = await this.rclone();
      return await d.call<T>(method, params);
    } catch (e) {
      throw this.failure(what, e, d);
    }
  }

  private async statKey(key: string, what: string): Promise<RcItem | undefined> {
    try {
      const d = await this.rclone();
      const r = await d.call<{ item: RcItem | null }>('operations/stat', { fs: this.opts.fs, remote: key, opt: { noModTime: true, noMimeType: true } });
      return r.item ?? undefined;
    } catch (e) {
      if (e instanceof RcloneError && NOT_FOUND_TEXT.test(e.message)) return undefined;
      throw this.failure(what, e);
    }
  }

  async create(): Promise<void> {
    if (await this.statKey('config', 'create')) throw new OcvaultError('RepositoryExists', `a repository already exists at ${this.location}`, { location: this.location });
    await this.call('create', 'operations/mkdir', { fs: this.opts.fs, remote: '' });
  }

  async save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const what = `upload of ${type}/${name}`;
    const key = objectKey(type, name);
    const tmp = tempKey(name, randomBytes(6).toString('hex'));
    const parts = data instanceof Uint8Array ? [data] : data;
    const size = parts.reduce((n, p) => n + p.byteLength, 0);
    let d: RcloneDaemon | undefined;
    try {
      d = await this.rclone();
      await d.upload(this.opts.fs, 'tmp', tmp.slice('tmp/'.length), parts);
      const st = await d.call<{ item: RcItem | null }>('operations/stat', { fs: this.opts.fs, remote: tmp, opt: { noModTime: true, noMimeType: true } });
      if (st.item?.Size !== size) throw storageFailure(this.location, what, `the remote stored ${st.item?.Size ?? 'nothing'} of ${size} bytes`, true);
      await d.call('operations/movefile', { srcFs: this.opts.fs, srcRemote: tmp, dstFs: this.opts.fs, dstRemote: key });
    } catch (e) {
      if (d?.alive) await d.call('operations/deletefile', { fs: this.opts.fs, remote: tmp }).catch(() => undefined);
      throw this.failure(what, e, d);
    }
  }

  async load(type: ObjectType, name: string, range?: ByteRange): Promise<Buffer> {
    const what = `download of ${type}/${name}`;
    if (range && range.length === 0) return Buffer.alloc(0);
    let d: RcloneDaemon | undefined;
    let res;
    try {
      d = await this.rclone();
      res = await d.get(this.opts.fs, objectKey(type, name), range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined);
    } catch (e) {
      throw this.failure(what, e, d);
    }
    if (res.status === 404) throw notFound(this.location, type, name);
    if (res.status === 416 && range) throw shortObject(type, name, range.offset, range.length);
    if (res.status >= 300) {
      const text = res.body.toString('utf8').slice(0, 300).trim();
      throw storageFailure(this.location, what, `rclone answered HTTP ${res.status}: ${text}`, res.status >= 500);
    }
    const expected = res.headers['content-length'];
    if (expected !== undefined && Number(expected) !== res.body.length) throw storageFailure(this.location, what, `the answer was cut off (${res.body.length} of ${expected} bytes)`, true);
    if (!range) return res.body;
    const body = res.status === 206 ? res.body : res.body.subarray(range.offset, range.offset + range.length);
    if (body.length < range.length) throw shortObject(type, name, range.offset, range.length);
    return body;
  }

  async stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    const item = await this.statKey(objectKey(type, name), `stat of ${type}/${name}`);
    if (!item) throw notFound(this.location, type, name);
    return { name, size: item.Size };
  }

  async list(type: ObjectType): Promise<ObjectInfo[]> {
    if (type === 'config') {
      const item = await this.statKey('config', 'listing of config');
      return item ? [{ name: 'config', size: item.Size }] : [];
    }
    let items: RcItem[];
    try {
      const d = await this.rclone();
      items = (await d.call<{ list: RcItem[] }>('operations/list', { fs: this.opts.fs, remote: type, opt: { recurse: type === 'data', filesOnly: true, noModTime: true, noMimeType: true } })).list;
    } catch (e) {
      if (e instanceof RcloneError && NOT_FOUND_TEXT.test(e.message)) return [];
      throw this.failure(`listing of ${type}`, e);
    }
    const ok = (p: string): boolean => (type === 'data' ? /^data\/[^/]{2}\/[^/]+$/.test(p) : p.startsWith(`${type}/`) && !p.slice(type.length + 1).includes('/'));
    return items.filter((i) => !i.IsDir && ok(i.Path)).map((i) => ({ name: i.Name, size: i.Size }));
  }

  async remove(type: ObjectType, name: string): Promise<void> {
    try {
      const d = await this.rclone();
      await d.call('operations/deletefile', { fs: this.opts.fs, remote: objectKey(type, name) });
    } catch (e) {
      if (e instanceof RcloneError && NOT_FOUND_TEXT.test(e.message)) return;
      throw this.failure(`removal of ${type}/${name}`, e);
    }
  }

  /** Removes uploads a killed process left in tmp/. */
  async removeStaleTemporaries(olderThanMs: number): Promise<void> {
    let items: (RcItem & { ModTime?: string })[];
    try {
      const d = await this.rclone();
      items = (await d.call<{ list: (RcItem & { ModTime?: string })[] }>('operations/list', { fs: this.opts.fs, remote: 'tmp', opt: { filesOnly: true, noMimeType: true } })).list;
    } catch (e) {
      if (e instanceof RcloneError && NOT_FOUND_TEXT.test(e.message)) return;
      throw this.failure('listing of tmp', e);
    }
    const cutoff = Date.now() - olderThanMs;
    for (const i of items) {
      if (!i.Name.endsWith('.tmp') || !i.ModTime || Date.parse(i.ModTime) >= cutoff) continue;
      await this.call('removal of a stale temporary file', 'operations/deletefile', { fs: this.opts.fs, remote: i.Path }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const d = this.daemon;
    this.daemon = undefined;
    const daemon = await d?.catch(() => undefined);
    await daemon?.stop();
  }
}
