import { OcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget } from './connectionUrl.js';
import { str, type DbConnection, type Row } from './dbConnection.js';
import { quoteIdent } from './identifiers.js';
import type { EventManifest, RoutineManifest, TriggerManifest, ViewManifest } from './manifest.js';

/** The database's defaults and its objects other than tables. */
export interface SchemaObjects {
  charset: string;
  collation: string;
  views: ViewManifest[];
  triggers: TriggerManifest[];
  routines: RoutineManifest[];
  events: EventManifest[];
}

function required(conn: DbConnection, row: Row | undefined, column: string, what: string): string {
  const v = row?.[column];
  if (v === null || v === undefined) {
    // SHOW CREATE returns NULL when the user may not see the definition: a dump without it
    // would restore incomplete, so this is an error, not a gap.
    throw new OcvaultError('DatabaseError', `cannot read the definition of ${what} in ${describeTarget(conn.target)} (user "${conn.target.user}" lacks the privilege to see it)`, { database: conn.target.database, object: what });
  }
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** Reads charset, collation, views, triggers (in firing order), routines and events. */
export async function readSchemaObjects(conn: DbConnection): Promise<SchemaObjects> {
  const schema = await conn.query('SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()', [], 'read database');
  const first = schema[0];
  const charset = first ? str(first, 'cs') : '';
  const collation = first ? str(first, 'co') : '';

  const views: ViewManifest[] = [];
  for (const v of await conn.query("SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'VIEW' ORDER BY TABLE_NAME", [], 'list views')) {
    const name = str(v, 'n');
    const [r] = await conn.query(`SHOW CREATE VIEW ${quoteIdent(name)}`, [], 'read view', name);
    views.push({ name, createStatement: required(conn, r, 'Create View', `view ${name}`), characterSetClient: str(r ?? {}, 'character_set_client'), collationConnection: str(r ?? {}, 'collation_connection') });
  }

  const triggers: TriggerManifest[] = [];
  const triggerList = await conn.query(
    'SELECT TRIGGER_NAME AS n, EVENT_OBJECT_TABLE AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ' +
      'ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER', [], 'list triggers');
  for (const t of triggerList) {
    const name = str(t, 'n');
    const [r] = await conn.query(`SHOW CREATE TRIGGER ${quoteIdent(name)}`, [], 'read trigger');
    triggers.push({
      name, table: str(t, 't'),
      createStatement: required(conn, r, 'SQL Original Statement', `trigger ${name}`),
      sqlMode: str(r ?? {}, 'sql_mode'), characterSetClient: str(r ?? {}, 'character_set_client'),
      collationConnection: str(r ?? {}, 'collation_connection'), databaseCollation: str(r ?? {}, 'Database Collation'),
    });
  }

  const routines: RoutineManifest[] = [];
  const routineList = await conn.query('SELECT ROUTINE_NAME AS n, ROUTINE_TYPE AS t FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY ROUTINE_TYPE, ROUTINE_NAME', [], 'list routines');
  for (const rt of routineList) {
    const name = str(rt, 'n');
    const type = str(rt, 't');
    if (type !== 'PROCEDURE' && type !== 'FUNCTION') {
      throw new OcvaultError('DatabaseError', `${type.toLowerCase()} ${name} in ${describeTarget(conn.target)} cannot be backed up (only procedures and functions are supported)`, { database: conn.target.database, object: name });
    }
    const [r] = await conn.query(`SHOW CREATE ${type} ${quoteIdent(name)}`, [], `read ${type.toLowerCase()}`);
    routines.push({
      name, type,
      createStatement: required(conn, r, type === 'PROCEDURE' ? 'Create Procedure' : 'Create Function', `${type.toLowerCase()} ${name}`),
      sqlMode: str(r ?? {}, 'sql_mode'), characterSetClient: str(r ?? {}, 'character_set_client'),
      collationConnection: str(r ?? {}, 'collation_connection'), databaseCollation: str(r ?? {}, 'Database Collation'),
    });
  }

  const events: EventManifest[] = [];
  for (const e of await conn.query('SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() ORDER BY EVENT_NAME', [], 'list events')) {
    const name = str(e, 'n');
    const [r] = await conn.query(`SHOW CREATE EVENT ${quoteIdent(name)}`, [], 'read event');
    events.push({
      name,
      createStatement: required(conn, r, 'Create Event', `event ${name}`),
      sqlMode: str(r ?? {}, 'sql_mode'), timeZone: str(r ?? {}, 'time_zone'), characterSetClient: str(r ?? {}, 'character_set_client'),
      collationConnection: str(r ?? {}, 'collation_connection'), databaseCollation: str(r ?? {}, 'Database Collation'),
    });
  }
  return { charset, collation, views, triggers, routines, events };
}
