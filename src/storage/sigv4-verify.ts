/**
 * @module Verifies AWS Signature Version 4 on incoming S3 requests, header-signed (`Authorization:
 * AWS4-HMAC-SHA256 ...`) and presigned (`X-Amz-Signature` in the query), the way S3 computes it: the
 * raw path as sent, the query re-encoded and sorted, the signed headers, the declared payload hash.
 * s3rver 3.7 does not check V4 signatures at all, so the embedded store runs this in front of it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The one key pair the store accepts. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What the verifier reads of a request. */
export interface SignedRequest {
  method: string;
  /** Path and query exactly as received (`/bucket/key?x=1`). */
  url: string;
  /** Lower-case header names (Node's `req.headers`). */
  headers: Record<string, string | string[] | undefined>;
}

/** Why a request was refused (S3's error codes). */
export interface Refusal {
  code: 'AccessDenied' | 'InvalidAccessKeyId' | 'SignatureDoesNotMatch' | 'RequestTimeTooSkewed' | 'AuthorizationQueryParametersError';
  message: string;
}

const SKEW_MS = 15 * 60_000;
const MAX_PRESIGN_S = 7 * 24 * 3600;

/** RFC 3986 escaping, as the AWS signers do. */
const escape = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** `20260101T000000Z` as epoch ms, or NaN. */
function amzTime(s: string | undefined): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? '');
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

const header = (h: SignedRequest['headers'], name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/**
 * Checks `req` against `creds`; null when it is correctly signed and current, else why not.
 * Unsigned requests are refused (there is no anonymous access).
 * @example const refusal = verifySigV4(req, { accessKeyId, secretAccessKey }); if (refusal) deny(refusal);
 */
export function verifySigV4(req: SignedRequest, creds: S3Credentials, now = Date.now()): Refusal | null {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const pairs: [string, string][] = [];
  for (const part of q < 0 ? [] : req.url.slice(q + 1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = decode(eq < 0 ? part : part.slice(0, eq));
    const v = decode(eq < 0 ? '' : part.slice(eq + 1));
    if (k === null || v === null) return { code: 'AccessDenied', message: 'Malformed query string' };
    pairs.push([k, v]);
  }
  const query = new Map(pairs);
  const auth = header(req.headers, 'authorization');
  const presigned = query.has('X-Amz-Signature');
  if (auth && presigned) return { code: 'AccessDenied', message: 'Only one auth mechanism allowed' };

  let credential: string, signedHeaders: string, signature: string, amzDate: string | undefined, payloadHash: string | undefined;
  if (presigned) {
    if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return { code: 'AuthorizationQueryParametersError', message: 'X-Amz-Algorithm must be AWS4-HMAC-SHA256' };
    credential = query.get('X-Amz-Credential') ?? '';
    signedHeaders = query.get('X-Amz-SignedHeaders') ?? '';
    signature = query.get('X-Amz-Signature') ?? '';
    amzDate = query.get('X-Amz-Date');
    payloadHash = query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
    const expires = Number(query.get('X-Amz-Expires'));
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_S) return { code: 'AuthorizationQueryParametersError', message: 'X-Amz-Expires must be 1 to 604800 seconds' };
    const t = amzTime(amzDate);
    if (!(t - SKEW_MS <= now)) return { code: 'RequestTimeTooSkewed', message: 'The request is signed in the future' };
    if (t + expires * 1000 < now) return { code: 'AccessDenied', message: 'Request has expired' };
  } else if (auth) {
    const m = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$/.exec(auth.trim());
    if (!m) return { code: 'AccessDenied', message: 'Only AWS4-HMAC-SHA256 header signatures are accepted' };
    [, credential, signedHeaders, signature] = m;
    amzDate = header(req.headers, 'x-amz-date');
    payloadHash = header(req.headers, 'x-amz-content-sha256');
    if (!payloadHash) return { code: 'AccessDenied', message: 'x-amz-content-sha256 is required' };
    const t = amzTime(amzDate);
    if (!(Math.abs(now - t) <= SKEW_MS)) return { code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large' };
  } else {
    return { code: 'AccessDenied', message: 'Anonymous access is not allowed: sign the request (AWS Signature Version 4)' };
  }

  const [keyId, day, region, service, term, ...extra] = credential.split('/');
  if (keyId !== creds.accessKeyId) return { code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  if (extra.length || !day || day !== amzDate!.slice(0, 8) || !region || service !== 's3' || term !== 'aws4_request') {
    return { code: 'AuthorizationQueryParametersError', message: 'Malformed credential scope' };
  }
  const names = signedHeaders.split(';');
  if (!names.includes('host') || names.some((n) => n !== n.toLowerCase() || header(req.headers, n) === undefined)) {
    return { code: 'SignatureDoesNotMatch', message: 'SignedHeaders must include host and name only headers that were sent' };
  }

  const canonicalQuery = pairs
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [escape(k), escape(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = names.map((n) => `${n}:${header(req.headers, n)!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), 's3'), 'aws4_request');
  const expected = createHmac('sha256', key).update(toSign, 'utf8').digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' };
  }
  return null;
}
