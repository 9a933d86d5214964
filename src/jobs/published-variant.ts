/**
 * @module Published variants as a serving node sees them: the served id (the original is served as
 * `<name>`, the others as `<name>:<variant>`), where its files are, and what the pool shows of it.
 * Runtime-neutral: the Worker tells its serving containers about variants with the same shape.
 */
import type { ModelRow } from '../db/queries/models.ts';
import type { VariantRow } from '../db/queries/variants.ts';
import type { ServedModelInfo } from '../serving/model-pool.ts';

/**
 * The served id of a variant of model `name`.
 * @example servedId('tiny', 'flat-50') // 'tiny:flat-50'
 */
export const servedId = (name: string, variant: string) => (variant === 'original' ? name : `${name}:${variant}`);

/** A published variant: where its files are in the bucket, and what the pool shows of it. */
export interface PublishedVariant extends ServedModelInfo {
  /** The served id (`name` or `name:variant`). */
  id: string;
  modelId: string;
  /** Its folder under `models/<modelId>/`. */
  variant: string;
}

/** The published variant of a variant row of `model`. */
export function publishedVariant(model: ModelRow, v: VariantRow): PublishedVariant {
  return {
    id: v.id,
    modelId: model.id,
    variant: v.name,
    parent: v.method === 'original' ? null : model.name,
    method: v.method,
    created: Math.floor(v.createdAt / 1000),
    layers: v.layers,
    params: v.params,
    bytes: v.bytes,
    evaluation: v.evaluation as Record<string, unknown> | null,
    owner: model.owner,
  };
}
