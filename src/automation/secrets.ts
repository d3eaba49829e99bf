import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { SecretRef } from './config.js';

/**
 * Resolves a secret reference (inline value, environment variable, file or command) only when
 * it is needed. Errors name where the secret should have come from, never the secret.
 */
export function resolveSecret(ref: SecretRef, what: string): string {
  if ('value' in ref) return ref.value;
  if ('env' in ref) {
    const v = process.env[ref.env];
    if (v === undefined) throw new OcvaultError('NoPassword', `${what}: environment variable ${ref.env} is not set`);
    return v;
  }
  if ('file' in ref) {
    try {
      return readFileSync(ref.file, 'utf8').replace(/\r?\n.*$/s, '');
    } catch (e) {
      throw new OcvaultError('NoPassword', `${what}: cannot read ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  try {
    return execSync(ref.command, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).replace(/\r?\n.*$/s, '');
  } catch {
    throw new OcvaultError('NoPassword', `${what}: the command failed`);
  }
}

/** Removes known secrets, and any password in a URL, from text before it is logged or sent. */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret && secret.length >= 3) {
      this.secrets.add(secret);
      this.secrets.add(encodeURIComponent(secret));
    }
  }

  redact(text: string): string {
    let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]*@/gi, '$1***@');
    // longest first, so a secret containing another is removed whole
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
    return out;
  }
}
