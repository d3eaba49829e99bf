import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { DatabaseDrill, DrillStep } from './restoreDrill.js';
import { loadDatabase, parseConnectionUrl, startThrowawayServer, type ConnectionTarget, type ThrowawayServer } from '../sources/mysql/index.js';
import { DbConnection } from '../sources/mysql/dbConnection.js';
import { loadDatabaseManifest, rowSource } from './databaseSnapshot.js';

/** A drill needs a server: the one given with --db, or a throwaway local one when mariadbd exists. */
const MARIADBD = ['/usr/sbin/mariadbd', '/usr/local/sbin/mariadbd', '/usr/bin/mariadbd', '/usr/sbin/mysqld'];

/** `mysql://u:p@host:port` names a server; the drill's database name goes in its path. */
function targetOn(url: string, database: string): ConnectionTarget {
  const withPath = /^[a-z]+:\/\/[^/?#]*\/[^?#]+/i.test(url) ? url : url.replace(/^([a-z]+:\/\/[^/?#]*)\/?(\?.*)?$/i, `$1/${database}$2`);
  return { ...parseConnectionUrl(withPath), database };
}

/**
 * The database part of `check --restore`: loads the snapshot's database into a temporary
 * database (on the --db server, or a throwaway local server), which reads every table back and
 * compares row count and checksum with the manifest; then drops it. Never touches an existing
 * database: the temporary one has a fresh random name.
 */
export const databaseDrill: DatabaseDrill = async (ctx) => {
  const started = Date.now();
  const step: DrillStep = { name: 'database', passed: false, checked: 0, bytes: 0, problems: [], durationMs: 0 };
  const name = `ocvault_drill_${randomBytes(6).toString('hex')}`;
  let server: ThrowawayServer | undefined;
  let target: ConnectionTarget;
  if (ctx.url) {
    target = targetOn(ctx.url, name);
  } else if (MARIADBD.some((p) => existsSync(p))) {
    // /dev/shm when there is one: DDL on a tmpfs datadir is many times faster
    server = await startThrowawayServer({ binlog: false, ...(existsSync('/dev/shm') ? { parentDir: '/dev/shm' } : {}) });
    target = server.target(name);
  } else {
    step.skipped = 'no --db server given and no mariadbd installed to start a throwaway one';
    step.durationMs = Date.now() - started;
    return step;
  }
  let admin: DbConnection | undefined;
  try {
    admin = await DbConnection.open(target, { noDatabase: true, action: 'create the drill database' });
    await admin.run(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`, [], 'create the drill database');
    // A damaged manifest or row blob is a failed drill, reported, not a crash of the check.
    try {
      const manifest = await loadDatabaseManifest(ctx.repo, ctx.database);
      step.bytes = manifest.tables.reduce((n, t) => n + t.rowBytes, 0);
      const load = await loadDatabase(target, manifest, rowSource(ctx.repo), { verify: true });
      step.checked = load.checks.length;
      for (const c of load.checks) if (!c.ok) step.problems.push(`table ${c.name}: checksum or row count differs from the snapshot`);
      step.passed = step.problems.length === 0 && step.checked === manifest.tables.length;
    } catch (e) {
      if (!(e instanceof OcvaultError)) throw e;
      step.problems.push(e.message);
    }
  } finally {
    await admin?.run(`DROP DATABASE IF EXISTS \`${name}\``, [], 'drop the drill database').catch(() => undefined);
    await admin?.close();
    await server?.stop();
  }
  step.durationMs = Date.now() - started;
  return step;
};
