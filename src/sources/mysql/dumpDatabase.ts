import type { BlobId } from '../../repo/blobId.js';
import type { ConnectionTarget } from './connectionUrl.js';
import { openDumpSession, type DumpOptions, type TableDump } from './dumper.js';
import type { DatabaseManifest, TableManifest } from './manifest.js';
import type { TablePlan } from './tablePlan.js';

/**
 * Where one table's row stream goes: `write` gets the row bytes in order (a returned promise
 * pauses the dump); `end` is called after the last write and returns the blob ids that now
 * hold the stream; `abort` (optional) is called instead when the dump fails.
 */
export interface TableSink {
  write(bytes: Buffer): Promise<void> | void;
  end(): Promise<BlobId[]>;
  abort?(err: unknown): void;
}

export interface DumpDatabaseOptions extends DumpOptions {
  /** called as each table finishes */
  onTable?: (table: TableDump) => void;
}

/**
 * Dumps a whole database consistently, `parallel` tables at once, and returns its complete
 * manifest (tables sorted by name). Any failure aborts the dump and throws; there is never a
 * manifest with a table missing.
 */
export async function dumpDatabase(target: ConnectionTarget | string, openSink: (table: TablePlan) => TableSink, options: DumpDatabaseOptions = {}): Promise<DatabaseManifest> {
  const session = await openDumpSession(target, options);
  const queue = [...session.tables];
  const tables: TableManifest[] = [];
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    for (let plan = queue.shift(); plan !== undefined && firstError === undefined; plan = queue.shift()) {
      const sink = openSink(plan);
      try {
        const dump = await session.dumpTable(plan.name, (b) => sink.write(b));
        const rowData = await sink.end();
        tables.push({ ...dump, rowData });
        options.onTable?.(dump);
      } catch (e) {
        firstError ??= e;
        sink.abort?.(e);
        await session.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: session.parallel }, worker));
  if (firstError !== undefined) throw firstError;
  const info = await session.finish();
  tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ...info, tables };
}
