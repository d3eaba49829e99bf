import { posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SFTPWrapper, Stats } from 'ssh2';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Backend, ByteRange, ObjectInfo, ObjectType } from './Backend.js';
import { REPO_FOLDERS, dataSubfolders, objectKey, tempKey } from './objectKey.js';
import { notFound, reasonOf, shortObject, storageFailure } from './storageErrors.js';
import { connectSftp, type SftpConnectOptions, type SftpConnection } from './sftpConnect.js';

export interface SftpBackendOptions extends SftpConnectOptions {
  /** the repository folder on the server (relative paths start at the login folder) */
  path: string;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const SFTP_EOF = 1;
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

/** Bytes per read or write request, and how many requests are in flight per object. */
const CHUNK = 256 * 1024;
const IN_FLIGHT = 16;

type Cb<T> = (err: Error | undefined | null, value: T) => void;

/** No answer to one request in this long means the connection is dead. */
const REQUEST_TIMEOUT_MS = 120_000;

function call<T>(fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error('no answer from the server in time'), { code: 'ETIMEDOUT' })), REQUEST_TIMEOUT_MS);
    fn((err, value) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value);
    });
  });
}

function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A repository on an SFTP server (OpenSSH or any SFTP v3 server), in the same layout as a
 * local one. Objects are written to tmp/, flushed (fsync@openssh.com when offered), checked
 * for size, then renamed into place (posix-rename@openssh.com when offered), so a cut-off
 * upload is never visible. One SSH connection, opened on first use and again after it drops.
 */
export class SftpBackend implements Backend {
  readonly location: string;
  private conn: Promise<SftpConnection> | undefined;
  /** the open connection, once there is one */
  private current: SftpConnection | undefined;
  private busy = 0;

  constructor(private readonly opts: SftpBackendOptions) {
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    const port = opts.port === 22 ? '' : `:${opts.port}`;
    const p = opts.path.startsWith('/') ? opts.path : `/~/${opts.path}`;
    this.location = `sftp://${opts.user}@${host}${port}${p}`;
  }

  /**
   * Runs one operation. The connection keeps the process alive only while an operation runs,
   * so a command that ends (or fails) without close() still exits.
   */
  private async op<T>(fn: () => Promise<T>): Promise<T> {
    this.busy++;
    this.setRef(true);
    try {
      return await fn();
    } finally {
      if (--this.busy === 0) this.setRef(false);
    }
  }

  private setRef(on: boolean): void {
    const sock = (this.current?.client as unknown as { _sock?: { ref(): void; unref(): void } } | undefined)?._sock;
    if (on) sock?.ref();
    else sock?.unref();
  }

  create(): Promise<void> {
    return this.op(() => this.do_create());
  }

