import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SecureContext } from 'node:tls';

/**
 * The certificates TLS connections trust (an S3 store, mail, webhooks). Node reads the bundle
 * NODE_EXTRA_CA_CERTS names as every process starts, ~50 ms for a system bundle, though most
 * commands make no TLS connection: the launcher (bin/ocvault) hands the file over as
 * OCVAULT_EXTRA_CA_CERTS instead, and it is read here once a connection needs it.
 */
export const DEFERRED_CA_ENV = 'OCVAULT_EXTRA_CA_CERTS';

let cached: { file: string; context: SecureContext } | undefined;

/**
 * The secure context to connect with: node's own roots and the deferred bundle. Undefined when
 * no bundle was deferred: node's default (which then holds any NODE_EXTRA_CA_CERTS) applies.
 * A bundle that cannot be read costs a warning, as it does node, not the connection.
 */
export function tlsContext(): SecureContext | undefined {
  const file = process.env[DEFERRED_CA_ENV];
  if (!file) return undefined;
  if (cached?.file !== file) {
    let extra: string[] = [];
    try {
      extra = [readFileSync(file, 'latin1')];
    } catch (e) {
      process.emitWarning(`Ignoring extra certs from ${file}, load failed: ${(e as Error).message}`);
    }
    // loaded here, not imported: every command imports this module, and node:tls costs ~10 ms
    const tls = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
    cached = { file, context: tls.createSecureContext({ ca: [...tls.rootCertificates, ...extra] }) };
  }
  return cached.context;
}

/** Gives child processes (hooks, a password command, rclone) the bundle under node's own name again. */
export function restoreDeferredCaForChildren(): void {
  const file = process.env[DEFERRED_CA_ENV];
  if (file && process.env.NODE_EXTRA_CA_CERTS === undefined) process.env.NODE_EXTRA_CA_CERTS = file;
}
