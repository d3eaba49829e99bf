import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE, loadAutomationConfig } from '../automation/config.js';
import { createDaemon } from '../automation/daemon.js';

/** `ocvault daemon`: runs the config's schedules until SIGTERM or SIGINT. */
export function registerDaemon(program: Command): void {
  program
    .command('daemon')
    .description('run the scheduled jobs of the config file until stopped (SIGTERM)')
    .option('--config <file>', 'the automation config', DEFAULT_CONFIG_FILE)
    .action(async (opts: { config: string }) => {
      const cfg = loadAutomationConfig(opts.config);
      const log = (line: string): void => {
        process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      };
      const daemon = createDaemon(cfg, { log });
      const stopped = new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      await daemon.start();
      const next = daemon.upcoming();
      log(`daemon started with ${next.length} scheduled job(s) from ${cfg.file}${next.length ? `; next: ${next.map((n) => `${n.job} at ${n.at.toISOString()}`).join(', ')}` : ''}`);
      const sig = await stopped;
      log(`${sig} received: waiting for running jobs, then stopping`);
      await daemon.stop();
      log('daemon stopped');
    });
}