  save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.op(() => this.do_save(type, name, data));
  }

  load(type: ObjectType, name: string, range?: ByteRange): Promise<Buffer> {
    return this.op(() => this.do_load(type, name, range));
  }

  stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    return this.op(() => this.do_stat(type, name));
  }

  list(type: ObjectType): Promise<ObjectInfo[]> {
    return this.op(() => this.do_list(type));
  }

  remove(type: ObjectType, name: string): Promise<void> {
    return this.op(() => this.do_remove(type, name));
  }

  /** Removes uploads a killed process left in tmp/. */
  removeStaleTemporaries(olderThanMs: number): Promise<void> {
    return this.op(async () => {
      try {
        const sftp = await this.sftp();
        const cutoff = (Date.now() - olderThanMs) / 1000;
        const entries = await call<{ filename: string; attrs: Stats }[]>((cb) => sftp.readdir(this.full('tmp'), cb)).catch(() => []);
        for (const e of entries) {
          if (!e.filename.endsWith('.tmp') || !e.attrs.isFile() || e.attrs.mtime >= cutoff) continue;
          await call<void>((cb) => sftp.unlink(this.full(`tmp/${e.filename}`), (err) => cb(err, undefined))).catch(() => undefined);
        }
      } catch (e) {
        throw this.failure('removal of stale temporary files', e);
      }
    });
  }

  private full(key: string): string {
    return key ? posix.join(this.opts.path, key) : this.opts.path;
  }

  private async sftp(): Promise<SFTPWrapper> {
    if (!this.conn) {
      const conn = connectSftp(this.opts, this.location);
      this.conn = conn;
      conn.then(
        (c) => {
          const { client } = c;
          this.current = c;
          const drop = (): void => {
            if (this.conn === conn) this.conn = undefined;
            if (this.current === c) this.current = undefined;
          };
          client.on('close', drop);
          client.on('end', drop);
          client.on('error', drop);
        },
        () => {
          if (this.conn === conn) this.conn = undefined;
        },
      );
    }
    return (await this.conn).sftp;
  }

  /** An SFTP or connection error as an OcvaultError; a lost connection is transient. */
  private failure(what: string, e: unknown): OcvaultError {
    if (e instanceof OcvaultError) return e;
    const status = statusOf(e);
    if (status === SFTP_PERMISSION_DENIED) return storageFailure(this.location, what, 'permission denied', false, e);
    if (status !== undefined) return storageFailure(this.location, what, (e as Error).message || `SFTP status ${status}`, false, e);
    // anything else is the connection: closed, reset, timed out
    this.conn = undefined;
    this.current?.client.end();
    this.current = undefined;
    return storageFailure(this.location, what, `connection lost (${reasonOf(e)})`, true, e);
  }

  private async do_create(): Promise<void> {
    const sftp = await this.sftp().catch((e: unknown) => {
      throw this.failure('create', e);
    });
    try {
      await call<Stats>((cb) => sftp.stat(this.full('config'), cb));
      throw new OcvaultError('RepositoryExists', `a repository already exists at ${this.location}`, { location: this.location });
    } catch (e) {
      if (e instanceof OcvaultError) throw e;
      if (statusOf(e) !== SFTP_NO_SUCH_FILE) throw this.failure('create', e);
    }
    try {
      await this.mkdirs(sftp, this.opts.path);
      await Promise.all([...REPO_FOLDERS, ...dataSubfolders()].map((d) => this.mkdir(sftp, this.full(d))));
    } catch (e) {
      throw this.failure(`create repository folders in ${this.opts.path}`, e);
    }
  }

  /** mkdir that tolerates an existing folder. */
  private async mkdir(sftp: SFTPWrapper, dir: string): Promise<void> {
    try {
      await call<void>((cb) => sftp.mkdir(dir, (err) => cb(err, undefined)));
    } catch (e) {
      const st = await call<Stats>((cb) => sftp.stat(dir, cb)).catch(() => undefined);
      if (!st?.isDirectory()) throw e;
    }
  }

  private async mkdirs(sftp: SFTPWrapper, dir: string): Promise<void> {
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (d === '' || d === '.' || d === '~') continue;
      await this.mkdir(sftp, d);
    }
  }

  private async do_save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const dest = this.full(objectKey(type, name));
    const tmp = this.full(tempKey(name, randomBytes(6).toString('hex')));
    const parts = (data instanceof Uint8Array ? [data] : data).filter((p) => p.byteLength > 0);
    const size = parts.reduce((n, p) => n + p.byteLength, 0);
    const sftp = await this.sftp().catch((e: unknown) => {
      throw this.failure(`upload of ${type}/${name}`, e);
    });
    let handle: Buffer | undefined;
    try {
      handle = await this.openForWrite(sftp, tmp);
      await writeParts(sftp, handle, parts);
      if (sftp.ext_openssh_fsync) await call((cb) => sftp.ext_openssh_fsync(handle!, cb));
      const st = await call<Stats>((cb) => sftp.fstat(handle!, cb));
      if (st.size !== size) throw storageFailure(this.location, `upload of ${type}/${name}`, `the server stored ${st.size} of ${size} bytes`, true);
      await call<void>((cb) => sftp.close(handle!, (err) => cb(err, undefined)));
      handle = undefined;
      await this.rename(sftp, tmp, dest);
    } catch (e) {
      if (handle) sftp.close(handle, () => undefined);
      sftp.unlink(tmp, () => undefined);
      throw this.failure(`upload of ${type}/${name}`, e);
    }
  }

  private async openForWrite(sftp: SFTPWrapper, tmp: string): Promise<Buffer> {
    try {
      return await call<Buffer>((cb) => sftp.open(tmp, 'w', 0o600, cb));
    } catch (e) {
      if (statusOf(e) !== SFTP_NO_SUCH_FILE) throw e;
      await this.mkdirs(sftp, posix.dirname(tmp));
      return call<Buffer>((cb) => sftp.open(tmp, 'w', 0o600, cb));
    }
  }

  /** Renames into place; the destination folder is made when missing. */
  private async rename(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    const once = (): Promise<void> =>
      call<void>((cb) => (sftp.ext_openssh_rename ? sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined)) : sftp.rename(from, to, (err) => cb(err, undefined))));
    try {
      await once();
    } catch (e) {
      const there = await call<Stats>((cb) => sftp.stat(to, cb)).catch(() => undefined);
      if (there) {
        // plain SFTP rename refuses to replace; objects are named by content, so keep the one there
        await call<void>((cb) => sftp.unlink(from, (err) => cb(err, undefined))).catch(() => undefined);
        return;
      }
      if (statusOf(e) === SFTP_NO_SUCH_FILE || statusOf(e) === 4) {
        await this.mkdirs(sftp, posix.dirname(to));
        await once();
        return;
      }
      throw e;
    }
  }

  private async do_load(type: ObjectType, name: string, range?: ByteRange): Promise<Buffer> {
    const file = this.full(objectKey(type, name));
    const sftp = await this.sftp().catch((e: unknown) => {
      throw this.failure(`download of ${type}/${name}`, e);
    });
    let handle: Buffer | undefined;
    try {
      handle = await call<Buffer>((cb) => sftp.open(file, 'r', cb));
      const size = (await call<Stats>((cb) => sftp.fstat(handle!, cb))).size;
      const offset = range?.offset ?? 0;
      const length = range ? range.length : size;
      if (offset + length > size) throw shortObject(type, name, offset, length, size);
      const buf = Buffer.allocUnsafe(length);
      const got = await readInto(sftp, handle, buf, offset);
      if (got < length) throw shortObject(type, name, offset, length);
      return buf;
    } catch (e) {
      if (statusOf(e) === SFTP_NO_SUCH_FILE) throw notFound(this.location, type, name);
      throw this.failure(`download of ${type}/${name}`, e);
    } finally {
      if (handle) sftp.close(handle, () => undefined);
    }
  }

  private async do_stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    try {
      const sftp = await this.sftp();
      const st = await call<Stats>((cb) => sftp.stat(this.full(objectKey(type, name)), cb));
      return { name, size: st.size };
    } catch (e) {
      if (statusOf(e) === SFTP_NO_SUCH_FILE) throw notFound(this.location, type, name);
      throw this.failure(`stat of ${type}/${name}`, e);
    }
  }

  private async do_list(type: ObjectType): Promise<ObjectInfo[]> {
    try {
      const sftp = await this.sftp();
      if (type === 'config') {
        const st = await call<Stats>((cb) => sftp.stat(this.full('config'), cb)).catch((e: unknown) => {
          if (statusOf(e) === SFTP_NO_SUCH_FILE) return undefined;
          throw e;
        });
        return st ? [{ name: 'config', size: st.size }] : [];
      }
      const readdir = async (dir: string): Promise<{ filename: string; attrs: Stats }[]> => {
        try {
          return await call((cb) => sftp.readdir(this.full(dir), cb));
        } catch (e) {
          if (statusOf(e) === SFTP_NO_SUCH_FILE) return [];
          throw e;
        }
      };
      const dirs = type === 'data' ? (await readdir('data')).filter((d) => d.attrs.isDirectory() && /^[0-9a-f]{2}$/.test(d.filename)).map((d) => `data/${d.filename}`) : [type];
      const out: ObjectInfo[] = [];
      for (let i = 0; i < dirs.length; i += 32) {
        const lists = await Promise.all(dirs.slice(i, i + 32).map(readdir));
        for (const l of lists) for (const f of l) if (f.attrs.isFile()) out.push({ name: f.filename, size: f.attrs.size });
      }
      return out;
    } catch (e) {
      throw this.failure(`listing of ${type}`, e);
    }
  }

  private async do_remove(type: ObjectType, name: string): Promise<void> {
    try {
      const sftp = await this.sftp();
      await call<void>((cb) => sftp.unlink(this.full(objectKey(type, name)), (err) => cb(err, undefined)));
    } catch (e) {
      if (statusOf(e) === SFTP_NO_SUCH_FILE) return;
      throw this.failure(`removal of ${type}/${name}`, e);
    }
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    const c = await conn.catch(() => undefined);
    if (!c) return;
    await this.op(
      () =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000);
          c.client.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          c.client.end();
        }),
    );
    this.current = undefined;
  }

}

