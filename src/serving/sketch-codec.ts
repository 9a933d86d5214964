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
  positiveValues: { contiguousBinCounts: number[]; contiguousBinIndexOffset: number } | null;
  negativeValues: { contiguousBinCounts: number[] } | null;
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

/** A new, empty sketch at the summaries' accuracy. */
export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
}
