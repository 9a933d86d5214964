/**
 * @module DDSketch in storage: the summaries' sketch settings (1% relative accuracy), the protobuf form as
 * base64 text (`toProto()` / `fromProto()`), and a fast merge of a stored sketch into another.
 */
import { DDSketch } from '@datadog/sketches-js';
import compiledProto from '@datadog/sketches-js/dist/ddsketch/proto/compiled.js';

/** DDSketch's relative accuracy: every reported percentile is within 1% of a true sample quantile. */
export const RELATIVE_ACCURACY = 0.01;

/** Encodes a sketch for storage. */
export function encodeSketch(sketch: DDSketch): string {
  let bin = '';
  for (const b of sketch.toProto()) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Decodes a stored sketch. */
export function decodeSketch(text: string): DDSketch {
  return DDSketch.fromProto(bytesOf(text)) as DDSketch;
}

/** The fields of DDSketch's protobuf message that merging needs (the library's own compiled message). */
interface ProtoSketch {
  mapping: { gamma: number; indexOffset: number; interpolation: number };
  positiveValues: { contiguousBinCounts: number[]; contiguousBinIndexOffset: number; binCounts?: Record<string, number> } | null;
  negativeValues: { contiguousBinCounts: number[]; binCounts?: Record<string, number> } | null;
  zeroCount: number;
}
const Proto = (compiledProto as unknown as { DDSketch: { decode(b: Uint8Array): ProtoSketch } }).DDSketch;
let reference: ProtoSketch['mapping'] | null = null;

function bytesOf(text: string): Uint8Array {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/**
 * Merges a stored sketch into `acc`: the same as `acc.merge(decodeSketch(text))`, about 3x faster when
 * the stored mapping is ours (it adds the bins straight into `acc`'s store instead of building a sketch).
 */
export function mergeEncoded(acc: DDSketch, text: string): void {
  const bytes = bytesOf(text);
  const p = Proto.decode(bytes);
  reference ??= Proto.decode(newSketch().toProto()).mapping;
  const same = p.mapping.gamma === reference.gamma && p.mapping.indexOffset === reference.indexOffset && p.mapping.interpolation === reference.interpolation;
  if (!same || (p.negativeValues?.contiguousBinCounts.length ?? 0) > 0) {
    acc.merge(DDSketch.fromProto(bytes) as DDSketch);
    return;
  }
  let n = p.zeroCount ?? 0;
  const store = p.positiveValues;
  if (store) {
    let key = store.contiguousBinIndexOffset ?? 0;
    for (const c of store.contiguousBinCounts) {
      if (c > 0) {
        acc.store.add(key, c);
        n += c;
      }
      key++;
    }
  }
  acc.zeroCount += p.zeroCount ?? 0;
  acc.count += n;
}

const MAX_BIN_KEY = 4096;

/**
 * The count of a stored sketch when it is one a gateway could have written (our mapping, no negative
 * values, finite non-negative bins), else null: a sketch from outside is checked before it is stored,
 * since one that cannot merge would break every later read of its variant.
 */
export function storedSketchCount(text: string): number | null {
  try {
    const p = Proto.decode(bytesOf(text));
    reference ??= Proto.decode(newSketch().toProto()).mapping;
    const m = p.mapping;
    if (!m || m.gamma !== reference.gamma || m.indexOffset !== reference.indexOffset || m.interpolation !== reference.interpolation) return null;
    if ((p.negativeValues?.contiguousBinCounts.length ?? 0) > 0 || Object.keys(p.negativeValues?.binCounts ?? {}).length > 0) return null;
    // the sparse form is never written by toProto() and the fast merge does not read it
    if (Object.keys(p.positiveValues?.binCounts ?? {}).length > 0) return null;
    const bins = p.positiveValues?.contiguousBinCounts ?? [];
    const counts = [p.zeroCount ?? 0, ...bins];
    if (!counts.every((c) => Number.isFinite(c) && c >= 0)) return null;
    // bins far apart make a merged store span the gap: keys stay where real values land (|key| <= 4096
    // at 1% accuracy covers about 1e-35 .. 1e35)
    const first = p.positiveValues?.contiguousBinIndexOffset ?? 0;
    if (!Number.isInteger(first) || first < -MAX_BIN_KEY || first + bins.length - 1 > MAX_BIN_KEY) return null;
    return counts.reduce((a, b) => a + b, 0);
  } catch {
    return null;
  }
}

/** A new, empty sketch at the summaries' accuracy. */
export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
}
