import { homedir, userInfo } from 'node:os';
import * as path from 'node:path';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Backend } from './Backend.js';
import { LocalBackend } from './LocalBackend.js';
import { RetryBackend, type RetryOptions } from './RetryBackend.js';
import { LimitBackend } from './LimitBackend.js';

/** A repository location, parsed. */
export type RepositoryUrl =
  | { kind: 'local'; path: string }
  | { kind: 'sftp'; user?: string; host: string; port: number; path: string; fingerprints: string[] }
  | { kind: 's3'; protocol: 'https:' | 'http:'; host: string; port?: number; bucket: string; prefix: string; region?: string; pathStyle?: boolean }
  | { kind: 'rclone'; fs: string };

function usage(location: string, why: string): OcvaultError {
  return new OcvaultError('Usage', `bad repository location ${location}: ${why}`, { location });
}

function bool(v: string | undefined | null, location: string, name: string): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw usage(location, `${name} must be true or false`);
}

/**
 * Parses a repository location:
 * - a path or `file:///path`: a local folder;
 * - `sftp://[user@]host[:port]/abs/path` (or `/~/rel/path`, relative to the login folder),
 *   `?fingerprint=SHA256:…` accepts that host key;
 * - `s3://host[:port]/bucket[/prefix]` over HTTPS, `s3+http://…` over plain HTTP (for a store on
 *   this machine or a private network), `?region=…&path-style=true|false`;
 * - `rclone:remote:path` (anything rclone accepts after `rclone:`).
 */
export function parseRepositoryUrl(location: string): RepositoryUrl {
  if (location.startsWith('rclone:')) {
    const fs = location.slice('rclone:'.length);
    if (!fs.includes(':')) throw usage(location, 'expected rclone:REMOTE:PATH (a remote from `rclone config`, e.g. rclone:gdrive:backups/shop)');
    return { kind: 'rclone', fs };
  }
  if (location.startsWith('file://')) return { kind: 'local', path: decodeURIComponent(location.slice('file://'.length)) };
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return { kind: 'local', path: location };
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw usage(location, 'not a valid URL');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw usage(location, 'no host');
  const port = url.port ? Number(url.port) : undefined;
  if (url.protocol === 'sftp:') {
    if (url.password) throw usage(location, 'put no password in the URL; set OCVAULT_SFTP_PASSWORD (or use a key)');
    let p = decodeURIComponent(url.pathname);
    if (p === '' || p === '/') throw usage(location, 'no repository path after the host');
    if (p.startsWith('/~/')) p = p.slice(3);
    else if (p === '/~') throw usage(location, 'name a folder under ~/ for the repository');
    const fingerprints = url.searchParams.getAll('fingerprint').flatMap((f) => f.split(',')).filter(Boolean);
    return { kind: 'sftp', user: url.username ? decodeURIComponent(url.username) : undefined, host, port: port ?? 22, path: p.replace(/\/+$/, ''), fingerprints };
  }
  if (url.protocol === 's3:' || url.protocol === 's3+http:' || url.protocol === 's3+https:') {
    if (url.username || url.password) throw usage(location, 'put no credentials in the URL; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE');
    const parts = decodeURIComponent(url.pathname).split('/').filter(Boolean);
    const bucket = parts.shift();
    if (!bucket) throw usage(location, 'expected s3://HOST/BUCKET[/PREFIX]');
    const prefix = parts.length ? parts.join('/') + '/' : '';
    const region = url.searchParams.get('region') ?? undefined;
    const pathStyle = bool(url.searchParams.get('path-style'), location, 'path-style');
    const protocol = url.protocol === 's3+http:' ? 'http:' : 'https:';
    return { kind: 's3', protocol, host, port, bucket, prefix, region, pathStyle };
  }
  throw usage(location, `unknown scheme ${url.protocol.replace(/:$/, '')} (use a path, sftp://, s3://, s3+http:// or rclone:)`);
}

export interface BackendFromUrlOptions {
  env?: NodeJS.ProcessEnv;
  /** told about each retry of a remote operation */
  onRetry?: RetryOptions['onRetry'];
}

