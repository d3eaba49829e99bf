import type { Command } from 'commander';

export type Register = (program: Command) => void;

/**
 * Every command, loaded on demand: a run imports only the modules of the command it runs
 * (the database, SSH and mail libraries alone cost ~40 MiB and ~0.3 s at start-up).
 */
export const COMMANDS: Record<string, () => Promise<Register[]>> = {
  init: async () => [(await import('./cmdInit.js')).registerInit],
  backup: async () => [(await import('./cmdBackup.js')).registerBackup],
  restore: async () => [(await import('./cmdRestore.js')).registerRestore],
  snapshots: async () => [(await import('./cmdSnapshots.js')).registerSnapshots],
  ls: async () => [(await import('./cmdLs.js')).registerLs],
  stats: async () => [(await import('./cmdStats.js')).registerStats],
  repair: async () => [(await import('./cmdRepair.js')).registerRepair],
  key: async () => [(await import('./cmdKey.js')).registerKey],
  dump: async () => [(await import('./cmdDump.js')).registerDump],
  unlock: async () => [(await import('./cmdUnlock.js')).registerUnlock],
  forget: async () => [(await import('./cmdForget.js')).registerForget],
  prune: async () => [(await import('./cmdPrune.js')).registerPrune],
  check: async () => [(await import('./cmdCheck.js')).registerCheck],
  copy: async () => [(await import('./cmdCopy.js')).registerCopy],
  clone: async () => [(await import('./cmdClone.js')).registerClone],
  diff: async () => [(await import('./cmdDiff.js')).registerDiff],
  daemon: async () => [(await import('./cmdDaemon.js')).registerDaemon],
  schedule: async () => [(await import('./cmdSchedule.js')).registerSchedule],
  'run-job': async () => [(await import('./cmdSchedule.js')).registerRunJob],
};

/** Global options that take a value, so the command name is found after them. */
const VALUE_OPTIONS = new Set(['-r', '--repo', '--cache-dir', '--password-file', '--password-command']);

/** The command named on the command line, or undefined (help, version, a typo). */
export function commandName(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return Object.hasOwn(COMMANDS, a) ? a : undefined;
  }
  return undefined;
}
