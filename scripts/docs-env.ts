/**
 * @module `npm run docs:env`: writes the README's table of environment variables from src/config.ts
 * (the one definition), between its env markers.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { withEnvTable } from '../src/config.ts';

const README = new URL('../README.md', import.meta.url);
const before = await readFile(README, 'utf8');
const after = withEnvTable(before);
if (after !== before) await writeFile(README, after);
console.log(after === before ? 'README.md: env table already up to date' : 'README.md: env table updated');
