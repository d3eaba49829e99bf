import { holdHeapGrowth } from '../repo/youngGc.js';
import { restoreDeferredCaForChildren } from '../storage/tlsTrust.js';
import { Command, CommanderError } from 'commander';
import { describeError } from './exitCodes.js';
import { COMMANDS, commandName } from './commands.js';

holdHeapGrowth();
restoreDeferredCaForChildren();

const program = new Command();
program
  .name('ocvault')
  .description('Deduplicated, compressed, encrypted backups of OpenCart stores: files and database')
  .version('0.1.0')
  .option('-r, --repo <location>', 'repository: a path, sftp://user@host[:port]/path, s3://host[:port]/bucket/prefix or rclone:remote:path (or OCVAULT_REPOSITORY)')
  .option('--cache-dir <dir>', 'base directory of the local index cache (or OCVAULT_CACHE_DIR)')
  .option('--password-file <file>', 'read the password from a file')
  .option('--password-command <cmd>', 'run a command that prints the password')
  .option('--json', 'machine-readable output')
  .option('-q, --quiet', 'no progress or summaries')
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

try {
  // one command's modules when a command is named; all of them for help or a typo (suggestions)
  const name = commandName(process.argv.slice(2));
  const loaders = name ? [COMMANDS[name]!] : Object.values(COMMANDS);
  for (const load of loaders) for (const register of await load()) register(program);
} catch (e) {
  process.stderr.write(`ocvault: cannot load its own modules: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
for (const c of program.commands) {
  c.exitOverride();
  for (const sub of c.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')) {
    process.exitCode = 0;
  } else if (e instanceof CommanderError) {
    // commander already printed its message
    process.exitCode = 2;
  } else {
    const d = describeError(e);
    const json = process.argv.includes('--json');
    if (json) process.stdout.write(JSON.stringify({ error: d.json }) + '\n');
    process.stderr.write(`ocvault: ${d.message}\n`);
    process.exitCode = d.exitCode;
  }
}
