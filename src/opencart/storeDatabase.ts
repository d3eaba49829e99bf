import { existsSync } from 'node:fs';
import { OcvaultError } from '../errors/OcvaultError.js';
import { configValue, findDefine, type PhpConfig } from './phpConfig.js';

/**
 * Where a store's database is, from its config: `DB_HOSTNAME` may carry a port
 * (`db.example:3307`), a unix socket (`localhost:/var/run/mysqld/mysqld.sock`) or mysqli's
 * persistent-connection prefix (`p:`); `DB_PORT` (2.0.3+) wins over a port in the host.
 * `password` is a secret: never log it or put it in a snapshot.
 */
export interface StoreDatabase {
  driver: string;
  host: string;
  port: number;
  socket?: string;
  user: string;
  password: string;
  database: string;
  prefix: string;
  /** DB_HOSTNAME started with `p:` */
  persistent: boolean;
  /** the config defines DB_PORT */
  hasPortDefine: boolean;
}

const DEFAULT_PORT = 3306;
/** Where PHP (mysqlnd) looks for the server when the host is `localhost`, on Debian/RHEL. */
export const DEFAULT_SOCKETS = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/var/lib/mysql/mysql.sock', '/tmp/mysql.sock'];

export interface HostParts {
  host: string;
  port?: number;
  socket?: string;
  persistent: boolean;
}

/** Splits a DB_HOSTNAME value (pure). */
export function parseDbHostname(raw: string): HostParts {
  let h = raw.trim();
  let persistent = false;
  if (/^p:/i.test(h)) {
    persistent = true;
    h = h.slice(2);
  }
  // localhost:/path/to/socket (mysql_connect accepts it; so do some hosts' configs)
  const sock = /^([^:/]*):(\/.*)$/.exec(h);
  if (sock) return { host: sock[1] || 'localhost', socket: sock[2], persistent };
  if (h.startsWith('/')) return { host: 'localhost', socket: h, persistent };
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(h);
  if (v6) return { host: v6[1]!, ...(v6[2] ? { port: Number(v6[2]) } : {}), persistent };
  const withPort = /^([^:]+):(\d+)$/.exec(h);
  if (withPort) return { host: withPort[1]!, port: Number(withPort[2]), persistent };
  return { host: h === '' ? 'localhost' : h, persistent };
}

/**
 * The database a config names. A bare `localhost` means a unix socket to PHP (mysqlnd), so
 * when one of the usual server sockets exists (`sockets`), the connection goes through it.
 */
export function storeDatabaseFromConfig(cfg: PhpConfig, sockets: readonly string[] = DEFAULT_SOCKETS): StoreDatabase {
  const get = (k: string): string => configValue(cfg, k) ?? '';
  const database = get('DB_DATABASE');
  if (database === '') throw new OcvaultError('BadConfig', `${cfg.file} names no database (DB_DATABASE)`, { file: cfg.file });
  const parts = parseDbHostname(get('DB_HOSTNAME'));
  const portDefine = findDefine(cfg, 'DB_PORT');
  let port = parts.port ?? DEFAULT_PORT;
  if (portDefine) {
    const p = configValue(cfg, 'DB_PORT')!;
    if (p.trim() !== '') {
      const n = Number(p);
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new OcvaultError('BadConfig', `${cfg.file}, line ${portDefine.line}: DB_PORT ${JSON.stringify(p)} is not a port number`, { file: cfg.file, line: portDefine.line });
      port = n;
    }
  }
  let socket = parts.socket;
  if (socket === undefined && parts.host === 'localhost') socket = sockets.find((s) => existsSync(s));
  return {
    driver: get('DB_DRIVER') || 'mysqli',
    host: parts.host,
    port,
    ...(socket !== undefined ? { socket } : {}),
    user: get('DB_USERNAME'),
    password: get('DB_PASSWORD'),
    database,
    prefix: get('DB_PREFIX'),
    persistent: parts.persistent,
    hasPortDefine: portDefine !== undefined,
  };
}

/** `mysql://user:pass@host:port/db` (or `?socket=`) for the source; the password is percent-encoded. */
export function storeDatabaseUrl(db: StoreDatabase): string {
  const enc = encodeURIComponent;
  const pass = db.password === '' ? '' : `:${enc(db.password)}`;
  if (db.socket !== undefined) return `mysql://${enc(db.user)}${pass}@/${enc(db.database)}?socket=${enc(db.socket).replace(/%2F/g, '/')}`;
  const host = db.host.includes(':') ? `[${db.host}]` : db.host;
  return `mysql://${enc(db.user)}${pass}@${host}:${db.port}/${enc(db.database)}`;
}

/** What a config's DB_HOSTNAME / DB_PORT should say for a connection (the reverse of parsing). */
export function dbHostnameFor(target: { host: string; port: number; socket?: string }, opts: { hasPortDefine: boolean; persistent: boolean }): { DB_HOSTNAME: string; DB_PORT?: string } {
  const p = opts.persistent ? 'p:' : '';
  if (target.socket !== undefined) {
    // PHP's mysqli takes no socket in the host; `localhost` makes it use its default socket.
    return opts.hasPortDefine ? { DB_HOSTNAME: `${p}localhost`, DB_PORT: String(DEFAULT_PORT) } : { DB_HOSTNAME: `${p}localhost:${target.socket}` };
  }
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  if (opts.hasPortDefine) return { DB_HOSTNAME: `${p}${target.host}`, DB_PORT: String(target.port) };
  return { DB_HOSTNAME: `${p}${target.port === DEFAULT_PORT ? target.host : `${host}:${target.port}`}` };
}
