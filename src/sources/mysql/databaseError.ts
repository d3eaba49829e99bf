import { OcvaultError, isOcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget, type ConnectionTarget } from './connectionUrl.js';

/** What was being done when a database call failed: named in the message. */
export interface DatabaseErrorContext {
  /** e.g. "connect", "dump", "load", "lock tables" */
  action: string;
  target: Pick<ConnectionTarget, 'host' | 'port' | 'socket' | 'database' | 'user' | 'password'>;
  table?: string;
}

interface DriverError {
  code?: string;
  errno?: number;
  sqlState?: string;
  sqlMessage?: string;
  message?: string;
}

const LOST = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_CONNECTION_KILLED', 'ER_SERVER_SHUTDOWN', 'ER_QUERY_INTERRUPTED', 'ER_NET_READ_ERROR', 'ER_NET_READ_INTERRUPTED', 'ER_NET_WRITE_INTERRUPTED', 'ER_NET_ERROR_ON_WRITE', 'PROTOCOL_SEQUENCE_TIMEOUT']);
const LOST_ERRNO = new Set([1053, 1158, 1159, 1160, 1161, 1317, 1927, 2006, 2013]);

function scrub(text: string, secret: string): string {
  return secret.length > 0 ? text.split(secret).join('***') : text;
}

/**
 * Turns a driver error into an OcvaultError('DatabaseError') whose one-line message names the
 * database (and table), says what happened in plain words, and never contains the password.
 * An OcvaultError passes through unchanged.
 */
export function databaseError(err: unknown, ctx: DatabaseErrorContext): OcvaultError {
  if (isOcvaultError(err)) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as DriverError;
  const code = e.code ?? '';
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const where = describeTarget(ctx.target);
  const table = ctx.table !== undefined ? `table \`${ctx.table}\` of ${where}` : where;
  const serverText = scrub(e.sqlMessage ?? e.message ?? 'unknown error', ctx.target.password);
  let why: string;
  if (code === 'ECONNREFUSED') why = `cannot connect to ${where}: connection refused (is the server running?)`;
  else if (code === 'ENOENT' && ctx.target.socket !== undefined) why = `cannot connect to ${where}: the socket does not exist (is the server running?)`;
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') why = `cannot connect to ${where}: host "${ctx.target.host}" not found`;
  else if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') why = `cannot connect to ${where}: server unreachable (${code})`;
  else if (code === 'EACCES' && ctx.target.socket !== undefined) why = `cannot connect to ${where}: permission denied on the socket`;
  else if (code === 'ER_ACCESS_DENIED_ERROR' || errno === 1045) why = `access denied for user "${ctx.target.user}" to ${where} (wrong user name or password)`;
  else if (code === 'ER_DBACCESS_DENIED_ERROR' || errno === 1044) why = `user "${ctx.target.user}" may not use ${where}`;
  else if (code === 'ER_BAD_DB_ERROR' || errno === 1049) why = `${where} does not exist`;
  else if (code === 'ER_TABLE_DEF_CHANGED' || errno === 1412) why = `${table} was altered while it was being dumped; run the backup again`;
  else if ((code === 'ER_NO_SUCH_TABLE' || errno === 1146) && ctx.table !== undefined) why = `${table} disappeared during ${ctx.action} (dropped or renamed concurrently)`;
  else if (code === 'ER_LOCK_WAIT_TIMEOUT' || errno === 1205) why = `timed out waiting for a lock during ${ctx.action} on ${table} (a long transaction or LOCK TABLES holds it)`;
  else if (LOST.has(code) || (errno !== undefined && LOST_ERRNO.has(errno))) why = `connection to ${where} was lost during ${ctx.action}${ctx.table !== undefined ? ` of table \`${ctx.table}\`` : ''} (${code || errno}: ${serverText})`;
  else why = `${ctx.action} failed on ${table}: ${serverText}${code ? ` (${code})` : ''}`;
  return new OcvaultError('DatabaseError', scrub(why, ctx.target.password), {
    action: ctx.action,
    database: ctx.target.database,
    table: ctx.table,
    host: ctx.target.socket ?? `${ctx.target.host}:${ctx.target.port}`,
    driverCode: code || undefined,
    errno,
  }, { cause: err });
}
