/**
 * @module Compression parameters of an upload, as any upload route (Node or Worker) accepts them.
 */
import type { Principal } from '../access/keys.ts';
import { InvalidRequest } from '../errors.ts';
import { checkParams } from '../jobs/intake.ts';
import type { CompressionParams } from '../jobs/params.ts';

/**
 * Checks raw parameters. Calibration and evaluation sources outside the upload (a file on the worker,
 * another object in the bucket) are the operator's to choose: any other key could read what is not
 * theirs through them.
 */
export function uploadParams(principal: Principal, raw: unknown): CompressionParams {
  const params = checkParams(raw);
  const foreign = (['calibration_file', 'eval_file', 'calibration_key', 'eval_key'] as const).find((k) => params[k] !== undefined);
  if (foreign && principal.owner !== null) throw new InvalidRequest(`${foreign} may only be set by the operator`, foreign);
  return params;
}
