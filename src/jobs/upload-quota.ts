/**
 * @module Upload quotas, reserved before any byte is accepted: one conditional UPDATE takes the bytes
 * from the key's quota (so parallel uploads cannot together pass it), and what an upload did not use
 * is given back when it ends, all of it when it fails.
 */
import type { Db } from '../db/client.ts';
import { releaseUploadBytes, reserveUploadBytes, uploadTally } from '../db/queries/api-keys.ts';
import { expireQuotaUploads } from '../db/queries/uploads.ts';
import { QuotaExceeded } from '../errors.ts';

/** Bytes held for one upload. */
export interface QuotaReservation {
  /** Most bytes the upload may have (Infinity without a quota). */
  readonly limit: number;
  /** Keeps `used` bytes booked and gives back the rest. */
  settle(used: number): Promise<void>;
  /** Gives back everything (the upload failed). */
  release(): Promise<void>;
}

const UNLIMITED: QuotaReservation = { limit: Infinity, settle: async () => undefined, release: async () => undefined };

/**
 * Reserves `bytes` (or, when unknown, all the quota has left up to `cap`) for the key `keyId` whose
 * quota is `quota` (0: none); throws QuotaExceeded when that much is not left.
 * @example const r = await reserveUploadQuota(db, key.id, key.uploadQuota, declared, maxUpload); ...; await r.settle(bytes);
 */
export async function reserveUploadQuota(db: Db, keyId: string, quota: number, bytes: number | undefined, cap: number): Promise<QuotaReservation> {
  if (quota <= 0) return UNLIMITED;
  // presigned uploads that were never completed give their reservation back once they expire
  await releaseUploadBytes(db, keyId, await expireQuotaUploads(db, keyId, Date.now()));
  let amount = bytes;
  if (amount === undefined) {
    const tally = await uploadTally(db, keyId);
    amount = Math.min(cap, tally ? tally.quota - tally.used : 0);
  }
  if (!(amount > 0) || !(await reserveUploadBytes(db, keyId, amount))) throw new QuotaExceeded(quota);
  return reservation(db, keyId, amount);
}

/** The reservation of `amount` bytes already taken from `keyId` (e.g. recorded with a presigned upload). */
export function reservation(db: Db, keyId: string, amount: number): QuotaReservation {
  let open = true;
  const giveBack = async (n: number) => {
    if (!open) return;
    open = false;
    await releaseUploadBytes(db, keyId, n);
  };
  return { limit: amount, settle: (used) => giveBack(amount - Math.min(used, amount)), release: () => giveBack(amount) };
}
