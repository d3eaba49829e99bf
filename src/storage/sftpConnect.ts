import { readFileSync } from 'node:fs';
import type ssh2 from 'ssh2';
import type { AnyAuthMethod, ConnectConfig, SFTPWrapper } from 'ssh2';
import { OcvaultError } from '../errors/OcvaultError.js';
import { checkHostKey, fingerprint, keyTypeOf, knownHostName, parseKnownHosts, preferredHostKeyAlgorithms, type KnownHostEntry } from './knownHosts.js';
import { reasonOf, storageFailure } from './storageErrors.js';

/** How to reach and log in to an SFTP server. */
export interface SftpConnectOptions {
  host: string;
  port: number;
  user: string;
  /** private key files to offer; `required` ones must exist and parse */
  keyFiles: { file: string; required: boolean }[];
  passphrase?: string;
  password?: string;
  /** ssh-agent socket */
  agent?: string;
  /** known_hosts files to check the server's key against (missing files are skipped) */
  knownHostsFiles: string[];
  /** host key fingerprints (`SHA256:...`) to accept even when not in known_hosts */
  fingerprints: string[];
  readyTimeoutMs?: number;
}

export interface SftpConnection {
  client: ssh2.Client;
  sftp: SFTPWrapper;
}

function readKnownHosts(files: readonly string[]): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const f of files) {
    try {
      out.push(...parseKnownHosts(readFileSync(f, 'utf8')));
    } catch {
      // a missing known_hosts file knows no host
    }
  }
  return out;
}

/** The login methods to try, in OpenSSH's order: agent, keys, password. */
function authMethods(ssh: typeof ssh2, o: SftpConnectOptions): { methods: AnyAuthMethod[]; described: string[] } {
  const methods: AnyAuthMethod[] = [];
  const described: string[] = [];
  if (o.agent) {
    methods.push({ type: 'agent', username: o.user, agent: o.agent });
    described.push('ssh-agent');
  }
  for (const { file, required } of o.keyFiles) {
    let text: Buffer;
    try {
      text = readFileSync(file);
    } catch (e) {
      if (required) throw new OcvaultError('Usage', `cannot read the SSH key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
      continue;
    }
    const parsed = ssh.utils.parseKey(text, o.passphrase);
    if (parsed instanceof Error) {
      const why = /encrypted|passphrase/i.test(parsed.message) ? 'it is encrypted: set OCVAULT_SFTP_KEY_PASSPHRASE' : parsed.message;
      if (required) throw new OcvaultError('Usage', `cannot use the SSH key ${file}: ${why}`, { file });
      described.push(`key ${file} (skipped: ${why})`);
      continue;
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key) continue;
    methods.push({ type: 'publickey', username: o.user, key });
    described.push(`key ${file}`);
  }
  if (o.password !== undefined) {
    methods.push({ type: 'password', username: o.user, password: o.password });
    described.push('password');
  }
  return { methods, described };
}

/**
 * Opens an SSH connection and its SFTP channel. The server's host key must be in known_hosts
 * or match a given fingerprint; an unknown or changed key is a clear, permanent error.
 */
export async function connectSftp(o: SftpConnectOptions, location: string): Promise<SftpConnection> {
  // loaded on first use: only SFTP repositories pay for ssh2's start-up
  const { default: ssh } = await import('ssh2');
  return connectWith(ssh, o, location);
}

function connectWith(ssh: typeof ssh2, o: SftpConnectOptions, location: string): Promise<SftpConnection> {
  const { methods, described } = authMethods(ssh, o);
  if (methods.length === 0) {
    return Promise.reject(
      new OcvaultError('Usage', `no way to log in to ${location}: no SSH key in ~/.ssh, no ssh-agent (SSH_AUTH_SOCK), no OCVAULT_SFTP_KEY or OCVAULT_SFTP_PASSWORD`, { location }),
    );
  }
  const known = readKnownHosts(o.knownHostsFiles);
  const name = knownHostName(o.host, o.port);
  const algos = preferredHostKeyAlgorithms(known, name);
  let hostKeyError: OcvaultError | undefined;
  const verify = (key: Buffer): boolean => {
    const fp = fingerprint(key);
    if (o.fingerprints.includes(fp)) return true;
    const verdict = checkHostKey(known, name, key);
    if (verdict.kind === 'known') return true;
    const shown = `${keyTypeOf(key)} ${fp}`;
    const msg =
      verdict.kind === 'changed'
        ? `the host key of ${name} has CHANGED: the server shows ${shown}, known_hosts has ${verdict.expected.join(', ')}. Someone may be intercepting the connection; if the server's key really changed, fix known_hosts (ssh-keygen -R '${name}')`
        : verdict.kind === 'revoked'
          ? `the host key of ${name} (${shown}) is marked @revoked in known_hosts`
          : o.fingerprints.length
            ? `the host key of ${name} (${shown}) matches neither known_hosts nor OCVAULT_SFTP_FINGERPRINT (${o.fingerprints.join(', ')})`
            : `the host key of ${name} is not known (${shown}). Check it, then add it to ~/.ssh/known_hosts (ssh-keyscan -p ${o.port} ${o.host} >> ~/.ssh/known_hosts) or accept it with OCVAULT_SFTP_FINGERPRINT=${fp}`;
    hostKeyError = new OcvaultError('StorageError', msg, { location, host: o.host, port: o.port, fingerprint: fp, transient: false });
    return false;
  };
  const config: ConnectConfig = {
    host: o.host,
    port: o.port,
    username: o.user,
    readyTimeout: o.readyTimeoutMs ?? 20_000,
    // no keepalive timer (it would keep an idle process alive); requests time out instead
    keepaliveInterval: 0,
    hostVerifier: verify,
    authHandler: methods,
    algorithms: {
      // AES-GCM runs in OpenSSL; ssh2's chacha20-poly1305 is far slower
      cipher: { prepend: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com'] } as NonNullable<ConnectConfig['algorithms']>['cipher'],
      ...(algos.length ? { serverHostKey: algos as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } : {}),
    },
  };
  return new Promise((resolve, reject) => {
    const client = new ssh.Client();
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      client.end();
      if (hostKeyError) return reject(hostKeyError);
      const level = (e as { level?: string }).level;
      if (level === 'client-authentication') {
        return reject(new OcvaultError('StorageError', `login to ${location} failed: the server refused every method tried (${described.join(', ')})`, { location, transient: false }));
      }
      reject(storageFailure(location, 'connecting', reasonOf(e), true, e));
    };
    client.on('error', fail);
    client.on('close', () => fail(new Error('the server closed the connection')));
    client.on('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return fail(err);
        settled = true;
        resolve({ client, sftp });
      });
    });
    try {
      client.connect(config);
    } catch (e) {
      fail(e);
    }
  });
}
