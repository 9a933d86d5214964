/**
 * The streaming multipart parser against bodies built by the platform's own FormData encoder, cut into
 * chunks at every possible position: the file's bytes come out exactly, whatever the chunking.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { multipartBoundary, multipartFile } from './multipart-file.ts';

async function encode(form: FormData): Promise<{ body: Uint8Array; boundary: string }> {
  const res = new Response(form);
  const boundary = multipartBoundary(res.headers.get('content-type') ?? undefined)!;
  return { body: new Uint8Array(await res.arrayBuffer()), boundary };
}

async function* chunked(body: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('multipartFile', () => {
  it('extracts the file field exactly for every chunk size', async () => {
    const file = Buffer.concat([randomBytes(3000), Buffer.from('\r\n--not-the-boundary\r\n'), randomBytes(500)]);
    const form = new FormData();
    form.append('name', 'x');
    form.append('file', new Blob([file]), 'm.tar.gz');
    form.append('after', 'y');
    const { body, boundary } = await encode(form);
    for (const size of [1, 2, 3, 7, 64, 1000, body.length]) {
      expect((await collect(multipartFile(chunked(body, size), boundary, 'file'))).equals(file), `chunk ${size}`).toBe(true);
    }
  });

  it('rejects a body without the field, a truncated body and a content type without boundary', async () => {
    const form = new FormData();
    form.append('other', 'x');
    const { body, boundary } = await encode(form);
    await expect(collect(multipartFile(chunked(body, 5), boundary, 'file'))).rejects.toThrow(/no 'file' field/);
    const f2 = new FormData();
    f2.append('file', new Blob([randomBytes(100)]), 'a');
    const e2 = await encode(f2);
    await expect(collect(multipartFile(chunked(e2.body.subarray(0, e2.body.length - 60), 7), e2.boundary, 'file'))).rejects.toThrow(/ended before/);
    expect(() => multipartBoundary('multipart/form-data')).toThrow(/boundary/);
    expect(multipartBoundary('application/gzip')).toBeNull();
  });
});
