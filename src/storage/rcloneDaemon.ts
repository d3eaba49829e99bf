import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { OcvaultError } from '../errors/OcvaultError.js';
import { httpRequest, type HttpResponse } from './httpRequest.js';
import { storageFailure } from './storageErrors.js';
import { freeLoopbackPort as freePort } from './loopbackPort.js';

export interface RcloneDaemonOptions {
  /** the rclone binary (default `rclone`) */
  binary: string;
  /** extra flags for rclone, e.g. `--config FILE` or `-vv` */
  args: string[];
  /** rclone's environment (RCLONE_CONFIG_*, RCLONE_* flags); default ours */
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

/**
 * Runs `rclone rcd` (rclone's remote-control server) on 127.0.0.1 with a random port and
 * random credentials, under a small shell that kills it when our stdin closes — so rclone
 * never outlives us, even after a SIGKILL. One long-lived process keeps the remote's
 * connections and tokens warm: each operation is one HTTP call, not a process start.
 */
export class RcloneDaemon {
  private stderr = '';
  private busy = 0;

  private constructor(
    private readonly child: ChildProcess,
    readonly base: string,
    private readonly auth: string,
  ) {
    child.stderr!.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
  }

  /**
   * Runs one request. rclone keeps the process alive only while a request runs, so a command
   * that ends (or fails) without close() still exits; rclone then dies with its watchdog.
   */
  private async request<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy++ === 0) this.setRef(true);
    try {
      return await fn();
    } finally {
      if (--this.busy === 0) this.setRef(false);
    }
  }

  private setRef(on: boolean): void {
    for (const h of [this.child, this.child.stdin, this.child.stderr] as ({ ref(): void; unref(): void } | null)[]) {
      if (on) h?.ref();
      else h?.unref();
    }
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines rclone logged, for error messages. */
  get log(): string {
    return this.stderr.trim().split('\n').slice(-3).join(' | ');
  }

  static async start(o: RcloneDaemonOptions, location: string): Promise<RcloneDaemon> {
    const user = randomBytes(8).toString('hex');
    const pass = randomBytes(16).toString('hex');
    const port = await freePort();
    const watchdog = 'exec 3<&0; "$@" </dev/null & p=$!; { read _ <&3; kill $p 2>/dev/null; } & w=$!; wait $p; s=$?; kill $w 2>/dev/null; exit $s';
    const args = ['rcd', '--rc-addr', `127.0.0.1:${port}`, '--rc-user', user, '--rc-pass', pass, '--rc-serve', ...o.args];
    const child = spawn('/bin/sh', ['-c', watchdog, 'sh', o.binary, ...args], { stdio: ['pipe', 'ignore', 'pipe'], env: o.env ?? process.env });
    child.stdin!.on('error', () => undefined);
    const d = new RcloneDaemon(child, `http://127.0.0.1:${port}`, 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64'));
    const until = Date.now() + (o.startTimeoutMs ?? 20_000);
    for (;;) {
      if (!d.alive) {
        const log = d.stderr.trim();
        if (child.exitCode === 127 || /not found/.test(log)) throw new OcvaultError('Usage', `rclone is not installed (no ${o.binary}): install rclone or set OCVAULT_RCLONE to its path`, { location });
        throw storageFailure(location, 'starting rclone', `rclone exited (code ${child.exitCode}): ${log}`, false);
      }
      try {
        await d.call('rc/noop', {});
        d.setRef(false);
        return d;
      } catch {
        if (Date.now() > until) {
          await d.stop();
          throw storageFailure(location, 'starting rclone', `rclone rcd did not answer in time: ${d.log}`, true);
        }
        await sleep(30);
      }
    }
  }

  /** POSTs an rc call; resolves with its JSON answer (rclone's errors reject). */
  async call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    const body = Buffer.from(JSON.stringify(params));
    const res = await this.request(() => httpRequest({
      method: 'POST',
      url: new URL(`${this.base}/${method}`),
      headers: { authorization: this.auth, 'content-type': 'application/json', 'content-length': String(body.length) },
      body: [body],
    }));
    return parseAnswer<T>(res, method);
  }

  /** GETs an object through rclone's file server; `range` as an HTTP Range value. */
  get(fs: string, key: string, range?: string): Promise<HttpResponse> {
    const url = new URL(`${this.base}/%5B${encodePath(fs)}%5D/${encodePath(key)}`);
    return this.request(() => httpRequest({ method: 'GET', url, headers: { authorization: this.auth, ...(range ? { range } : {}) } }));
  }

  /** Uploads one file into folder `dir` of `fs` (operations/uploadfile, a multipart form). */
  async upload<T>(fs: string, dir: string, filename: string, parts: readonly Uint8Array[]): Promise<T> {
    const boundary = `ocvault-${randomBytes(12).toString('hex')}`;
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file0"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const size = head.length + tail.length + parts.reduce((n, p) => n + p.byteLength, 0);
    const url = new URL(`${this.base}/operations/uploadfile?fs=${encodeURIComponent(fs)}&remote=${encodeURIComponent(dir)}`);
    const res = await this.request(() => httpRequest({
      method: 'POST',
      url,
      headers: { authorization: this.auth, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(size) },
      body: [head, ...parts, tail],
    }));
    return parseAnswer<T>(res, 'operations/uploadfile');
  }

  /** Stops rclone: closing our end of the pipe makes the watchdog kill it. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.setRef(true);
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

/** rclone's answer, or a RcloneError carrying its message and HTTP status. */
export class RcloneError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

function parseAnswer<T>(res: HttpResponse, method: string): T {
  let json: { error?: string } & Record<string, unknown>;
  try {
    json = JSON.parse(res.body.toString('utf8') || '{}') as typeof json;
  } catch {
    throw new RcloneError(`rclone answered ${method} with HTTP ${res.status} and no JSON`, res.status);
  }
  if (res.status >= 300 || typeof json.error === 'string') throw new RcloneError(json.error ?? `HTTP ${res.status}`, res.status);
  return json as T;
}


function encodePath(s: string): string {
  return s.replace(/[^A-Za-z0-9:/._~-]/g, (c) => encodeURIComponent(c));
}

