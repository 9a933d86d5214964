/**
 * @module The compression worker entry (Node): `node --import tsx src/worker.ts --gateway URL`, or
 * `npx flatgate worker --gateway URL`. Pulls jobs from the gateway over HTTP; see src/cli/worker.ts.
 */
import { workerCommand } from './cli/worker.ts';
import { FlatgateError } from './errors.ts';

// started by a gateway (local-worker.ts): if the gateway dies, even by SIGKILL, its channel closes and
// this worker goes too, rather than polling a dead address forever; the next start sweeps its scratch
if (process.send) {
  process.on('disconnect', () => {
    console.error('flatgate worker: the gateway that started this worker is gone; exiting');
    process.exit(1);
  });
}

workerCommand(process.argv.slice(2), process.env).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`flatgate worker: ${err instanceof FlatgateError ? err.message : ((err as Error)?.stack ?? String(err))}`);
    process.exit(1);
  },
);
