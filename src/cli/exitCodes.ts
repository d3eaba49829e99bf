import { CommanderError } from 'commander';
import { OcvaultError, type ErrorCode } from '../errors/OcvaultError.js';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
/** the snapshot was made, but some files could not be read */
export const EXIT_PARTIAL = 3;

const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['Usage']);

/** The one place an error becomes a message line and an exit status. */
export function describeError(e: unknown): { message: string; exitCode: number; json: { code: string; message: string } } {
  if (e instanceof OcvaultError) {
    return { message: e.message, exitCode: USAGE_CODES.has(e.code) ? EXIT_USAGE : EXIT_ERROR, json: { code: e.code, message: e.message } };
  }
  if (e instanceof CommanderError) {
    return { message: e.message.replace(/^error: /, ''), exitCode: EXIT_USAGE, json: { code: 'Usage', message: e.message } };
  }
  const err = e as { code?: string; message?: string };
  const message = err.code === 'ENOSPC' ? 'no space left on device' : err.message ?? String(e);
  return { message: `unexpected error: ${message}`, exitCode: EXIT_ERROR, json: { code: err.code ?? 'Internal', message } };
}
