import { OcvaultError } from '../../errors/OcvaultError.js';

/**
 * Where a database lives and who to log in as: the parsed form of
 * `mysql://user:pass@host:port/db` or `mysql://user:pass@/db?socket=/path`.
 * `password` is a secret: never put it (or the whole target) into a message.
 */
export interface ConnectionTarget {
  user: string;
  password: string;
  /** TCP host; ignored when `socket` is set */
  host: string;
  port: number;
  /** unix socket path; when set, the connection goes through it */
  socket?: string;
  database: string;
}

const DEFAULT_PORT = 3306;

function bad(url: string, why: string): OcvaultError {
  return new OcvaultError('Usage', `bad database URL ${redactUrlText(url)}: ${why}`, { url: redactUrlText(url) });
}

function decode(url: string, part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw bad(url, `${what} is not valid percent-encoding`);
  }
}

/**
 * Parses `mysql://user:pass@host:port/db` (also `mariadb://`), with `?socket=/path` for a unix
 * socket. User, password, database and socket are percent-decoded.
 */
export function parseConnectionUrl(url: string): ConnectionTarget {
  const m = /^(mysql|mariadb):\/\/(?:([^:@/?#]*)(?::([^@/?#]*))?@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(url);
  if (!m) throw bad(url, 'expected mysql://user:password@host:port/database');
  const [, , rawUser = '', rawPass = '', rawHost = '', rawPort = '', rawDb = '', rawQuery = ''] = m;
  const user = decode(url, rawUser, 'user');
  const password = decode(url, rawPass, 'password');
  const host = decode(url, rawHost.replace(/^\[(.*)\]$/, '$1'), 'host');
  const database = decode(url, rawDb, 'database');
  if (user === '') throw bad(url, 'no user name');
  if (database === '' || database.includes('/')) throw bad(url, 'no database name (the path must be /database)');
  let port = DEFAULT_PORT;
  if (rawPort !== '') {
    port = Number(rawPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(url, `port ${rawPort} is out of range`);
  }
  let socket: string | undefined;
  for (const pair of rawQuery === '' ? [] : rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    const key = decode(url, eq < 0 ? pair : pair.slice(0, eq), 'parameter');
    const value = decode(url, eq < 0 ? '' : pair.slice(eq + 1).replace(/\+/g, ' '), 'parameter');
    if (key === 'socket') {
      if (!value.startsWith('/')) throw bad(url, 'socket must be an absolute path');
      socket = value;
    } else {
      throw bad(url, `unknown parameter "${key}" (only socket= is understood)`);
    }
  }
  if (socket === undefined && host === '') throw bad(url, 'no host (give one, or ?socket=/path)');
  return { user, password, host: host === '' ? 'localhost' : host, port, socket, database };
}

/** The URL for a target (with its password: for handing to a process, not for printing). */
export function formatConnectionUrl(t: ConnectionTarget, opts: { redact?: boolean } = {}): string {
  const enc = encodeURIComponent;
  const pass = t.password === '' ? '' : `:${opts.redact ? '***' : enc(t.password)}`;
  const host = t.socket !== undefined ? '' : t.host.includes(':') ? `[${t.host}]` : t.host;
  const port = t.socket !== undefined || t.port === DEFAULT_PORT ? '' : `:${t.port}`;
  const query = t.socket !== undefined ? `?socket=${enc(t.socket).replace(/%2F/g, '/')}` : '';
  return `mysql://${enc(t.user)}${pass}@${host}${port}/${enc(t.database)}${query}`;
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function redactConnectionUrl(t: ConnectionTarget): string {
  return formatConnectionUrl(t, { redact: true });
}

/** Best-effort redaction of a URL that may not even parse. */
function redactUrlText(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/** `database "shop" on 127.0.0.1:3306` or `database "shop" on socket /run/mysqld/mysqld.sock`. */
export function describeTarget(t: Pick<ConnectionTarget, 'host' | 'port' | 'socket' | 'database'>): string {
  const where = t.socket !== undefined ? `socket ${t.socket}` : `${t.host}:${t.port}`;
  return `database "${t.database}" on ${where}`;
}

/** A copy of a target pointing at another database on the same server. */
export function withDatabase(t: ConnectionTarget, database: string): ConnectionTarget {
  return { ...t, database };
}
