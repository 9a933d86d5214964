/** @module drizzle-kit settings: SQLite dialect, flat migration files in ./drizzle (wrangler reads them too). */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './drizzle',
  casing: 'snake_case',
});
