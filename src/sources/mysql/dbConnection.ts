import type { Connection, ConnectionOptions, QueryOptions } from 'mysql2';
import type { Readable } from 'node:stream';
import type { ConnectionTarget } from './connectionUrl.js';
import { databaseError } from './databaseError.js';

/** One row of a metadata query, by column name. */
export type Row = Record<string, unknown>;

/**
 * The session every ocvault connection runs in, so dump, load and verify see values the
 * same way: UTC for TIMESTAMP, no strict mode (zero dates load), NO_AUTO_VALUE_ON_ZERO (an
 * id of 0 stays 0), sorts that look at whole values, and no server-side timeouts while a
 * slow sink holds the stream.
 */
const SESSION_SETUP =
  "SET NAMES utf8mb4, time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO', " +
  'max_sort_length = 8388608, net_write_timeout = 86400, net_read_timeout = 86400, wait_timeout = 86400';

export interface OpenOptions {
  /** allow LOAD DATA LOCAL INFILE (the loader) */
  localFiles?: boolean;
  connectTimeoutMs?: number;
  /** what the connection is for, named in errors ("dump", "load", ...) */
  action?: string;
  /** connect without selecting the target's database (it may not exist yet) */
  noDatabase?: boolean;
}

/**
 * A mysql2 connection in the ocvault session, with promise helpers whose errors name the
 * database and never the password. `core` is the callback connection, for streaming.
 */
export class DbConnection {
  readonly core: Connection;
  readonly target: ConnectionTarget;
  private closed = false;

  private constructor(core: Connection, target: ConnectionTarget) {
    this.core = core;
    this.target = target;
    // A fatal error with no query running is emitted on the connection; the next query
    // reports it, so it must not crash the process here.
    core.on('error', () => undefined);
  }

  static async open(target: ConnectionTarget, opts: OpenOptions = {}): Promise<DbConnection> {
    const options: ConnectionOptions = {
      user: target.user,
      password: target.password,
      database: opts.noDatabase ? undefined : target.database,
      charset: 'UTF8MB4_GENERAL_CI',
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      multipleStatements: false,
      flags: opts.localFiles ? ['+LOCAL_FILES'] : ['-LOCAL_FILES'],
      ...(target.socket !== undefined ? { socketPath: target.socket } : { host: target.host, port: target.port }),
    };
    const action = opts.action ?? 'connect';
    // loaded on first use: commands without a database do not pay for mysql2's start-up
    const { default: mysql } = await import('mysql2');
    const core = mysql.createConnection(options);
    await new Promise<void>((resolve, reject) => {
      core.connect((err) => (err ? reject(databaseError(err, { action, target })) : resolve()));
    }).catch((e: unknown) => {
      core.destroy();
      throw e;
    });
    const conn = new DbConnection(core, target);
    try {
      await conn.run(SESSION_SETUP, [], action);
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return conn;
  }

  get threadId(): number {
    return this.core.threadId;
  }

  /** Runs a statement; rows come back as objects (metadata queries). */
  query(sql: string, values: unknown[] = [], action = 'query', table?: string): Promise<Row[]> {
    return this.raw({ sql }, values, action, table) as Promise<Row[]>;
  }

  /** Runs a statement whose result is not a row set (SET, CREATE, LOAD DATA...). */
  async run(sql: string, values: unknown[] = [], action = 'query', table?: string, infile?: () => Readable): Promise<{ affectedRows: number; info: string; warningStatus: number }> {
    const options: QueryOptions = infile ? { sql, infileStreamFactory: infile } : { sql };
    const r = (await this.raw(options, values, action, table)) as { affectedRows?: number; info?: string; warningStatus?: number };
    return { affectedRows: r.affectedRows ?? 0, info: r.info ?? '', warningStatus: r.warningStatus ?? 0 };
  }

  private raw(options: QueryOptions, values: unknown[], action: string, table?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.core.query(options, values, (err, result) => {
        if (err) reject(databaseError(err, { action, target: this.target, table }));
        else resolve(result);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      this.core.end(() => resolve());
    }).catch(() => undefined);
    this.core.destroy();
  }

  /** Drops the connection at once (after an error, or to abandon a stream). */
  destroy(): void {
    this.closed = true;
    this.core.destroy();
  }
}

/** The first column of the first row, as a string (or undefined). */
export function scalar(rows: Row[]): string | undefined {
  const first = rows[0];
  if (first === undefined) return undefined;
  const v = Object.values(first)[0];
  return v === null || v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** A column of a row as a string ('' for NULL); metadata is utf8mb4. */
export function str(row: Row, column: string): string {
  const v = row[column];
  return v === null || v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}
