import { Command, CommanderError } from 'commander';
import { describeError } from './exitCodes.js';
import { registerInit } from './cmdInit.js';
import { registerBackup } from './cmdBackup.js';
import { registerRestore } from './cmdRestore.js';
import { registerSnapshots } from './cmdSnapshots.js';
import { registerLs } from './cmdLs.js';
import { registerStats } from './cmdStats.js';
import { registerRepair } from './cmdRepair.js';
import { registerKey } from './cmdKey.js';
import { registerDump } from './cmdDump.js';
import { registerUnlock } from './cmdUnlock.js';
import { registerForget } from './cmdForget.js';
import { registerPrune } from './cmdPrune.js';
import { registerCheck } from './cmdCheck.js';
import { registerCopy } from './cmdCopy.js';
import { registerClone } from './cmdClone.js';
import { registerDiff } from './cmdDiff.js';
import { registerDaemon } from './cmdDaemon.js';
import { registerSchedule, registerRunJob } from './cmdSchedule.js';

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

registerInit(program);
registerBackup(program);
registerRestore(program);
registerSnapshots(program);
registerLs(program);
registerStats(program);
registerRepair(program);
registerKey(program);
registerDump(program);
registerUnlock(program);
registerForget(program);
registerPrune(program);
registerCheck(program);
registerCopy(program);
registerClone(program);
registerDiff(program);
registerDaemon(program);
registerSchedule(program);
registerRunJob(program);
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
