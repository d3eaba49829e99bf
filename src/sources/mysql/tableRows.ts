import { blake3 } from '../../repo/hash.js';
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

/** What the packet encoder hands the driver instead of a parsed row. */
const ENCODED = Symbol('encoded row');

interface RowPacket {
  buffer: Buffer;
  offset: number;
  end: number;
}

/**
 * Speed: mysql2 parses each row into one Buffer per field, which costs more than the rest
 * of the dump together (allocation and GC). The query's row parser — set by the driver as
 * `_rowParser` once the column definitions are in (mysql2 3.x) — is replaced by one that
 * encodes the raw packet straight into the row encoder. If a future driver does not go
 * through `_rowParser`, rows arrive parsed and are encoded the ordinary way.
 */
function installPacketEncoder(query: object, encoder: RowEncoder): void {
  const parser = {
    next(packet: RowPacket): symbol {
      encoder.addPacketRow(packet.buffer, packet.offset, packet.end);
      return ENCODED;
    },
  };
  Object.defineProperty(query, '_rowParser', { configurable: true, get: () => parser, set: () => undefined });
}

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

async function streamQuery(conn: DbConnection, sql: string, table: string, sink: RowSink, chunkBytes: number, action: string): Promise<RowStreamResult> {
  const hasher = await (await blake3()).plainHasher();
  return new Promise<RowStreamResult>((resolve, reject) => {
    const encoder = new RowEncoder(chunkBytes + (chunkBytes >> 2));
    let rows = 0;
    let bytes = 0;
    let failed = false;
    let busy: Promise<void> | undefined;
    let ended = false;
    let done = false;
    const core = conn.core;

    const fail = (err: unknown, fromDriver: boolean): void => {
      if (failed) return;
      failed = true;
      core.removeListener('error', onConnectionError);
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
        const paused = !ended; // after the end there is nothing to hold back
        if (paused) core.pause();
        busy = (r as Promise<void>).then(
          () => {
            busy = undefined;
            if (failed) return;
            if (paused) core.resume();
            if (ended && !busy) finish();
          },
          (e: unknown) => {
            busy = undefined;
            fail(e, false);
          },
        );
      }
    };

    const finish = (): void => {
      if (failed || done) return;
      if (encoder.length > 0) {
        emit(encoder.take());
        if (busy) return; // finish() runs again when the sink settles
      }
      done = true;
      core.removeListener('error', onConnectionError);
      resolve({ rows, bytes, checksum: hasher.digest().toString('hex') });
    };

    // A query without a callback does not hear of a lost connection: the connection does.
    const onConnectionError = (err: unknown): void => fail(err, true);
    core.on('error', onConnectionError);
    const q = core.query({ sql, rowsAsArray: true, typeCast: false });
    installPacketEncoder(q, encoder);
    q.on('result', (row: unknown) => {
      if (failed) return;
      if (row !== ENCODED) encoder.addRow(row as RawRow); // the driver parsed it after all
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
