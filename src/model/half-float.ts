/**
 * @module IEEE binary16 and bfloat16 conversion to and from float32, rounding to nearest even: what
 * checkpoint readers and writers (safetensors, GGUF) need. Weights are float32 in memory.
 */

/** float32 value of IEEE binary16 bits `h`. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * 2 ** (e - 15) * (1 + m / 1024);
}

let f16Table: Float32Array | null = null;

/** float32 values of binary16 bits. */
export function f16ToF32Array(halves: Uint16Array): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = f16Table[halves[i]];
  return out;
}

/** float32 values of bfloat16 bits (the high half of a float32). */
export function bf16ToF32Array(halves: Uint16Array): Float32Array {
  const bits = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
  return new Float32Array(bits.buffer);
}

/** binary16 bits of the float32 with bits `x`, rounded to nearest even; overflow gives ±Inf. */
function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal half: value = m * 2^-24, so m = (1.mant as a 24-bit integer) >> (14 - e)
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    const m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && m & 1) ? m + 1 : m);
  }
  const m = mant >>> 13;
  const rem = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to Inf)
  return sign | ((e << 10) + (rem > 0x1000 || (rem === 0x1000 && m & 1) ? m + 1 : m));
}

/** binary16 bits of float32 values, rounded to nearest even. */
export function f32ToF16Array(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16(bits[i]);
  return out;
}

/** bfloat16 bits of float32 values, rounded to nearest even; NaN stays a (quiet) NaN. */
export function f32ToBf16Array(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = bits[i];
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}
