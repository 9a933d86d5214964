import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelFile, UnsupportedModel } from '../errors.ts';
import { bf16ToF32Array, f16ToF32, f16ToF32Array, f32ToBf16Array, f32ToF16Array } from './half-float.ts';
import { decodeSafetensors, encodeSafetensors, readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatgate-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A safetensors file built by hand: length prefix, header text, data bytes. */
function rawFile(header: string | Uint8Array | object, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const text =
    header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

const f32Bytes = (values: number[]) => {
  const b = new Uint8Array(values.length * 4);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  return b;
};

const bits16 = (values: number[]) => {
  const b = new Uint8Array(values.length * 2);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setUint16(i * 2, v, true));
  return b;
};

describe('float16 / bfloat16 conversion', () => {
  const toF16 = (x: number) => f32ToF16Array(new Float32Array([x]))[0];
  const toBf16 = (x: number) => f32ToBf16Array(new Float32Array([x]))[0];

  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0, 0x0000],
    [-0, 0x8000],
    [65504, 0x7bff], // largest half
    [65519, 0x7bff], // below the halfway point to 65536
    [65520, 0x7c00], // halfway: ties to even, which is Inf
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: even is 0
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps: even is 2
    [2 ** -26, 0x0000],
    [1023 * 2 ** -24 + 2 ** -25, 0x0400], // subnormal rounding carries into the smallest normal
    [1 + 2 ** -11, 0x3c00], // tie: stays on the even mantissa 0
    [1 + 3 * 2 ** -11, 0x3c02], // tie: rounds up to the even mantissa 2
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
    [1 / 3, 0x3555],
    [0.1, 0x2e66],
  ])('f32 %d -> f16 0x%s', (x, bits) => {
    expect(toF16(x)).toBe(bits);
  });

  it('keeps NaN a NaN in f16 and bf16', () => {
    expect(Number.isNaN(f16ToF32(toF16(NaN)))).toBe(true);
    expect(Number.isNaN(bf16ToF32Array(new Uint16Array([toBf16(NaN)]))[0])).toBe(true);
  });

  it('decodes f16 bits with the closed form for every normal, subnormal and special value', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(f16ToF32(0x3555)).toBe(0.333251953125);
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToF16Array(f16ToF32Array(all));
    for (let h = 0; h < 65536; h++) {
      const e = (h >> 10) & 0x1f;
      if (e === 31 && h & 0x3ff) continue;
      if (back[h] !== h) throw new Error(`f16 0x${h.toString(16)} did not round trip`);
    }
  });

  it.each([
    [1, 0x3f80],
    [-1.5, 0xbfc0],
    [Math.PI, 0x4049],
    [1 / 3, 0x3eab],
    [1 + 2 ** -8, 0x3f80], // tie: even mantissa
    [1 + 3 * 2 ** -8, 0x3f82], // tie: even mantissa above
    [3.4028234663852886e38, 0x7f80], // f32 max rounds to Inf in bf16
    [Infinity, 0x7f80],
  ])('f32 %d -> bf16 0x%s', (x, bits) => {
    expect(toBf16(x)).toBe(bits);
  });

  it('decodes bf16 as the high half of a float32', () => {
    expect([...bf16ToF32Array(new Uint16Array([0x3f80, 0xc049, 0x0001]))]).toEqual([1, -3.140625, 2 ** -133]);
  });
});

