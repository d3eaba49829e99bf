/**
 * A throwaway S3-protocol server on 127.0.0.1 for the S3 tests: s3rver (from npm, a real
 * implementation of the S3 REST API that checks SigV4 signatures) in a child process on a
 * random port, data in a temporary folder. `stop()` kills it; `start()` brings it back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { S3BackendOptions } from '../../src/storage/S3Backend.js';
import { freePort, waitForPort } from './freePort.js';
import { killTree } from './processTree.js';

/** The key pair s3rver accepts. */
export const S3_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export class S3Server {
  private child: ChildProcess | undefined;
  private output = '';

  /** `tls`: PEM files of the server's key and certificate; it then speaks HTTPS only */
  private constructor(readonly dir: string, readonly port: number, private readonly tls?: { key: string; cert: string }) {}

  static async start(tls?: { key: string; cert: string }): Promise<S3Server> {
    const dir = await mkdtemp(path.join(tmpdir(), 'ocv-s3-'));
    const s = new S3Server(dir, await freePort(), tls);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
    const tls = this.tls ? ['--key', this.tls.key, '--cert', this.tls.cert] : [];
    const child = spawn(process.execPath, [bin, '-d', this.dir, '-a', '127.0.0.1', '-p', String(this.port), '--silent', '--no-vhost-buckets', ...tls], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let exited = false;
    child.on('exit', () => {
      exited = true;
      if (this.child === child) this.child = undefined;
    });
    child.stdout!.on('data', (b: Buffer) => (this.output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (this.output += b.toString()));
    try {
      await waitForPort(this.port, 15_000, () => !exited);
      if (exited) throw new Error('exited');
    } catch {
      throw new Error(`s3rver did not start on port ${this.port}: ${this.output.trim()}`);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killTree(child.pid);
    await gone;
    this.child = undefined;
  }

  options(bucket: string, prefix = ''): S3BackendOptions {
    return { protocol: this.tls ? 'https:' : 'http:', host: '127.0.0.1', port: this.port, bucket, prefix, region: 'us-east-1', pathStyle: true, credentials: async () => S3_KEY };
  }

  url(bucket: string, prefix = ''): string {
    return `${this.tls ? 's3' : 's3+http'}://127.0.0.1:${this.port}/${bucket}${prefix ? '/' + prefix : ''}`;
  }

  env(): Record<string, string> {
    return { AWS_ACCESS_KEY_ID: S3_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey };
  }

  async dispose(): Promise<void> {
    await this.stop();
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
