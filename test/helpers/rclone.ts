/**
 * rclone remotes for the tests, configured through RCLONE_CONFIG_<NAME>_* environment variables
 * (no config file): `ocvlocal:` (a local folder) and `ocvsftp:` (the test's OpenSSH server).
 */
import { execFileSync } from 'node:child_process';
import type { SshServer } from './sshd.js';

export function rcloneAvailable(): boolean {
  try {
    execFileSync('rclone', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function rcloneLocalEnv(): Record<string, string> {
  return { RCLONE_CONFIG_OCVLOCAL_TYPE: 'local' };
}

export function rcloneSftpEnv(sshd: SshServer): Record<string, string> {
  return {
    RCLONE_CONFIG_OCVSFTP_TYPE: 'sftp',
    RCLONE_CONFIG_OCVSFTP_HOST: '127.0.0.1',
    RCLONE_CONFIG_OCVSFTP_PORT: String(sshd.port),
    RCLONE_CONFIG_OCVSFTP_USER: sshd.user,
    RCLONE_CONFIG_OCVSFTP_KEY_FILE: sshd.clientKey,
    RCLONE_CONFIG_OCVSFTP_KNOWN_HOSTS_FILE: sshd.knownHosts,
    // no md5sum over a login shell: the test user's shell may start slowly (e.g. pyenv's rc files)
    RCLONE_CONFIG_OCVSFTP_SHELL_TYPE: 'none',
  };
}
