import { existsSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { OcvaultError } from '../errors/OcvaultError.js';
import { DEFAULT_CONFIG_FILE, loadAutomationConfig } from '../automation/config.js';
import { crontab, systemdUnits } from '../automation/scheduleUnits.js';
import { runJobAndNotify } from '../automation/daemon.js';
import { output, type GlobalOptions } from './context.js';
import { EXIT_ERROR, EXIT_PARTIAL } from './exitCodes.js';

function ocvaultCommand(): string {
  const script = process.argv[1];
  if (!script) return 'ocvault';
  let real: string;
  try {
    real = realpathSync(script);
  } catch {
    real = path.resolve(script);
  }
  // bin/ocvault.js is started by its launcher bin/ocvault (allocator and V8 settings): schedule that
  const launcher = real.replace(/\.js$/, '');
  return real.endsWith(`${path.sep}bin${path.sep}ocvault.js`) && existsSync(launcher) ? launcher : real;
}

/** `ocvault schedule --crontab|--systemd`: the config's schedules for cron or systemd. */
export function registerSchedule(program: Command): void {
  program
    .command('schedule')
    .description('print the scheduled jobs of the config file as crontab lines or systemd service and timer units')
    .option('--config <file>', 'the automation config', DEFAULT_CONFIG_FILE)
    .option('--crontab', 'print crontab lines')
    .option('--systemd', 'print systemd .service and .timer units')
    .option('--ocvault <command>', 'the ocvault command the lines call (default: this one)')
    .action((opts: { config: string; crontab?: boolean; systemd?: boolean; ocvault?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      if (opts.crontab === opts.systemd) throw new OcvaultError('Usage', 'give exactly one of --crontab or --systemd');
      const cfg = loadAutomationConfig(opts.config);
      const o = { ocvault: opts.ocvault ?? ocvaultCommand(), configFile: cfg.file };
      if (opts.crontab) {
        if (out.json) out.printJson({ crontab: crontab(cfg, o) });
        else process.stdout.write(crontab(cfg, o));
        return;
      }
      const units = systemdUnits(cfg, o);
      if (out.json) out.printJson(units);
      else process.stdout.write(units.map((u) => `# ---- ${u.name} ----\n${u.text}`).join('\n'));
    });
}

/** `ocvault run-job NAME`: one job now, with its hooks and notifications. */
export function registerRunJob(program: Command): void {
  program
    .command('run-job')
    .description('run one job of the config file now, with its hooks and notifications')
    .argument('<name>', 'the job name')
    .option('--config <file>', 'the automation config', DEFAULT_CONFIG_FILE)
    .action(async (name: string, opts: { config: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const out = output(g);
      const cfg = loadAutomationConfig(opts.config);
      const outcome = await runJobAndNotify(cfg, name, (line) => {
        if (!out.quiet || /failed|warning/i.test(line)) process.stderr.write(`${line}\n`);
      });
      if (out.json) out.printJson(outcome);
      if (outcome.status === 'failure') process.exitCode = EXIT_ERROR;
      else if (outcome.status === 'warning') process.exitCode = EXIT_PARTIAL;
    });
}
