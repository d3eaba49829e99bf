import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type mysql from 'mysql2';
import { OcvaultError } from '../../errors/OcvaultError.js';
import { formatConnectionUrl, type ConnectionTarget } from './connectionUrl.js';
import { freeLoopbackPort as freePort } from '../../storage/loopbackPort.js';

/**
 * A private MariaDB server on a temporary data directory: for tests, and for restore drills
 * that load a snapshot somewhere harmless. It listens on 127.0.0.1 (a free port) and on a
 * unix socket in its directory, logs binary logs (so dumps record a position), and has a
 * real user with a random password. `stop()` kills it and deletes the directory.
 */
export interface ThrowawayServer {
  readonly dir: string;
  readonly socket: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** an all-privileges user, reachable over TCP and the socket */
  readonly user: string;
  readonly password: string;
  /** the watchdog process around mariadbd (SIGTERM stops the server) */
  readonly pid: number;
  /** connection target for a database on this server (socket by default) */
  target(database: string, via?: 'socket' | 'tcp'): ConnectionTarget;
  /** `mysql://user:pass@127.0.0.1:port/db` or `...@/db?socket=...` */
  url(database: string, via?: 'socket' | 'tcp'): string;
  stop(): Promise<void>;
}

export interface ThrowawayServerOptions {
  /** log-bin on (default true) */
  binlog?: boolean;
  /** more mariadbd options */
  extraArgs?: string[];
  /** default 30 s */
  startTimeoutMs?: number;
  /** parent of the temporary directory (default os.tmpdir()); a tmpfs like /dev/shm makes DDL ~20x faster */
  parentDir?: string;
  /** default 96M (the server's own default) */
  innodbLogFileSize?: string;
  /** default 128M */
  innodbBufferPoolSize?: string;
}

const SERVER_NAMES = ['/usr/sbin/mariadbd', '/usr/local/sbin/mariadbd', '/usr/bin/mariadbd', '/usr/local/bin/mariadbd', '/usr/sbin/mysqld', '/usr/local/mysql/bin/mariadbd'];
const INSTALL_NAMES = ['/usr/bin/mariadb-install-db', '/usr/local/bin/mariadb-install-db', '/usr/bin/mysql_install_db', '/usr/local/mysql/scripts/mariadb-install-db'];

function findBinary(candidates: string[], what: string): string {
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new OcvaultError('DatabaseError', `no ${what} found (looked in ${candidates.join(', ')}); install the MariaDB server package`, { binary: what });
  return found;
}


function logTail(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines.filter((l) => /ERROR|error|Abort|Can't|failed/i.test(l)).slice(-3).join(' | ') || (lines.at(-1) ?? '');
  } catch {
    return '(no server log)';
  }
}

async function connectOnce(socket: string, user: string, password: string): Promise<mysql.Connection> {
  const { default: mysql } = await import('mysql2');
  return new Promise((resolve, reject) => {
    const c = mysql.createConnection({ socketPath: socket, user, password, connectTimeout: 2000 });
    c.on('error', () => undefined);
    c.connect((err) => (err ? (c.destroy(), reject(err)) : resolve(c)));
  });
}

function run(c: mysql.Connection, sql: string): Promise<void> {
  return new Promise((resolve, reject) => c.query(sql, (err) => (err ? reject(err) : resolve())));
}

/**
 * Runs the server under a small shell that kills it on SIGTERM, and when this Node process
 * is gone (even after SIGKILL, when no exit hook runs) also deletes its directory.
 * Arguments: our pid, the directory, then the server command.
 */
const WATCHDOG = `parent=$1; dir=$2; shift 2
"$@" &
server=$!
trap 'kill -9 $server 2>/dev/null; wait $server 2>/dev/null; exit 0' TERM INT HUP
while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1 & wait $!; done
kill -9 $server 2>/dev/null
wait $server 2>/dev/null
kill -0 "$parent" 2>/dev/null || rm -rf "$dir"`;

const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const s of live) {
      s.child.kill('SIGTERM');
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
}

export async function startThrowawayServer(options: ThrowawayServerOptions = {}): Promise<ThrowawayServer> {
  const mariadbd = findBinary(SERVER_NAMES, 'MariaDB server (mariadbd)');
  const installDb = findBinary(INSTALL_NAMES, 'mariadb-install-db');
  const dir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'ocvault-db-'));
  const datadir = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const errLog = join(dir, 'error.log');
  const asRoot = process.getuid?.() === 0;
  const userArgs = asRoot ? ['--user=root'] : [];
  // a redo log much smaller than a table being loaded makes bulk loads crawl (constant checkpoints)
  const common = [`--innodb-log-file-size=${options.innodbLogFileSize ?? '96M'}`, `--innodb-buffer-pool-size=${options.innodbBufferPoolSize ?? '128M'}`];
  mkdirSync(join(dir, 'tmp'));
  const install = spawnSync(installDb, ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...userArgs, ...common], { encoding: 'utf8', timeout: 60_000 });
  if (install.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = (install.stderr || install.stdout || String(install.error ?? '')).trim().split('\n').slice(-2).join(' | ');
    throw new OcvaultError('DatabaseError', `could not initialise a throwaway MariaDB data directory: ${why}`, {});
  }

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const args = [
      '--no-defaults', `--datadir=${datadir}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
      `--pid-file=${join(dir, 'mysqld.pid')}`, `--log-error=${errLog}`, `--tmpdir=${join(dir, 'tmp')}`, ...userArgs, ...common,
      '--skip-name-resolve', '--performance-schema=OFF', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci',
      '--local-infile=1', '--max-allowed-packet=64M', '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0',
      '--sync-binlog=0', '--max-connections=200', '--skip-log-warnings',
      ...(options.binlog === false ? [] : [`--log-bin=${join(datadir, 'binlog')}`, '--server-id=1', '--binlog-format=ROW']),
      ...(options.extraArgs ?? []),
    ];
    const child = spawn('/bin/sh', ['-c', WATCHDOG, 'ocvault-db-watchdog', String(process.pid), dir, mariadbd, ...args], { stdio: 'ignore' });
    const entry = { child, dir };
    live.add(entry);
    installExitHook();
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const password = randomBytes(12).toString('hex');
    const user = 'ocvault';
    let conn: mysql.Connection | undefined;
    while (!exited && Date.now() < deadline) {
      try {
        conn = await connectOnce(socket, 'root', '');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    if (!conn) {
      child.kill('SIGTERM');
      live.delete(entry);
      const tail = logTail(errLog);
      // a server that exited early (its port taken between our probe and its bind, or a
      // transient failure at start) gets two more tries while time remains
      if (exited && attempt < 3 && Date.now() < deadline) {
        rmSync(errLog, { force: true });
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
      throw new OcvaultError('DatabaseError', `throwaway MariaDB server did not start${exited ? '' : ' in time'}: ${tail}`, {});
    }
    try {
      await run(conn, `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      await run(conn, `GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%' WITH GRANT OPTION`);
    } finally {
      conn.destroy();
    }
    const target = (database: string, via: 'socket' | 'tcp' = 'socket'): ConnectionTarget =>
      via === 'socket' ? { user, password, host: 'localhost', port: 3306, socket, database } : { user, password, host: '127.0.0.1', port, database };
    return {
      dir, socket, host: '127.0.0.1', port, user, password, pid: child.pid ?? 0,
      target,
      url: (database, via) => formatConnectionUrl(target(database, via)),
      async stop() {
        if (!exited) {
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM'); // the watchdog kills the server and exits
          await gone;
        }
        live.delete(entry);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}