describe('readSafetensors / writeSafetensors', () => {
  it('reads a hand-built file in every loadable dtype', async () => {
    const data = new Uint8Array([...f32Bytes([1.5, -2, 0.25]), ...bits16([0x3c00, 0xc000]), ...bits16([0x3f80, 0x4049])]);
    const header = {
      __metadata__: { format: 'pt' },
      b: { dtype: 'F16', shape: [2], data_offsets: [12, 16] },
      a: { dtype: 'F32', shape: [3, 1], data_offsets: [0, 12] },
      c: { dtype: 'BF16', shape: [1, 2], data_offsets: [16, 20] },
    };
    const file = join(dir, 'hand.safetensors');
    await writeFile(file, rawFile(header, data));
    const t = await readSafetensors(file);
    expect([...t.keys()]).toEqual(['b', 'a', 'c']);
    expect(t.get('a')).toEqual({ dtype: 'F32', shape: [3, 1], data: new Float32Array([1.5, -2, 0.25]) });
    expect(t.get('b')).toEqual({ dtype: 'F16', shape: [2], data: new Float32Array([1, -2]) });
    expect(t.get('c')).toEqual({ dtype: 'BF16', shape: [1, 2], data: new Float32Array([1, 3.140625]) });
    expect((await readSafetensorsHeader(file)).metadata).toEqual({ format: 'pt' });
    expect([...(await readSafetensors(file, { only: (n) => n === 'c' })).keys()]).toEqual(['c']);
    expect(decodeSafetensors(await readFile(file), file).get('b')?.data).toEqual(new Float32Array([1, -2]));
  });

  it('writes the standard layout and round trips', async () => {
    const a = new Float32Array(37).map((_, i) => Math.sin(i) * 3);
    const tensors = [
      { name: 'x.weight', dtype: 'F32' as const, shape: [37], data: a },
      { name: 'y', dtype: 'F16' as const, shape: [1, 37], data: a },
      { name: 'z', dtype: 'BF16' as const, shape: [37, 1], data: a },
      { name: 'empty', dtype: 'F32' as const, shape: [0, 4], data: new Float32Array(0) },
    ];
    const file = join(dir, 'rt.safetensors');
    await writeSafetensors(file, tensors, { format: 'pt' });
    const bytes = await readFile(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header['x.weight'].data_offsets).toEqual([0, 148]);
    expect(header.y.data_offsets).toEqual([148, 222]);
    expect(header.z.data_offsets).toEqual([222, 296]);
    expect(bytes.length).toBe(8 + n + 296);
    expect(bytes.subarray(8 + n, 8 + n + 148)).toEqual(Buffer.from(a.buffer));

    const t = await readSafetensors(file);
    expect(t.get('x.weight')?.data).toEqual(a);
    expect(t.get('y')?.data).toEqual(f16ToF32Array(f32ToF16Array(a)));
    expect(t.get('z')?.data).toEqual(bf16ToF32Array(f32ToBf16Array(a)));
    for (let i = 0; i < a.length; i++) {
      expect(Math.abs(t.get('y')!.data[i] - a[i])).toBeLessThanOrEqual(Math.abs(a[i]) * 2 ** -11 + 2 ** -25);
      expect(Math.abs(t.get('z')!.data[i] - a[i])).toBeLessThanOrEqual(Math.abs(a[i]) * 2 ** -8);
    }
    expect(t.get('empty')).toEqual({ dtype: 'F32', shape: [0, 4], data: new Float32Array(0) });
    expect(decodeSafetensors(encodeSafetensors(tensors, { format: 'pt' })).get('z')?.data).toEqual(t.get('z')?.data);
  });

  it('reports a loadable-format but unsupported dtype as UnsupportedModel', async () => {
    const file = join(dir, 'i64.safetensors');
    await writeFile(file, rawFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)));
    await expect(readSafetensors(file)).rejects.toThrow(UnsupportedModel);
    expect((await readSafetensors(file, { only: () => false })).size).toBe(0);
  });

  it('rejects writing a tensor whose shape does not match its data', async () => {
    const bad = [{ name: 'w', dtype: 'F32' as const, shape: [2, 2], data: new Float32Array(3) }];
    await expect(writeSafetensors(join(dir, 'bad.safetensors'), bad)).rejects.toThrow(InvalidModelFile);
  });
});

describe('hostile files', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty file', new Uint8Array(0), /too short/],
    ['shorter than the length prefix', new Uint8Array(5), /too short/],
    ['header length huge', rawFile(ok, new Uint8Array(8), 2n ** 60n), /exceeds/],
    ['header length all ones', rawFile(ok, new Uint8Array(8), 2n ** 64n - 1n), /exceeds/],
    ['header longer than the file', rawFile(ok, new Uint8Array(0), 10_000n), /truncated/],
    ['truncated data', rawFile(ok, new Uint8Array(4)), /outside the data section/],
    ['header not JSON', rawFile('{"w": {"dtype": "F32",', new Uint8Array(8)), /not valid JSON/],
    ['header not UTF-8', rawFile(new Uint8Array([0x7b, 0xff, 0x7d]), new Uint8Array(0)), /UTF-8/],
    ['header a JSON array', rawFile('[1,2]', new Uint8Array(8)), /not a JSON object/],
    ['entry not an object', rawFile({ w: 3 }, new Uint8Array(8)), /not an object/],
    ['missing dtype', rawFile({ w: { shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /no dtype/],
    ['unknown dtype', rawFile({ w: { dtype: 'F17', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /unknown dtype 'F17'/],
    ['negative dim', rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, new Uint8Array(8)), /shape/],
    ['fractional dim', rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }, new Uint8Array(8)), /shape/],
    ['huge shape', rawFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, new Uint8Array(8)), /larger than the file/],
    ['missing offsets', rawFile({ w: { dtype: 'F32', shape: [2] } }, new Uint8Array(8)), /data_offsets/],
    ['offsets reversed', rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, new Uint8Array(8)), /outside/],
    ['offsets out of range', rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, new Uint8Array(8)), /outside/],
    ['shape/byte mismatch', rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(12)), /needs 12 bytes/],
    [
      'overlapping tensors',
      rawFile(
        { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
        new Uint8Array(12),
      ),
      /overlap/,
    ],
    ['metadata not strings', rawFile({ __metadata__: { n: 1 }, ...ok }, new Uint8Array(8)), /__metadata__/],
  ];

  it.each(cases)('%s -> InvalidModelFile naming the file', async (name, bytes, problem) => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.safetensors`);
    await writeFile(file, bytes);
    const err = await readSafetensors(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidModelFile);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(problem);
    expect(() => decodeSafetensors(bytes, file)).toThrow(InvalidModelFile);
  });
});
