import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelFile, InvalidRequest } from '../errors.ts';
import { extractModelArchive } from './archive.ts';

type Entry = tar.Headers & { data?: string | Buffer };

/** A tar archive built in memory with tar-stream's packer. */
async function packTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c);
  })();
  for (const { data, ...header } of entries) {
    await new Promise<void>((ok, fail) => {
      pack.entry(header, data ?? '', (err) => (err ? fail(err) : ok()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const modelFolder = (top: string): Entry[] => [
  { name: `${top}/`, type: 'directory' },
  { name: `${top}/config.json`, data: '{"architectures":["LlamaForCausalLM"]}' },
  { name: `${top}/model.safetensors`, data: Buffer.alloc(3000, 7) },
  { name: `${top}/tokenizer.json`, data: '{}' },
];

let root: string;
let n = 0;
const dest = () => join(root, `out${n++}`);
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flatgate-archive-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('extractModelArchive: good archives', () => {
  it('extracts a .tar from a path and returns its single top-level model folder', async () => {
    const file = join(root, 'good.tar');
    await writeFile(file, await packTar(modelFolder('TinyModel')));
    const out = dest();
    const dir = await extractModelArchive(file, out);
    expect(dir).toBe(join(out, 'TinyModel'));
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(await readFile(join(dir, 'model.safetensors'))).toEqual(Buffer.alloc(3000, 7));
  });

  it('detects gzip by its magic bytes, from a stream, whatever the name', async () => {
    const gz = gzipSync(await packTar([{ name: './config.json', data: '{}' }, { name: 'sub/notes.txt', data: 'x' }]));
    const out = dest();
    expect(await extractModelArchive(Readable.from([gz.subarray(0, 1), gz.subarray(1)]), out)).toBe(out);
    expect(await readFile(join(out, 'sub/notes.txt'), 'utf8')).toBe('x');
  });

  it('finds a llama2.c checkpoint folder when there is no config.json', async () => {
    const tarball = await packTar([{ name: 'stories/stories260K.bin', data: 'w' }, { name: 'stories/tok512.bin', data: 't' }]);
    const out = dest();
    expect(await extractModelArchive(Readable.from([tarball]), out)).toBe(join(out, 'stories'));
  });

  it('prefers the shallowest config.json and ignores macOS junk', async () => {
    const tarball = await packTar([
      ...modelFolder('m'),
      { name: 'm/onnx/config.json', data: '{}' },
      { name: '__MACOSX/other/config.json', data: '' },
    ]);
    const out = dest();
    expect(await extractModelArchive(Readable.from([tarball]), out)).toBe(join(out, 'm'));
  });
});

describe('extractModelArchive: hostile or broken archives', () => {
  const big = Buffer.alloc(20 * 2 ** 20);
  const cases: [string, () => Promise<Buffer>, RegExp, { maxBytes?: number; maxEntries?: number }?][] = [
    ['absolute path', () => packTar([{ name: '/etc/passwd', data: 'x' }]), /absolute path/],
    ['.. segment', () => packTar([{ name: '../evil.txt', data: 'x' }]), /'\.\.'/],
    ['nested .. segment', () => packTar([...modelFolder('m'), { name: 'm/a/../../../evil', data: 'x' }]), /'\.\.'/],
    ['backslash .. segment', () => packTar([{ name: 'm\\..\\..\\evil', data: 'x' }]), /'\.\.'/],
    ['symlink', () => packTar([...modelFolder('m'), { name: 'm/link', type: 'symlink', linkname: '/etc/passwd' }]), /symlink/],
    ['hard link', () => packTar([...modelFolder('m'), { name: 'm/hard', type: 'link', linkname: 'm/config.json' }]), /link/],
    ['character device', () => packTar([{ name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 }]), /character-device/],
    ['fifo', () => packTar([{ name: 'pipe', type: 'fifo' }]), /fifo/],
    ['duplicate file', () => packTar([...modelFolder('m'), { name: 'm/config.json', data: '{}' }]), /clashes/],
    ['too many entries', () => packTar(modelFolder('m')), /more than 3 entries/, { maxEntries: 3 }],
    ['one file over maxBytes', () => packTar(modelFolder('m')), /exceed 2000 bytes/, { maxBytes: 2000 }],
    ['gzip bomb over maxBytes', async () => gzipSync(await packTar([{ name: 'm/config.json', data: '{}' }, { name: 'm/w', data: big }])), /exceed/, { maxBytes: 2 ** 20 }],
    ['huge pax header', () => packTar([{ name: `m/${'a'.repeat(17 * 2 ** 20)}`, data: 'x' }]), /metadata/],
    ['not a tar at all', async () => Buffer.from('hello, this is not a tar archive'.repeat(40)), /not a valid tar/],
    ['gzip of something that is not a tar', async () => gzipSync(Buffer.alloc(4096, 'z')), /not a valid tar/],
    ['corrupt gzip', async () => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(600, 0x07)]), /gzip/],
    ['truncated tar', async () => (await packTar(modelFolder('m'))).subarray(0, 2000), /not a valid tar/],
    ['empty input', async () => Buffer.alloc(0), /empty/],
    ['no model inside', () => packTar([{ name: 'readme.md', data: 'hi' }]), /no config\.json/],
    ['two models side by side', () => packTar([...modelFolder('a'), ...modelFolder('b')]), /several folders/],
    ['over-long file name', () => packTar([...modelFolder('m'), { name: `m/${'a'.repeat(300)}`, data: 'x' }]), /over 255 bytes/],
    ['over-long folder name', () => packTar([...modelFolder('m'), { name: `m/${'b'.repeat(4000)}/f`, data: 'x' }]), /over 255 bytes/],
    ['very deep path', () => packTar([...modelFolder('m'), { name: `m/${'d/'.repeat(2100)}f`, data: 'x' }]), /deeper than 32/],
    ['long path of short names', () => packTar([...modelFolder('m'), { name: `m/${'abcdefghijklmnopqrstuvwxyz0123456789abc/'.repeat(30)}f`, data: 'x' }]), /over 1024 bytes/],
    ['a file, then a file under it', () => packTar([...modelFolder('m'), { name: 'm/x', data: '1' }, { name: 'm/x/y', data: '2' }]), /clashes/],
    ['a file, then a folder under it', () => packTar([...modelFolder('m'), { name: 'm/x', data: '1' }, { name: 'm/x/y', type: 'directory' }]), /clashes/],
    ['a folder, then a file of its name', () => packTar([...modelFolder('m'), { name: 'm/x/y', data: '1' }, { name: 'm/x', data: '2' }]), /clashes/],
    ['gzip bomb under maxBytes, over the ratio', async () => gzipSync(await packTar([...modelFolder('m'), { name: 'm/w', data: Buffer.alloc(80 * 2 ** 20) }])), /more than 20 times/],
  ];

  it.each(cases)('%s -> InvalidModelFile, nothing left behind', async (_name, make, problem, opts) => {
    const file = join(root, `bad${n++}.tar`);
    await writeFile(file, await make());
    const out = dest();
    const err = await extractModelArchive(file, out, opts).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidModelFile);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(problem);
    expect(await readdir(out)).toEqual([]);
  });

  it('reports a missing input file and refuses a non-empty destination', async () => {
    await expect(extractModelArchive(join(root, 'nope.tar'), dest())).rejects.toThrow(InvalidModelFile);
    const out = dest();
    await extractModelArchive(Readable.from([await packTar(modelFolder('m'))]), out);
    await expect(extractModelArchive(Readable.from([await packTar(modelFolder('m'))]), out)).rejects.toThrow(InvalidRequest);
  });
});
