import { createHash, createHmac } from 'node:crypto';

/** One key line of an OpenSSH known_hosts file. */
export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  patterns: string;
  keyType: string;
  /** the key blob, base64 as in the file */
  key: string;
}

/** The name a host is recorded under: `host`, or `[host]:port` for a port other than 22. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** SHA256 fingerprint of a host key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside a key blob (its first SSH string). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return '';
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [patterns, keyType, key] = fields;
    if (!patterns || !keyType || !key) continue;
    out.push({ marker, patterns, keyType, key });
  }
  return out;
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return re.test(s);
}

/** Whether a host pattern list (comma-separated, `!` negations, hashed `|1|salt|hash`) names the host. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

export type HostKeyVerdict = { kind: 'known' } | { kind: 'revoked' } | { kind: 'changed'; expected: string[] } | { kind: 'unknown' };

/**
 * Checks a presented host key against known_hosts entries. `changed`: the host is recorded
 * with another key of the same type (OpenSSH's "REMOTE HOST IDENTIFICATION HAS CHANGED").
 */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, keyBlob: Buffer): HostKeyVerdict {
  const keyType = keyTypeOf(keyBlob);
  const b64 = keyBlob.toString('base64');
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && patternsMatch(e.patterns, name));
  if (forHost.some((e) => e.marker === '@revoked' && e.key === b64)) return { kind: 'revoked' };
  const plain = forHost.filter((e) => !e.marker);
  if (plain.some((e) => e.key === b64)) return { kind: 'known' };
  const sameType = plain.filter((e) => e.keyType === keyType);
  if (sameType.length) return { kind: 'changed', expected: sameType.map((e) => fingerprint(Buffer.from(e.key, 'base64'))) };
  return { kind: 'unknown' };
}

/** Host key algorithms to offer so that the server shows a key type we already know for it. */
export function preferredHostKeyAlgorithms(entries: readonly KnownHostEntry[], name: string): string[] {
  const types = new Set(entries.filter((e) => !e.marker && patternsMatch(e.patterns, name)).map((e) => e.keyType));
  const algos: string[] = [];
  for (const t of types) {
    if (t === 'ssh-rsa') algos.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else algos.push(t);
  }
  return algos;
}
