/**
 * @module The embedded object store's key pair: the configured one, or one made at first start and kept
 * in the data directory (mode 0600), so that the gateway, its worker and a restart all agree on it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Credentials } from './sigv4-verify.ts';

/** The file under the data directory that holds the made key pair. */
export const CREDENTIALS_FILE = 's3-credentials.json';

function parse(text: string): S3Credentials | null {
  try {
    const c = JSON.parse(text) as Partial<S3Credentials>;
    return typeof c.accessKeyId === 'string' && typeof c.secretAccessKey === 'string' && c.accessKeyId && c.secretAccessKey.length >= 16
      ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }
      : null;
  } catch {
    return null;
  }
}

/**
 * `configured` when given, else the pair stored in `dataDir` (made and stored, mode 0600, the first time).
 * @example const creds = await embeddedCredentials(config.dataDir, null);
 */
export async function embeddedCredentials(dataDir: string, configured: S3Credentials | null): Promise<S3Credentials> {
  if (configured) return configured;
  const file = join(dataDir, CREDENTIALS_FILE);
  const made: S3Credentials = {
    accessKeyId: `FG${randomBytes(9).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  try {
    await writeFile(file, JSON.stringify(made), { mode: 0o600, flag: 'wx' });
    return made;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const stored = parse(await readFile(file, 'utf8'));
  if (!stored) throw new Error(`${CREDENTIALS_FILE} in the data directory is not a valid key pair; delete it to make a new one`);
  await chmod(file, 0o600);
  return stored;
}
