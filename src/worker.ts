/**
 * @module The compression worker entry (Node): `node --import tsx src/worker.ts --gateway URL`, or
 * `npx flatgate worker --gateway URL`. Pulls jobs from the gateway over HTTP; see src/cli/worker.ts.
 */
import { workerCommand } from './cli/worker.ts';
import { FlatgateError } from './errors.ts';

workerCommand(process.argv.slice(2), process.env).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`flatgate worker: ${err instanceof FlatgateError ? err.message : ((err as Error)?.stack ?? String(err))}`);
    process.exit(1);
  },
);
