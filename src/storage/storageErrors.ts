import { OcvaultError, errnoCode } from '../errors/OcvaultError.js';
import type { ObjectType } from './Backend.js';

/** An object that is not there. */
export function notFound(location: string, type: ObjectType, name: string): OcvaultError {
  return new OcvaultError('ObjectNotFound', `${type}/${name} not found in ${location}`, { type, name });
}

/** A range that reaches past the end of the object. */
export function shortObject(type: ObjectType, name: string, offset: number, length: number, size?: number): OcvaultError {
  const end = size === undefined ? 'the object ends sooner' : `the object has ${size} bytes`;
  return new OcvaultError('CorruptObject', `${type}/${name} is shorter than expected (wanted bytes ${offset}-${offset + length}, ${end})`, { type, name });
}

/**
 * A failure of the store. `transient` marks what may succeed when tried again (a dropped
 * connection, a timeout, a busy server); RetryBackend retries only those.
 */
export function storageFailure(location: string, what: string, reason: string, transient: boolean, cause?: unknown): OcvaultError {
  return new OcvaultError('StorageError', `${what} on ${location} failed: ${reason}`, { location, transient }, { cause });
}

/** Network errno codes that a retry may get past. */
const TRANSIENT_ERRNO = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTCONN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export function isTransientErrno(e: unknown): boolean {
  const code = errnoCode(e);
  return code !== undefined && TRANSIENT_ERRNO.has(code);
}

/** Whether an error from a backend is worth another try. */
export function isTransient(e: unknown): boolean {
  if (e instanceof OcvaultError) return e.code === 'StorageError' && e.data.transient === true;
  return isTransientErrno(e);
}

/** Why a network call failed, in words: the errno or the message. */
export function reasonOf(e: unknown): string {
  const code = errnoCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'ECONNREFUSED') return `connection refused (${msg.replace(/^connect ECONNREFUSED /, '')})`;
  if (code === 'ECONNRESET') return 'connection reset by the server';
  if (code === 'ETIMEDOUT') return 'timed out';
  if (code === 'ENOTFOUND') return `host not found (${msg.replace(/^getaddrinfo ENOTFOUND /, '')})`;
  return msg;
}
