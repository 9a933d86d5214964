/**
 * @module API keys: generation, hashing (SHA-256; keys are random, so a fast hash is enough), creation
 * and lookup. The plain key is shown once, at creation, and never stored. Web Crypto only, so the same
 * code runs in Node and in a Cloudflare Worker.
 */
import type { Db } from '../db/client.ts';
import { findKeyByName, findLiveKeyByHash, insertApiKey, type ApiKeyRow } from '../db/queries/api-keys.ts';
import { InvalidRequest } from '../errors.ts';

/** What a key may do. `admin` covers A/B routes, keys and metrics, and implies the others. */
export const SCOPES = ['inference', 'upload', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The owner name of keys that act for the operator: they see and manage every model. */
export const OPERATOR = 'operator';

/** Who a request acts for. `owner: null` is the operator. */
export interface Principal {
  keyId: string;
  owner: string | null;
  scopes: ReadonlySet<Scope>;
  /** Requests per minute, 0 for unlimited. */
  rateLimit: number;
  uploadQuota: number;
  uploadedBytes: number;
}

/** The principal of open mode and of the operator's admin key. */
export function operatorPrincipal(keyId: string): Principal {
  return { keyId, owner: null, scopes: new Set(SCOPES), rateLimit: 0, uploadQuota: 0, uploadedBytes: 0 };
}

/** SHA-256 of the key, hex. */
export async function hashKey(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Comparison of a presented key with a known one in time independent of where they differ. */
export async function sameKey(presented: string, known: string): Promise<boolean> {
  const [a, b] = await Promise.all([hashKey(presented), hashKey(known)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A new random key: `fg-` and 43 base64url characters (256 bits). */
export function generateKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes));
  return `fg-${b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

/** Parses a comma-separated scope list. */
export function parseScopes(raw: string): Scope[] {
  const scopes = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = scopes.find((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad || scopes.length === 0) throw new InvalidRequest(`scopes must be a comma-separated subset of ${SCOPES.join(', ')}`, 'scopes');
  return scopes as Scope[];
}

/** Options of a new key. */
export interface NewKey {
  owner: string;
  name: string;
  scopes: Scope[];
  rateLimit?: number;
  uploadQuota?: number;
}

/**
 * Creates a key and returns it in plain text with its row: the only time the key is visible.
 * @example const { key } = await createApiKey(db, { owner: 'alice', name: 'ci', scopes: ['inference'] });
 */
export async function createApiKey(db: Db, k: NewKey): Promise<{ key: string; row: ApiKeyRow }> {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(k.owner)) throw new InvalidRequest('owner must be 1-64 letters, digits or ._@-', 'owner');
  const key = generateKey();
  const row: ApiKeyRow = {
    id: `key_${crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`,
    owner: k.owner,
    name: k.name,
    hash: await hashKey(key),
    prefix: key.slice(0, 10),
    scopes: k.scopes,
    rateLimit: k.rateLimit ?? 0,
    uploadQuota: k.uploadQuota ?? 0,
    uploadedBytes: 0,
    createdAt: Date.now(),
    revokedAt: null,
  };
  await insertApiKey(db, row);
  return { key, row };
}

/** The principal of a presented key, or null when it is unknown or revoked. */
export async function principalOfKey(db: Db, key: string): Promise<Principal | null> {
  const row = await findLiveKeyByHash(db, await hashKey(key));
  if (!row) return null;
  return {
    keyId: row.id,
    owner: row.owner === OPERATOR ? null : row.owner,
    scopes: new Set(row.scopes.includes('admin') && row.owner === OPERATOR ? SCOPES : (row.scopes as Scope[])),
    rateLimit: row.rateLimit,
    uploadQuota: row.uploadQuota,
    uploadedBytes: row.uploadedBytes,
  };
}

/**
 * Whether `p` may see and use a model owned by `owner` (null: the operator's, served to every key). A
 * principal without scopes (a browser on a keyless page) may use nothing.
 */
export function canUse(p: Principal, owner: string | null | undefined): boolean {
  return p.scopes.size > 0 && (p.owner === null || owner == null || owner === p.owner);
}

/** Whether `p` may change (route, delete) a model owned by `owner`. */
export function canManage(p: Principal, owner: string | null | undefined): boolean {
  return p.scopes.size > 0 && (p.owner === null || (owner != null && owner === p.owner));
}

/** Name of the admin key a local gateway makes for itself at first start. */
export const LOCAL_ADMIN_KEY_NAME = 'local-admin';

/**
 * Makes the local operator key unless it exists; returns the new key (to print once) or null.
 * @example const key = await ensureLocalAdminKey(db); if (key) console.log(key);
 */
export async function ensureLocalAdminKey(db: Db): Promise<string | null> {
  if (await findKeyByName(db, LOCAL_ADMIN_KEY_NAME)) return null;
  const { key } = await createApiKey(db, { owner: OPERATOR, name: LOCAL_ADMIN_KEY_NAME, scopes: [...SCOPES] });
  return key;
}
