import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { S3Credentials } from './s3Signer.js';

type Ini = Map<string, Record<string, string>>;

/** Parses an AWS-style INI file (`[section]`, `key = value`, `#`/`;` comments). */
export function parseIni(text: string): Ini {
  const out: Ini = new Map();
  let section: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (head) {
      section = out.get(head[1]!) ?? {};
      out.set(head[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (section && eq > 0) section[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return out;
}

function readIni(file: string): Ini {
  try {
    return parseIni(readFileSync(file, 'utf8'));
  } catch {
    return new Map();
  }
}

export interface AwsProfile {
  name: string;
  /** keys of the profile: credentials file first, then the config file */
  values: Record<string, string>;
}

/** The profile named by AWS_PROFILE (or `default`), merged from ~/.aws/credentials and ~/.aws/config. */
export function loadProfile(env: NodeJS.ProcessEnv, name = env.AWS_PROFILE || 'default'): AwsProfile {
  const home = env.HOME || homedir();
  const creds = readIni(env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, '.aws', 'credentials'));
  const config = readIni(env.AWS_CONFIG_FILE || path.join(home, '.aws', 'config'));
  const fromConfig = config.get(name === 'default' ? 'default' : `profile ${name}`) ?? config.get(name) ?? {};
  return { name, values: { ...fromConfig, ...(creds.get(name) ?? {}) } };
}

function runCredentialProcess(command: string, profile: string): Promise<S3Credentials> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return reject(new OcvaultError('Usage', `credential_process of AWS profile ${profile} failed: ${err.message}`));
      try {
        const v = JSON.parse(stdout) as { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: string };
        if (!v.AccessKeyId || !v.SecretAccessKey) throw new Error('no AccessKeyId/SecretAccessKey');
        resolve({ accessKeyId: v.AccessKeyId, secretAccessKey: v.SecretAccessKey, sessionToken: v.SessionToken, expiration: v.Expiration ? new Date(v.Expiration) : undefined });
      } catch (e) {
        reject(new OcvaultError('Usage', `credential_process of AWS profile ${profile} printed no usable credentials: ${(e as Error).message}`));
      }
    });
  });
}

/**
 * S3 credentials the way the AWS tools find them: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 * (/ AWS_SESSION_TOKEN), else the AWS_PROFILE profile (default `default`) in
 * ~/.aws/credentials or ~/.aws/config: static keys or a `credential_process`.
 */
export async function resolveCredentials(env: NodeJS.ProcessEnv): Promise<S3Credentials> {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined };
  }
  const p = loadProfile(env);
  if (p.values.aws_access_key_id && p.values.aws_secret_access_key) {
    return { accessKeyId: p.values.aws_access_key_id, secretAccessKey: p.values.aws_secret_access_key, sessionToken: p.values.aws_session_token || undefined };
  }
  if (p.values.credential_process) return runCredentialProcess(p.values.credential_process, p.name);
  throw new OcvaultError(
    'Usage',
    `no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give keys for profile ${p.name} in ~/.aws/credentials (AWS_PROFILE picks the profile)`,
  );
}

/** The region to sign for: AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`. */
export function regionFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || loadProfile(env).values.region || undefined;
}
