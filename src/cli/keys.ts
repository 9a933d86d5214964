/**
 * @module `flatgate keys create|list|revoke`: manage API keys in the gateway's database (the one
 * FLATGATE_DATABASE_URL or FLATGATE_DATA_DIR points at).
 */
import { createApiKey, parseScopes } from '../access/keys.ts';
import { loadConfig } from '../config.ts';
import { listApiKeys, revokeApiKey } from '../db/queries/api-keys.ts';
import { openLibsql } from '../db/open-libsql.ts';
import { InvalidRequest } from '../errors.ts';
import { num, parse } from './args.ts';

const USAGE = `flatgate keys create --owner NAME [--name LABEL] [--scopes inference,upload,admin] [--rate-limit PER_MINUTE] [--upload-quota BYTES] [--json]
flatgate keys list [--json]
flatgate keys revoke KEY_ID`;

export async function keysCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    owner: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'string' },
    'rate-limit': { type: 'string' },
    'upload-quota': { type: 'string' },
    json: { type: 'boolean' },
  });
  const config = loadConfig(process.env);
  const { db, close } = await openLibsql(config.databaseUrl, config.databaseAuthToken);
  try {
    if (action === 'create') {
      if (!values.owner) throw new InvalidRequest(`--owner is required; usage:\n${USAGE}`, 'owner');
      const { key, row } = await createApiKey(db, {
        owner: values.owner,
        name: values.name ?? 'key',
        scopes: parseScopes(values.scopes ?? 'inference,upload'),
        rateLimit: num(values['rate-limit'], 'rate-limit', { min: 0, int: true }),
        uploadQuota: num(values['upload-quota'], 'upload-quota', { min: 0, int: true }),
      });
      if (values.json) console.log(JSON.stringify({ id: row.id, key, owner: row.owner, scopes: row.scopes }));
      else console.log(`${key}\n(id ${row.id}, owner ${row.owner}, scopes ${row.scopes.join(',')}; shown once)`);
    } else if (action === 'list') {
      const rows = (await listApiKeys(db)).map((r) => ({
        id: r.id,
        owner: r.owner,
        name: r.name,
        prefix: r.prefix,
        scopes: r.scopes,
        rate_limit: r.rateLimit,
        upload_quota: r.uploadQuota,
        uploaded_bytes: r.uploadedBytes,
        revoked: r.revokedAt !== null,
      }));
      if (values.json) console.log(JSON.stringify(rows));
      else for (const r of rows) console.log(`${r.id}  ${r.prefix}…  ${r.owner}  ${r.scopes.join(',')}${r.revoked ? '  (revoked)' : ''}`);
    } else if (action === 'revoke') {
      if (positionals.length !== 1) throw new InvalidRequest(`usage:\n${USAGE}`);
      if (!(await revokeApiKey(db, positionals[0]))) throw new InvalidRequest(`no live key with id ${positionals[0]}`);
      console.log(`revoked ${positionals[0]}`);
    } else {
      throw new InvalidRequest(`usage:\n${USAGE}`);
    }
  } finally {
    close();
  }
}
