import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { COMMANDS, commandName } from '../../src/cli/commands.js';
import { CLI_PATH, makeTempDir, runOcvault, startOcvault } from '../helpers/cli.js';

/** Start-up loads only the named command's modules, so finding that name must be exact. */
test('the command name is found after global options and their values', () => {
  assert.equal(commandName(['backup', 'src']), 'backup');
  assert.equal(commandName(['-r', 'backup', 'snapshots']), 'snapshots', 'a repository named "backup"');
  assert.equal(commandName(['--repo', '/r', '--password-file', 'f', '--json', 'ls', 'latest']), 'ls');
  assert.equal(commandName(['--cache-dir', 'restore', '-q', 'restore', 'x']), 'restore');
  assert.equal(commandName(['--password-command', 'echo x', 'run-job', 'nightly']), 'run-job');
  assert.equal(commandName(['--repo=/r', 'check']), 'check');
  assert.equal(commandName(['--help']), undefined);
  assert.equal(commandName(['bakup']), undefined, 'a typo loads every command, for suggestions');
  assert.equal(commandName(['toString']), undefined, 'not an inherited property');
  assert.equal(commandName([]), undefined);
});

test('every command loads and registers under its own name', async () => {
  for (const [name, load] of Object.entries(COMMANDS)) {
    const { Command } = await import('commander');
    const program = new Command();
    for (const register of await load()) register(program);
    assert.deepEqual(program.commands.map((c) => c.name()), [name]);
  }
});

test('help lists every command; a typo gets a suggestion and exit 2', async () => {
  const help = await runOcvault(['--help']);
  assert.equal(help.code, 0);
  for (const name of Object.keys(COMMANDS)) assert.match(help.stdout, new RegExp(`^  ${name} `, 'm'), name);
  const typo = await runOcvault(['bakup']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /Did you mean backup\?/);
});

/**
 * The launcher npm links as `ocvault` sets up glibc's allocator and V8 (both read only as a
 * process starts) and hands every argument on unchanged, also when called through a link.
 */
test('the launcher passes arguments through, through a link too, and sets up memory', async () => {
  const dir = await makeTempDir();
  try {
    const link = path.join(dir, 'ocvault');
    await fsp.symlink(CLI_PATH, link);
    const version = spawnSync(link, ['--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), '0.1.0');
    // a path with spaces and a quote reaches ocvault as one argument
    const odd = path.join(dir, `no such "repo" here`);
    const r = await runOcvault(['-r', odd, 'snapshots']);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(odd), r.stderr);
    // the settings, read off a running ocvault (waiting for its password command)
    const processOf = async (env: Record<string, string | undefined>): Promise<{ argv: string[]; env: string[] }> => {
      const run = startOcvault(['-r', dir, '--password-command', 'sleep 10', 'snapshots'], { env });
      try {
        const cmdline = (): Promise<string> => fsp.readFile(`/proc/${run.child.pid}/cmdline`, 'latin1');
        await waitUntil(async () => (await cmdline()).includes('ocvault.js'));
        return { argv: (await cmdline()).split('\0'), env: (await fsp.readFile(`/proc/${run.child.pid}/environ`, 'latin1')).split('\0') };
      } finally {
        run.child.kill('SIGKILL');
        await run.done;
      }
    };
    const plain = await processOf({});
    assert.ok(plain.env.includes('MALLOC_ARENA_MAX=2'));
    assert.ok(plain.argv.includes('--no-short-builtin-calls'), plain.argv.join(' '));
    assert.ok((await processOf({ MALLOC_ARENA_MAX: '4' })).env.includes('MALLOC_ARENA_MAX=4'), 'a value the caller set is kept');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

async function waitUntil(ready: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out');
}
