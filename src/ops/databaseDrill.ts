import type { DatabaseDrill } from './restoreDrill.js';

/**
 * The database part of `check --restore`, plugged into the drill by the CLI. Contract: restore
 * `ctx.database` into a temporary database (on `ctx.url`'s server, or a throwaway local server),
 * compare every table with the manifest (row count and checksum), drop it, and return a
 * `DrillStep` named 'database' with one problem line per table that differs. Undefined until the
 * MySQL integration provides it; the drill then reports the database step as skipped.
 */
export const databaseDrill: DatabaseDrill | undefined = undefined;
