import * as http from 'node:http';
import * as https from 'node:https';
import { tlsContext } from './tlsTrust.js';

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** written back to back; Content-Length must be set by the caller */
  body?: readonly Uint8Array[];
  /** idle time after which the request fails with ETIMEDOUT (default 120 s) */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Keep-alive agents, so a run of requests reuses its connections; made at first use (see tlsTrust.ts). */
let httpAgent: http.Agent | undefined;
let httpsAgent: https.Agent | undefined;

/** One HTTP request with its whole response body; network failures reject with the errno error. */
export function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const secure = req.url.protocol === 'https:';
  const mod = secure ? https : http;
  const agent = secure ? (httpsAgent ??= new https.Agent({ keepAlive: true, maxSockets: 32, secureContext: tlsContext() })) : (httpAgent ??= new http.Agent({ keepAlive: true, maxSockets: 32 }));
  return new Promise((resolve, reject) => {
    const r = mod.request(req.url, { method: req.method, headers: req.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      res.on('aborted', () => reject(Object.assign(new Error('the response was cut off'), { code: 'ECONNRESET' })));
    });
    r.setTimeout(req.timeoutMs ?? 120_000, () => r.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })));
    r.on('error', reject);
    for (const part of req.body ?? []) if (part.byteLength) r.write(part);
    r.end();
  });
}
