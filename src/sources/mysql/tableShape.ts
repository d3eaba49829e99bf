import type { TableDefinition } from './tableDefinition.js';
import { quoteIdent } from './identifiers.js';
import type { ColumnKind, ColumnManifest } from './manifest.js';

/** The columns of a table as dumped, and the order its rows are read in. */
export interface TableShape {
  columns: ColumnManifest[];
  orderBy: string[];
  orderKey: string;
}

const KIND_BY_TYPE: Record<string, ColumnKind> = {
  tinyint: 'integer', smallint: 'integer', mediumint: 'integer', int: 'integer', integer: 'integer', bigint: 'integer',
  decimal: 'decimal', numeric: 'decimal',
  float: 'float', double: 'float', real: 'float', 'double precision': 'float',
  date: 'temporal', datetime: 'temporal', timestamp: 'temporal', time: 'temporal', year: 'temporal',
  char: 'text', varchar: 'text', tinytext: 'text', text: 'text', mediumtext: 'text', longtext: 'text', enum: 'text', set: 'text', json: 'text',
  binary: 'binary', varbinary: 'binary', tinyblob: 'binary', blob: 'binary', mediumblob: 'binary', longblob: 'binary',
  bit: 'bit',
  geometry: 'geometry', point: 'geometry', linestring: 'geometry', polygon: 'geometry', multipoint: 'geometry',
  multilinestring: 'geometry', multipolygon: 'geometry', geometrycollection: 'geometry',
};

export function columnKind(dataType: string, charset: string): ColumnKind {
  const kind = KIND_BY_TYPE[dataType.toLowerCase()] ?? 'other';
  return kind === 'text' && charset === 'binary' ? 'binary' : kind;
}

/**
 * A table's dumpable columns (generated columns excluded, invisible ones included) and the
 * row order: the primary key, else the first unique index on NOT NULL columns, else every
 * column.
 */
export function tableShape(def: TableDefinition): TableShape {
  const columns: ColumnManifest[] = [];
  const notNull = new Set<string>();
  for (const c of def.columns) {
    if (!c.nullable) notNull.add(c.name);
    if (c.generated) continue;
    const kind = columnKind(c.dataType, c.charset);
    columns.push({ name: c.name, type: c.columnType, kind, ...(kind === 'text' && c.charset !== '' ? { charset: c.charset } : {}), nullable: c.nullable });
  }
  const byIndex = new Map<string, { unique: boolean; columns: string[] }>();
  for (const k of def.keys) {
    let idx = byIndex.get(k.index);
    if (!idx) byIndex.set(k.index, (idx = { unique: k.unique && k.btree, columns: [] }));
    idx.columns[k.seq - 1] = k.column;
  }
  const primary = byIndex.get('PRIMARY');
  if (primary) return { columns, orderBy: primary.columns, orderKey: 'PRIMARY' };
  for (const [name, idx] of byIndex) {
    if (idx.unique && idx.columns.every((c) => notNull.has(c))) return { columns, orderBy: idx.columns, orderKey: name };
  }
  return { columns, orderBy: columns.map((c) => c.name), orderKey: '' };
}

/** The expression a column is selected as, so its text round-trips exactly. */
export function selectExpression(c: ColumnManifest): string {
  // FLOAT prints with 6 significant digits; as DOUBLE the server prints the shortest
  // text that reads back to the same value.
  return c.kind === 'float' ? `CAST(${quoteIdent(c.name)} AS DOUBLE)` : quoteIdent(c.name);
}

/**
 * The SELECT that reads a table's rows for dumping and for verifying: the same statement
 * on both sides, so the same rows give the same bytes. Without a key, text is compared as
 * bytes so rows equal under a collation still sort the same way every time.
 */
export function selectRowsSql(table: string, shape: TableShape): string {
  const byName = new Map(shape.columns.map((c) => [c.name, c]));
  const order = shape.orderBy.map((name) => {
    const c = byName.get(name);
    if (shape.orderKey !== '' || c === undefined) return quoteIdent(name);
    return c.kind === 'text' || c.kind === 'other' ? `CAST(${quoteIdent(name)} AS BINARY)` : selectExpression(c);
  });
  return `SELECT ${shape.columns.map(selectExpression).join(', ')} FROM ${quoteIdent(table)}${order.length > 0 ? ` ORDER BY ${order.join(', ')}` : ''}`;
}
