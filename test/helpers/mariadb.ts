import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2';
import type { ConnectionTarget } from '../../src/sources/mysql/connectionUrl.js';
import { startThrowawayServer, type ThrowawayServer } from '../../src/sources/mysql/throwawayServer.js';

/** The repository root (the folder holding package.json), from source or from dist/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test helper');
    dir = up;
  }
  return dir;
}

export type FixtureName = 'opencart-4.1-demo' | 'opencart-3.0-demo';

/** `../shared/fixtures/<name>.sql.gz` relative to the repository root. */
export function fixturePath(name: FixtureName): string {
  return resolve(repoRoot(), '..', 'shared', 'fixtures', `${name}.sql.gz`);
}

export type Row = Record<string, unknown>;

export interface TestServer {
  readonly server: ThrowawayServer;
  readonly socket: string;
  readonly port: number;
  url(database: string, via?: 'socket' | 'tcp'): string;
  target(database: string, via?: 'socket' | 'tcp'): ConnectionTarget;
  /** Runs one statement (in `database` when given) as the admin user. */
  query(sql: string, params?: unknown[], database?: string): Promise<Row[]>;
  createDatabase(name: string, charset?: string): Promise<string>;
  /** zcat FIXTURE | mariadb DB */
  loadFixture(name: FixtureName, database: string): Promise<void>;
  /** Pipes SQL text into the stock `mariadb` client, connected to `database`. */
  mariadbClient(database: string, sql: Buffer | string): Promise<void>;
  /** CHECKSUM TABLE of every base table, by name. */
  checksums(database: string): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

function clientBinary(): string {
  for (const p of ['/usr/bin/mariadb', '/usr/local/bin/mariadb', '/usr/bin/mysql']) if (existsSync(p)) return p;
  return 'mariadb';
}

function pipeInto(cmd: string, args: string[], input: NodeJS.ReadableStream | Buffer | string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} exited ${code}: ${stderr.trim().slice(0, 500)}`))));
    child.stdin.on('error', () => undefined);
    if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input);
    else input.pipe(child.stdin);
  });
}

/** A memory file system for the data directory when there is one: DDL there is ~20x faster than on disk. */
function memoryDir(): string | undefined {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return undefined;
  }
}

/** Starts a throwaway MariaDB for one test file. Call stop() in after(). */
export async function startTestServer(): Promise<TestServer> {
  // CI machines run two test files at once, each with servers of its own: a longer start window than the default
  const server = await startThrowawayServer({ parentDir: memoryDir(), startTimeoutMs: 90_000 });
  const conns = new Map<string, mysql.Connection>();
  const connFor = (database: string): mysql.Connection => {
    let c = conns.get(database);
    if (!c) {
      c = mysql.createConnection({ socketPath: server.socket, user: server.user, password: server.password, database: database || undefined, multipleStatements: false, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true });
      c.on('error', () => conns.delete(database));
      conns.set(database, c);
    }
    return c;
  };
  const query = (sql: string, params: unknown[] = [], database = ''): Promise<Row[]> =>
    new Promise((res, rej) => connFor(database).query(sql, params, (err, rows) => (err ? rej(err) : res(rows as Row[]))));
  const clientArgs = (database: string): string[] => ['--no-defaults', `--socket=${server.socket}`, `--user=${server.user}`, `--password=${server.password}`, database];
  return {
    server, socket: server.socket, port: server.port,
    url: (db, via) => server.url(db, via),
    target: (db, via) => server.target(db, via),
    query,
    async createDatabase(name, charset = 'utf8mb4') {
      await query(`CREATE DATABASE \`${name}\` CHARACTER SET ${charset}`);
      return name;
    },
    async loadFixture(name, database) {
      const zcat = spawn('zcat', [fixturePath(name)], { stdio: ['ignore', 'pipe', 'inherit'] });
      await pipeInto(clientBinary(), clientArgs(database), zcat.stdout);
    },
    mariadbClient: (database, sql) => pipeInto(clientBinary(), clientArgs(database), sql),
    async checksums(database) {
      const tables = await query("SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [database]);
      const out = new Map<string, string>();
      if (tables.length === 0) return out;
      const rows = await query(`CHECKSUM TABLE ${tables.map((t) => `\`${database}\`.\`${String(t.n)}\``).join(', ')}`);
      for (const r of rows) out.set(String(r.Table).slice(database.length + 1), String(r.Checksum));
      return out;
    },
    async stop() {
      for (const c of conns.values()) c.destroy();
      await server.stop();
    },
  };
}
