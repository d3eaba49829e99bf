import { Blake3Hasher } from '@napi-rs/blake-hash';
import type { DbConnection } from './dbConnection.js';
import { databaseError } from './databaseError.js';
import { RowEncoder, type RawRow } from './rowFormat.js';
import { selectRowsSql, type TableShape } from './tableShape.js';

/**
 * Where a table's row bytes go. Called with whole lines, in order, one call at a time; a
 * returned promise holds the stream (the server connection is paused) until it settles.
 * The buffer belongs to the sink.
 */
export type RowSink = (bytes: Buffer) => Promise<void> | void;

export interface RowStreamResult {
  rows: number;
  bytes: number;
  /** BLAKE3-256 of all the bytes, hex */
  checksum: string;
}

export const DEFAULT_CHUNK_BYTES = 1 << 20;

/**
 * Reads a table's rows in key order (the SELECT of selectRowsSql) and streams them, encoded
 * as row lines, to `sink` in chunks of about `chunkBytes`, hashing them on the way. Values
 * arrive as raw bytes (`character_set_results = binary`). Rows are never all in memory:
 * while the sink is busy the connection is paused and the server waits.
 */
export async function streamTableRows(conn: DbConnection, table: string, shape: TableShape, sink: RowSink, chunkBytes = DEFAULT_CHUNK_BYTES, action = 'dump'): Promise<RowStreamResult> {
  await conn.run('SET character_set_results = binary', [], action, table);
  const result = await streamQuery(conn, selectRowsSql(table, shape), table, sink, chunkBytes, action);
  await conn.run('SET character_set_results = utf8mb4', [], action, table);
  return result;
}

function streamQuery(conn: DbConnection, sql: string, table: string, sink: RowSink, chunkBytes: number, action: string): Promise<RowStreamResult> {
  return new Promise<RowStreamResult>((resolve, reject) => {
    const encoder = new RowEncoder(chunkBytes + (chunkBytes >> 2));
    const hasher = new Blake3Hasher();
    let rows = 0;
    let bytes = 0;
    let failed = false;
    let busy: Promise<void> | undefined;
    let ended = false;
    const core = conn.core;

    const fail = (err: unknown, fromDriver: boolean): void => {
      if (failed) return;
      failed = true;
      if (!fromDriver) conn.destroy(); // abandon the stream: the server would otherwise keep sending
      reject(fromDriver ? databaseError(err, { action, target: conn.target, table }) : err);
    };

    const emit = (chunk: Buffer): void => {
      hasher.update(chunk);
      bytes += chunk.length;
      let r: Promise<void> | void;
      try {
        r = sink(chunk);
      } catch (e) {
        fail(e, false);
        return;
      }
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
        core.pause();
        busy = (r as Promise<void>).then(
          () => {
            busy = undefined;
            if (failed) return;
            if (ended) finish();
            else core.resume();
          },
          (e: unknown) => {
            busy = undefined;
            fail(e, false);
          },
        );
      }
    };

    const finish = (): void => {
      if (failed) return;
      if (encoder.length > 0) {
        emit(encoder.take());
        if (busy) return; // finish() runs again when the sink settles
      }
      resolve({ rows, bytes, checksum: hasher.digest('hex') });
    };

    const q = core.query({ sql, rowsAsArray: true, typeCast: false });
    q.on('result', (row: unknown) => {
      if (failed) return;
      encoder.addRow(row as RawRow);
      rows++;
      if (encoder.length >= chunkBytes) emit(encoder.take());
    });
    q.on('error', (err: unknown) => fail(err, true));
    q.on('end', () => {
      ended = true;
      if (!failed && !busy) finish();
    });
  });
}
