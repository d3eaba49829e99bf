import { createHash } from 'node:crypto';
import { OcvaultError } from '../errors/OcvaultError.js';
import { listConfigByStat, type Backend, type ByteRange, type ObjectInfo, type ObjectType } from './Backend.js';
import { httpRequest, type HttpResponse } from './httpRequest.js';
import { objectKey } from './objectKey.js';
import { EMPTY_SHA256, canonicalQuery, encodeKeyPath, signV4, type S3Credentials } from './s3Signer.js';
import { notFound, reasonOf, shortObject, storageFailure } from './storageErrors.js';

export interface S3BackendOptions {
  /** `https:` or `http:` */
  protocol: 'https:' | 'http:';
  host: string;
  /** undefined: the protocol's default */
  port?: number;
  bucket: string;
  /** key prefix inside the bucket ('' or ending in '/') */
  prefix: string;
  region: string;
  /** bucket in the path (`host/bucket/key`) rather than the host name (`bucket.host/key`) */
  pathStyle: boolean;
  credentials: () => Promise<S3Credentials>;
  timeoutMs?: number;
}

type Query = [string, string][];

/** The text of each `<tag>…</tag>` in an XML document, entities decoded. */
function xmlValues(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    out.push(
      m[1]!
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&#(x?)([0-9a-fA-F]+);/g, (_, x: string, n: string) => String.fromCodePoint(parseInt(n, x ? 16 : 10)))
        .replace(/&amp;/g, '&'),
    );
  }
  return out;
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(['RequestTimeout', 'SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeTooSkewed']);

/**
 * A repository in an S3 bucket (AWS or any S3-compatible store), under a key prefix, in the
 * same layout as a local one. Requests are signed with AWS Signature V4 (a small client of our
 * own: five operations, no SDK). A PUT is atomic — the object appears whole or not at all —
 * and each upload carries Content-MD5 and its SHA-256, which the server checks before storing.
 */
export class S3Backend implements Backend {
  readonly location: string;
  private creds: Promise<S3Credentials> | undefined;
  private region: string;

  constructor(private readonly opts: S3BackendOptions) {
    const scheme = opts.protocol === 'http:' ? 's3+http' : 's3';
    const port = opts.port ? `:${opts.port}` : '';
    this.location = `${scheme}://${opts.host}${port}/${opts.bucket}${opts.prefix ? '/' + opts.prefix.replace(/\/$/, '') : ''}`;
    this.region = opts.region;
  }

  private credentials(): Promise<S3Credentials> {
    if (!this.creds) {
      this.creds = this.opts.credentials();
      this.creds.catch(() => (this.creds = undefined));
    }
    return this.creds.then((c) => {
      if (c.expiration && c.expiration.getTime() - Date.now() < 60_000) {
        this.creds = undefined;
        return this.credentials();
      }
      return c;
    });
  }

  private key(type: ObjectType, name: string): string {
    return this.opts.prefix + objectKey(type, name);
  }

  /** Sends one signed request; `key` undefined addresses the bucket. */
  private async request(method: string, key: string | undefined, what: string, o: { query?: Query; headers?: Record<string, string>; body?: readonly Uint8Array[]; payloadHash?: string } = {}, redirected = false): Promise<HttpResponse> {
    const hostPort = this.opts.port ? `${this.opts.host}:${this.opts.port}` : this.opts.host;
    const host = this.opts.pathStyle ? hostPort : `${this.opts.bucket}.${hostPort}`;
    const objectPath = key === undefined ? '' : encodeKeyPath(key);
    const path = this.opts.pathStyle ? `/${encodeKeyPath(this.opts.bucket)}${key === undefined ? '' : '/' + objectPath}` : `/${objectPath}`;
    const query = canonicalQuery(o.query ?? []);
    const headers: Record<string, string> = { host, ...(o.headers ?? {}) };
    let res: HttpResponse;
    try {
      const signed = signV4({ method, path, query, headers, payloadHash: o.payloadHash ?? EMPTY_SHA256, region: this.region, credentials: await this.credentials() });
      const url = new URL(`${this.opts.protocol}//${host}${path}${query ? '?' + query : ''}`);
      res = await httpRequest({ method, url, headers: { ...headers, ...signed }, body: o.body, timeoutMs: this.opts.timeoutMs });
    } catch (e) {
      if (e instanceof OcvaultError) throw e;
      throw storageFailure(this.location, what, reasonOf(e), true, e);
    }
    if (res.status < 300 || res.status === 304) return res;
    const xml = res.body.toString('utf8');
    const code = xmlValues(xml, 'Code')[0] ?? '';
    const bucketRegion = res.headers['x-amz-bucket-region'];
    if (!redirected && typeof bucketRegion === 'string' && bucketRegion !== this.region && [301, 307, 400].includes(res.status)) {
      this.region = bucketRegion;
      return this.request(method, key, what, o, true);
    }
    return Object.assign(res, { errorCode: code, errorMessage: xmlValues(xml, 'Message')[0] ?? '' });
  }

  /** An error answer as an OcvaultError. */
  private failure(what: string, res: HttpResponse): OcvaultError {
    const { errorCode = '', errorMessage = '' } = res as HttpResponse & { errorCode?: string; errorMessage?: string };
    const detail = [errorCode, errorMessage].filter(Boolean).join(': ') || `HTTP ${res.status}`;
    if (errorCode === 'NoSuchBucket') return storageFailure(this.location, what, `bucket ${this.opts.bucket} does not exist`, false);
    if (res.status === 403 || errorCode === 'InvalidAccessKeyId' || errorCode === 'SignatureDoesNotMatch') {
      return storageFailure(this.location, what, `access denied (${detail}); check the S3 credentials, region and bucket policy`, false);
    }
    const transient = TRANSIENT_STATUS.has(res.status) || TRANSIENT_CODES.has(errorCode);
    return storageFailure(this.location, what, detail, transient);
  }

