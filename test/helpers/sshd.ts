/**
 * A throwaway OpenSSH server on 127.0.0.1 for the SFTP tests: its own host key, one authorized
 * client key, a known_hosts file naming it, a random port. `stop()` kills it and every
 * connection it serves (a server dying mid-backup); `start()` brings it back on the same port.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, promises as fsp } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import type { SftpBackendOptions } from '../../src/storage/SftpBackend.js';
import { freePort, waitForPort } from './freePort.js';
import { killTree } from './processTree.js';

export const SSHD_PATH = '/usr/sbin/sshd';

export class SshServer {
  private child: ChildProcess | undefined;
  private stderr = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly user: string,
    readonly clientKey: string,
    readonly knownHosts: string,
    readonly hostFingerprint: string,
  ) {}

  /** A folder for repositories, writable by the login user. */
  get root(): string {
    return path.join(this.dir, 'storage');
  }

  static available(): boolean {
    return existsSync(SSHD_PATH) && existsSync('/usr/bin/ssh-keygen');
  }

  static async start(): Promise<SshServer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'ocv-sshd-'));
    const keygen = (file: string): void => {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ocvault-test', '-f', file], { stdio: 'ignore' });
    };
    keygen(path.join(dir, 'host_ed25519'));
    keygen(path.join(dir, 'client_ed25519'));
    await fsp.copyFile(path.join(dir, 'client_ed25519.pub'), path.join(dir, 'authorized_keys'));
    const port = await freePort();
    const hostPub = (await fsp.readFile(path.join(dir, 'host_ed25519.pub'), 'utf8')).trim().split(/\s+/);
    await fsp.writeFile(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}\n`);
    const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(dir, 'host_ed25519.pub')], { encoding: 'utf8' }).split(/\s+/)[1]!;
    await fsp.mkdir(path.join(dir, 'storage'), { mode: 0o700 });
    await fsp.writeFile(
      path.join(dir, 'sshd_config'),
      [
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(dir, 'host_ed25519')}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        'PidFile none',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'MaxStartups 100',
        'MaxSessions 100',
        'Subsystem sftp internal-sftp',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    // sshd started by root wants its privilege separation folder
    if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    const s = new SshServer(dir, port, userInfo().username, path.join(dir, 'client_ed25519'), path.join(dir, 'known_hosts'), fp);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(SSHD_PATH, ['-D', '-e', '-f', path.join(this.dir, 'sshd_config'), '-p', String(this.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let exited = false;
    child.on('exit', () => {
      exited = true;
      if (this.child === child) this.child = undefined;
    });
    child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    try {
      await waitForPort(this.port, 10_000, () => !exited);
      if (exited) throw new Error('exited');
    } catch {
      throw new Error(`sshd did not start on port ${this.port}: ${this.stderr.trim()}`);
    }
  }

  /** Kills the server and every session it serves, as a crash or a power cut would. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killTree(child.pid);
    await gone;
    this.child = undefined;
  }

  /** Backend options for a repository at `sub` under root. */
  options(sub: string): SftpBackendOptions {
    return {
      host: '127.0.0.1',
      port: this.port,
      user: this.user,
      path: path.join(this.root, sub),
      keyFiles: [{ file: this.clientKey, required: true }],
      knownHostsFiles: [this.knownHosts],
      fingerprints: [],
    };
  }

  url(sub: string): string {
    return `sftp://${this.user}@127.0.0.1:${this.port}${path.join(this.root, sub)}`;
  }

  /** What an `ocvault` child needs to log in. */
  env(): Record<string, string> {
    return { OCVAULT_SFTP_KEY: this.clientKey, OCVAULT_SFTP_KNOWN_HOSTS: this.knownHosts };
  }

  async dispose(): Promise<void> {
    await this.stop();
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
