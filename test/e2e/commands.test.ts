import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, commandName } from '../../src/cli/commands.js';
import { runOcvault } from '../helpers/cli.js';

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
