import { createHash, createHmac } from 'node:crypto';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** when temporary credentials run out */
  expiration?: Date;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** An object key as a URL path: each segment encoded, slashes kept. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(uriEncode).join('/');
}

export function canonicalQuery(params: readonly (readonly [string, string])[]): string {
  return params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export interface SignInput {
  method: string;
  /** the encoded path, as sent */
  path: string;
  /** the canonical (sorted, encoded) query string, as sent */
  query: string;
  /** headers to sign (host included), lower-case names */
  headers: Record<string, string>;
  payloadHash: string;
  region: string;
  credentials: S3Credentials;
  date?: Date;
  service?: string;
}

/**
 * AWS Signature Version 4 for one request: returns the headers to add (x-amz-date,
 * x-amz-content-sha256, x-amz-security-token, authorization).
 */
export function signV4(i: SignInput): Record<string, string> {
  const service = i.service ?? 's3';
  const amzDate = (i.date ?? new Date()).toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { ...i.headers, 'x-amz-date': amzDate, 'x-amz-content-sha256': i.payloadHash };
  if (i.credentials.sessionToken) headers['x-amz-security-token'] = i.credentials.sessionToken;
  const names = Object.keys(headers).map((h) => h.toLowerCase()).sort();
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v.trim().replace(/\s+/g, ' ');
  const canonicalHeaders = names.map((n) => `${n}:${lower[n]}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [i.method, i.path, i.query, canonicalHeaders, signedHeaders, i.payloadHash].join('\n');
  const scope = `${day}/${i.region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const kDate = hmac('AWS4' + i.credentials.secretAccessKey, day);
  const kSigning = hmac(hmac(hmac(kDate, i.region), service), 'aws4_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign).digest('hex');
  const out: Record<string, string> = { 'x-amz-date': amzDate, 'x-amz-content-sha256': i.payloadHash };
  if (i.credentials.sessionToken) out['x-amz-security-token'] = i.credentials.sessionToken;
  out.authorization = `AWS4-HMAC-SHA256 Credential=${i.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return out;
}
