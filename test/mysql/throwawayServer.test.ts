import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isOcvaultError } from '../../src/errors/OcvaultError.js';
import { startThrowawayServer } from '../../src/sources/mysql/throwawayServer.js';

test('a throwaway server that cannot start is one DatabaseError quoting its log, and leaves no directory', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'ocvault-tws-'));
  try {
    await assert.rejects(
      startThrowawayServer({ parentDir: parent, extraArgs: ['--no-such-option-for-ocvault=1'], startTimeoutMs: 20_000 }),
      (err: unknown) => isOcvaultError(err) && err.code === 'DatabaseError' && /did not start: .*no-such-option-for-ocvault/.test(err.message) && !err.message.includes('\n'),
    );
    assert.deepEqual(readdirSync(parent), []);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a throwaway server starts, answers on its socket and TCP port, and stop() removes its directory', async () => {
  const server = await startThrowawayServer({ binlog: false });
  const { default: mysql } = await import('mysql2/promise');
  for (const via of ['socket', 'tcp'] as const) {
    const t = server.target('', via);
    const c = await mysql.createConnection({ user: t.user, password: t.password, ...(via === 'socket' ? { socketPath: t.socket } : { host: t.host, port: t.port }) });
    const [rows] = await c.query('SELECT 1 + 1 AS two');
    assert.equal((rows as Array<{ two: number }>)[0]?.two, 2);
    await c.end();
  }
  await server.stop();
  assert.equal(existsSync(server.dir), false);
});
