import { createHash } from 'node:crypto';
import type { TableSink } from '../../src/sources/mysql/dumpDatabase.js';
import type { TableManifest } from '../../src/sources/mysql/manifest.js';
import type { TablePlan } from '../../src/sources/mysql/tablePlan.js';

/**
 * A stand-in for the repository in tests: row chunks kept in memory under made-up blob ids,
 * handed back to the loader and the SQL writer as row streams.
 */
export class MemoryRows {
  readonly blobs = new Map<string, Buffer>();

  openSink = (_table: TablePlan): TableSink => {
    const ids: string[] = [];
    return {
      write: (bytes: Buffer) => {
        const id = createHash('sha256').update(bytes).digest('hex');
        this.blobs.set(id, bytes);
        ids.push(id);
      },
      end: async () => ids,
    };
  };

  rows = (table: TableManifest, from = 0): AsyncIterable<Buffer> => {
    const blobs = this.blobs;
    return (async function* () {
      for (const id of table.rowData.slice(from)) {
        const b = blobs.get(id);
        if (!b) throw new Error(`blob ${id} missing`);
        yield b;
      }
    })();
  };

  /** The whole row stream of a table. */
  bytesOf(table: TableManifest): Buffer {
    return Buffer.concat(table.rowData.map((id) => this.blobs.get(id) as Buffer));
  }
}
