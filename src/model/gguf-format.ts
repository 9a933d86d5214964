/**
 * @module The GGUF v3 format: value and tensor type tables, the header shapes, and the size rules that
 * the writer (`gguf.ts`) and the validating reader (`gguf-reader.ts`) share.
 */

/** GGUF metadata value types (gguf.h `gguf_type`). */
export const GgufType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6,
  BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;

/** ggml tensor types this module writes and sizes (ggml.h `ggml_type`), with bytes per block of elements. */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;
export const BLOCK: Record<number, { elems: number; bytes: number }> = {
  0: { elems: 1, bytes: 4 }, 1: { elems: 1, bytes: 2 }, 2: { elems: 32, bytes: 18 }, 8: { elems: 32, bytes: 34 }, 30: { elems: 1, bytes: 2 },
};

/** A metadata value: scalars as numbers (64-bit integers as bigint), arrays with their item type. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];
/** One metadata entry. `itemType` is set for arrays. */
export interface GgufEntry {
  type: number;
  itemType?: number;
  value: GgufValue;
}

/** A tensor's description in the header. `dims` in GGUF order: `dims[0]` is the contiguous axis (columns). */
export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: number;
  /** Offset from the start of the data section (a multiple of the alignment). */
  offset: number;
  byteLength: number;
}

/** A parsed GGUF header. */
export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufEntry>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
}

/** Options of {@link writeGguf}. */
export interface WriteGgufOptions {
  /** general.name (default `flatgate`). */
  name?: string;
  /** Type of 2-D weights (norms and biases stay F32). Default F32. */
  dtype?: 'F32' | 'F16';
}

/** Data alignment we write. */
export const ALIGNMENT = 32;
/** Largest key or tensor count accepted when reading. */
export const MAX_COUNT = 1 << 24;
/** Largest header read (a 150k-token vocabulary with merges takes ~10 MB). */
export const MAX_HEADER_BYTES = 64 << 20;

/** Byte size of a tensor of `type` with `dims`, or throws when the type is unknown or blocks do not fit. */
export function tensorBytes(dims: number[], type: number): number {
  const b = BLOCK[type];
  if (!b) throw new RangeError(`ggml type ${type} is not supported`);
  const n = dims.reduce((a, d) => a * d, 1);
  if (dims[0] % b.elems !== 0) throw new RangeError(`row of ${dims[0]} is not a multiple of the block size ${b.elems}`);
  return (n / b.elems) * b.bytes;
}

/** `n` rounded up to a multiple of `a`. */
export const pad = (n: number, a: number) => Math.ceil(n / a) * a;
