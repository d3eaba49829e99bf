import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CLI_PATH, TestRepo, describeRun } from '../helpers/cli.js';

const run = promisify(execFile);

/** Runs an ocvault command on a pseudo-terminal (util-linux `script`): what a user at a terminal sees. */
async function onTerminal(t: TestRepo, args: string[]): Promise<string> {
  const quoted = [CLI_PATH, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...t.env() })) if (v !== undefined) env[k] = v;
  const { stdout } = await run('script', ['-qec', quoted, '/dev/null'], { env, encoding: 'utf8', timeout: 120_000 });
  return stdout;
}

test('progress: on a terminal, backup and restore show files, bytes, rate and (restore) the totals and an ETA; without one, nothing', async () => {
  const t = await TestRepo.create();
  try {
    const src = t.path('src');
    await fsp.mkdir(path.join(src, 'd'), { recursive: true });
    for (let i = 0; i < 3; i++) await fsp.writeFile(path.join(src, 'd', `f${i}.bin`), Buffer.alloc(100_000 + i, i));
    const backup = await onTerminal(t, ['backup', src]);
    assert.match(backup, /\r\x1b\[K3 files, [\d.]+ KiB.*, [\d.]+ \S+\/s/, `backup progress\n${JSON.stringify(backup)}`);
    const restore = await onTerminal(t, ['restore', 'latest', '--target', t.path('on-tty')]);
    assert.match(restore, /\r\x1b\[K3 files, 293.0 KiB of 3 files, 293.0 KiB, [\d.]+ \S+\/s, ETA /, `restore progress\n${JSON.stringify(restore)}`);
    assert.match(restore, /restored the files of snapshot [0-9a-f]{8} .*3 files/);
    assert.equal(await fsp.readFile(path.join(t.path('on-tty'), 'd', 'f2.bin'), 'hex'), Buffer.alloc(100_002, 2).toString('hex'));
    // not a terminal: the summary only
    const quiet = await t.run(['restore', 'latest', '--target', t.path('no-tty')]);
    assert.equal(quiet.code, 0, describeRun(quiet));
    assert.doesNotMatch(quiet.stderr + quiet.stdout, /ETA|\x1b\[K/, describeRun(quiet));
  } finally {
    await fsp.rm(t.base, { recursive: true, force: true });
  }
});