/** Writes parts back to back, IN_FLIGHT requests at a time. */
async function writeParts(sftp: SFTPWrapper, handle: Buffer, parts: readonly Uint8Array[]): Promise<void> {
  const jobs: { buf: Buffer; pos: number }[] = [];
  let pos = 0;
  for (const p of parts) {
    const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    for (let off = 0; off < b.length; off += CHUNK) {
      const slice = b.subarray(off, Math.min(b.length, off + CHUNK));
      jobs.push({ buf: slice, pos });
      pos += slice.length;
    }
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const j = jobs[next++]!;
      await call<void>((cb) => sftp.write(handle, j.buf, 0, j.buf.length, j.pos, (err) => cb(err, undefined)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, jobs.length) }, worker));
}

/** Fills `buf` from `offset`, IN_FLIGHT requests at a time; returns the bytes read before EOF. */
async function readInto(sftp: SFTPWrapper, handle: Buffer, buf: Buffer, offset: number): Promise<number> {
  const starts: number[] = [];
  for (let off = 0; off < buf.length; off += CHUNK) starts.push(off);
  let next = 0;
  let short = buf.length;
  const readAt = async (off: number, len: number): Promise<void> => {
    let done = 0;
    while (done < len) {
      let n: number;
      try {
        n = await call<number>((cb) => sftp.read(handle, buf, off + done, len - done, offset + off + done, (err, bytesRead) => cb(err, bytesRead)));
      } catch (e) {
        if (statusOf(e) === SFTP_EOF) n = 0;
        else throw e;
      }
      if (n === 0) {
        short = Math.min(short, off + done);
        return;
      }
      done += n;
    }
  };
  const worker = async (): Promise<void> => {
    while (next < starts.length) {
      const off = starts[next++]!;
      await readAt(off, Math.min(CHUNK, buf.length - off));
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, starts.length) }, worker));
  return short;
}
