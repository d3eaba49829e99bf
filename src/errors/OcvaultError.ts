/**
 * Every failure a user can cause or meet is one of these codes. The CLI maps a code to a
 * one-line message and an exit status in one place (cli/exitCodes.ts); tests match on `code`.
 */
export type ErrorCode =
  | 'RepositoryNotFound'
  | 'RepositoryExists'
  | 'WrongPassword'
  | 'NoPassword'
  | 'CorruptObject'
  | 'ObjectNotFound'
  | 'BlobNotFound'
  | 'SnapshotNotFound'
  | 'AmbiguousSnapshot'
  | 'Locked'
  | 'LockLost'
  | 'StorageError'
  | 'UnsupportedFormat'
  | 'BadConfig'
  | 'Usage'
  | 'SourceError'
  | 'DatabaseError'
  | 'TargetNotEmpty';

export class OcvaultError extends Error {
  readonly code: ErrorCode;
  /** Structured context (object names, paths); never secrets. */
  readonly data: Record<string, string | number | boolean | undefined>;

  constructor(code: ErrorCode, message: string, data: Record<string, string | number | boolean | undefined> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OcvaultError';
    this.code = code;
    this.data = data;
  }

  toJSON(): { code: ErrorCode; message: string; data: Record<string, string | number | boolean | undefined> } {
    return { code: this.code, message: this.message, data: this.data };
  }
}

export function isOcvaultError(e: unknown, code?: ErrorCode): e is OcvaultError {
  return e instanceof OcvaultError && (code === undefined || e.code === code);
}

/** The errno code of a Node system error, if it is one. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}