/** Connections per remote store unless OCVAULT_STORAGE_CONNECTIONS says otherwise. */
const DEFAULT_CONNECTIONS = { sftp: 8, s3: 8, rclone: 4 } as const;

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new OcvaultError('Usage', `${name} must be a whole number, not ${v}`);
  return n;
}

function list(v: string | undefined): string[] {
  return (v ?? '').split(/[,\s]+/).filter(Boolean);
}

/** A region named in an AWS endpoint (s3.eu-west-1.amazonaws.com, s3-eu-west-1.amazonaws.com). */
function regionOfHost(host: string): string | undefined {
  return /(?:^|\.)s3[.-]([a-z0-9-]+)\.amazonaws\.com$/.exec(host)?.[1];
}

/**
 * The backend for a repository location. Remote stores are wrapped: at most
 * OCVAULT_STORAGE_CONNECTIONS operations at once, transient failures retried
 * OCVAULT_STORAGE_RETRIES times (default 6) with backoff from OCVAULT_STORAGE_RETRY_DELAY_MS.
 * A remote store's module (and its SSH or HTTP stack) is loaded only when one is named: a
 * local repository's commands start about 45 ms sooner without them.
 */
export async function backendFromUrl(location: string, opts: BackendFromUrlOptions = {}): Promise<Backend> {
  const env = opts.env ?? process.env;
  const u = parseRepositoryUrl(location);
  if (u.kind === 'local') return new LocalBackend(u.path);
  const home = env.HOME || homedir();
  const connections = envInt(env, 'OCVAULT_STORAGE_CONNECTIONS', DEFAULT_CONNECTIONS[u.kind]);
  const retries = envInt(env, 'OCVAULT_STORAGE_RETRIES', 6);
  const baseDelayMs = envInt(env, 'OCVAULT_STORAGE_RETRY_DELAY_MS', 500);
  let inner: Backend;
  if (u.kind === 'sftp') {
    const { SftpBackend } = await import('./SftpBackend.js');
    const explicitKey = env.OCVAULT_SFTP_KEY;
    const keyFiles = explicitKey
      ? [{ file: explicitKey, required: true }]
      : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => ({ file: path.join(home, '.ssh', f), required: false }));
    const knownHosts = env.OCVAULT_SFTP_KNOWN_HOSTS ? list(env.OCVAULT_SFTP_KNOWN_HOSTS.replace(/:/g, ',')) : [path.join(home, '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
    inner = new SftpBackend({
      host: u.host,
      port: u.port,
      user: u.user ?? env.USER ?? userInfo().username,
      path: u.path,
      keyFiles,
      passphrase: env.OCVAULT_SFTP_KEY_PASSPHRASE,
      password: env.OCVAULT_SFTP_PASSWORD,
      agent: explicitKey ? undefined : env.SSH_AUTH_SOCK || undefined,
      knownHostsFiles: knownHosts,
      fingerprints: [...u.fingerprints, ...list(env.OCVAULT_SFTP_FINGERPRINT)],
    });
  } else if (u.kind === 's3') {
    const { S3Backend } = await import('./S3Backend.js');
    const { regionFromEnv, resolveCredentials } = await import('./s3Credentials.js');
    const isAws = /(^|\.)amazonaws\.com$/.test(u.host);
    const pathStyle = u.pathStyle ?? bool(env.OCVAULT_S3_PATH_STYLE, location, 'OCVAULT_S3_PATH_STYLE') ?? (!isAws || u.bucket.includes('.'));
    inner = new S3Backend({
      protocol: u.protocol,
      host: u.host,
      port: u.port,
      bucket: u.bucket,
      prefix: u.prefix,
      region: u.region ?? regionOfHost(u.host) ?? regionFromEnv(env) ?? 'us-east-1',
      pathStyle,
      credentials: () => resolveCredentials(env),
    });
  } else {
    const { RcloneBackend } = await import('./RcloneBackend.js');
    inner = new RcloneBackend({ fs: u.fs, binary: env.OCVAULT_RCLONE || 'rclone', args: list(env.OCVAULT_RCLONE_ARGS), env });
  }
  return new RetryBackend(new LimitBackend(inner, connections), { retries, baseDelayMs, onRetry: opts.onRetry });
}
