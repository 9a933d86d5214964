/**
 * @module Progress events of a compression job, for a terminal line or a job heartbeat.
 */

/** One progress event: a stage, the layer (or group's first layer) it concerns, and a fraction done. */
export interface CompressionProgress {
  stage: string;
  layer?: number;
  done: number;
  total: number;
}

/** Receives progress events. */
export type ProgressListener = (p: CompressionProgress) => void;