  async create(): Promise<void> {
    const head = await this.request('HEAD', this.key('config', 'config'), 'create');
    if (head.status < 300) throw new OcvaultError('RepositoryExists', `a repository already exists at ${this.location}`, { location: this.location });
    const probe = await this.request('GET', undefined, 'create', { query: [['list-type', '2'], ['max-keys', '1'], ['prefix', this.opts.prefix]] });
    if (probe.status < 300) return;
    if ((probe as { errorCode?: string }).errorCode !== 'NoSuchBucket' && probe.status !== 404) throw this.failure('create', probe);
    const body =
      this.region === 'us-east-1'
        ? []
        : [Buffer.from(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${this.region}</LocationConstraint></CreateBucketConfiguration>`)];
    const made = await this.request('PUT', undefined, `creation of bucket ${this.opts.bucket}`, {
      body,
      headers: { 'content-length': String(body.reduce((n, b) => n + b.length, 0)) },
      payloadHash: createHash('sha256').update(body[0] ?? Buffer.alloc(0)).digest('hex'),
    });
    if (made.status >= 300 && (made as { errorCode?: string }).errorCode !== 'BucketAlreadyOwnedByYou') throw this.failure(`creation of bucket ${this.opts.bucket}`, made);
  }

  async save(type: ObjectType, name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = data instanceof Uint8Array ? [data] : data;
    const sha = createHash('sha256');
    const md5 = createHash('md5');
    let size = 0;
    for (const p of parts) {
      sha.update(p);
      md5.update(p);
      size += p.byteLength;
    }
    const md5Bytes = md5.digest();
    const what = `upload of ${type}/${name}`;
    const res = await this.request('PUT', this.key(type, name), what, {
      body: parts,
      payloadHash: sha.digest('hex'),
      headers: { 'content-length': String(size), 'content-md5': md5Bytes.toString('base64'), 'content-type': 'application/octet-stream' },
    });
    if (res.status >= 300) throw this.failure(what, res);
    // Without SSE-KMS the ETag of a single PUT is the MD5 of what the server stored.
    const etag = String(res.headers.etag ?? '').replace(/"/g, '').toLowerCase();
    if (/^[0-9a-f]{32}$/.test(etag) && res.headers['x-amz-server-side-encryption'] !== 'aws:kms' && etag !== md5Bytes.toString('hex')) {
      throw storageFailure(this.location, what, 'the stored object does not match what was sent (ETag differs from its MD5)', true);
    }
  }

  async load(type: ObjectType, name: string, range?: ByteRange): Promise<Buffer> {
    const what = `download of ${type}/${name}`;
    const headers: Record<string, string> = range ? { range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {};
    if (range && range.length === 0) return Buffer.alloc(0);
    const res = await this.request('GET', this.key(type, name), what, { headers });
    if (res.status === 404 && (res as { errorCode?: string }).errorCode !== 'NoSuchBucket') throw notFound(this.location, type, name);
    if (res.status === 416 && range) throw shortObject(type, name, range.offset, range.length);
    if (res.status >= 300) throw this.failure(what, res);
    const expected = res.headers['content-length'];
    if (expected !== undefined && Number(expected) !== res.body.length) throw storageFailure(this.location, what, `the answer was cut off (${res.body.length} of ${expected} bytes)`, true);
    if (!range) return res.body;
    const body = res.status === 206 ? res.body : res.body.subarray(range.offset, range.offset + range.length);
    if (body.length < range.length) throw shortObject(type, name, range.offset, range.length);
    return body;
  }

  async stat(type: ObjectType, name: string): Promise<ObjectInfo> {
    const what = `stat of ${type}/${name}`;
    const res = await this.request('HEAD', this.key(type, name), what);
    if (res.status === 404) throw notFound(this.location, type, name);
    if (res.status >= 300) throw this.failure(what, res);
    return { name, size: Number(res.headers['content-length'] ?? 0) };
  }

  async list(type: ObjectType): Promise<ObjectInfo[]> {
    if (type === 'config') return listConfigByStat(this);
    const prefix = `${this.opts.prefix}${type}/`;
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const query: Query = [['list-type', '2'], ['prefix', prefix], ['max-keys', '1000']];
      if (token) query.push(['continuation-token', token]);
      const res = await this.request('GET', undefined, `listing of ${type}`, { query });
      if (res.status >= 300) throw this.failure(`listing of ${type}`, res);
      const xml = res.body.toString('utf8');
      for (const block of xmlValues(xml, 'Contents')) {
        const rest = (xmlValues(block, 'Key')[0] ?? '').slice(prefix.length);
        const size = Number(xmlValues(block, 'Size')[0] ?? 0);
        const parts = rest.split('/');
        if (type === 'data' ? parts.length === 2 && parts[0]!.length === 2 && parts[1] : parts.length === 1 && parts[0]) out.push({ name: parts[parts.length - 1]!, size });
      }
      token = xmlValues(xml, 'IsTruncated')[0] === 'true' ? xmlValues(xml, 'NextContinuationToken')[0] : undefined;
    } while (token);
    return out;
  }

  async remove(type: ObjectType, name: string): Promise<void> {
    const what = `removal of ${type}/${name}`;
    const res = await this.request('DELETE', this.key(type, name), what);
    if (res.status === 404 && (res as { errorCode?: string }).errorCode !== 'NoSuchBucket') return;
    if (res.status >= 300) throw this.failure(what, res);
  }

  async close(): Promise<void> {}
}
