/**
 * @module Loads a model from a path, whatever its form: a Hugging Face folder, a .tar/.tar.gz of one, or a
 * llama2.c `.bin` with its tokenizer (given, or a `tokenizer.bin` / `tok*.bin` beside it).
 */
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { InvalidModelFile } from '../errors.ts';
import { extractModelArchive } from './archive.ts';
import { checkHfWeights, readHfWeights } from './hf-folder.ts';
import { checkLlama2c, readLlama2c } from './llama2c.ts';
import { HfTokenizer } from './tokenizer/hf-tokenizer.ts';
import { Llama2cTokenizer } from './tokenizer/llama2c-tokenizer.ts';
import type { LoadedModel } from './types.ts';

/** Options of {@link loadModel}. */
export interface LoadOptions {
  /** Tokenizer file for a llama2.c checkpoint (default: `tokenizer.bin` or `tok*.bin` beside it). */
  tokenizer?: string;
  /** Where archives are extracted (default: a fresh folder under the OS temp dir). */
  extractDir?: string;
  /** Largest extracted archive, in bytes. */
  maxArchiveBytes?: number;
  /**
   * Read the matrices of a Hugging Face folder from its safetensors files when they are used, not all at
   * load (see readHfWeights); the folder (or `extractDir`) must stay in place while the model is used.
   */
  weightsOnAccess?: boolean;
}

/**
 * Loads the model at `path`.
 * @example const { model, tokenizer } = await loadModel('fixtures/models/stories260K/stories260K.bin');
 */
export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const info = await stat(path).catch(() => {
    throw new InvalidModelFile(path, 'no such file or folder');
  });
  if (info.isDirectory()) return loadFolder(path, opts);
  if (await isArchive(path)) {
    if (opts.weightsOnAccess && !opts.extractDir) throw new Error('loadModel: weightsOnAccess needs an extractDir that outlives the model (internal error)');
    const dest = opts.extractDir ?? (await mkdtemp(join(tmpdir(), 'flatgate-model-')));
    try {
      const root = await extractModelArchive(path, dest, { maxBytes: opts.maxArchiveBytes });
      return { ...(await loadFolder(root, opts)), source: path };
    } finally {
      // the weights are in memory now: a folder we made for the extraction is not needed any more
      if (!opts.extractDir) await rm(dest, { recursive: true, force: true });
    }
  }
  if (path.endsWith('.bin')) return loadLlama2c(path, opts.tokenizer);
  throw new InvalidModelFile(path, 'not a model: expected a Hugging Face folder, a .tar/.tar.gz of one, or a llama2.c .bin');
}

/** A folder with config.json (HF), or with a single llama2.c .bin and its tokenizer. */
async function loadFolder(dir: string, opts: LoadOptions): Promise<LoadedModel> {
  const files = await readdir(dir);
  if (files.includes('config.json')) {
    const model = await readHfWeights(dir, { onAccess: opts.weightsOnAccess });
    const tokenizer = await HfTokenizer.load(dir);
    return { model, tokenizer, source: dir };
  }
  const bins = files.filter((f) => f.endsWith('.bin') && !isTokenizerName(f));
  if (bins.length === 1) return loadLlama2c(join(dir, bins[0]), opts.tokenizer);
  throw new InvalidModelFile(dir, 'no config.json, and not exactly one llama2.c .bin checkpoint');
}

/**
 * Checks a model folder as {@link loadModel} would load it, without reading any weights: config,
 * safetensors headers and tensor shapes (or the llama2.c header and file size), and the tokenizer.
 * Cheap for any model size: uploads are validated this way.
 * @example await checkModelFolder(extractedRoot);
 */
export async function checkModelFolder(dir: string, opts: Pick<LoadOptions, 'tokenizer'> = {}): Promise<FolderCheck> {
  const files = await readdir(dir);
  if (files.includes('config.json')) {
    const { config } = await checkHfWeights(dir);
    const tokenizer = await HfTokenizer.load(dir);
    return { attention: { headDim: config.headDim, numHeads: config.numHeads, numKvHeads: config.numKvHeads }, tokenizerConfig: tokenizer.tokenizerConfig() };
  }
  const bins = files.filter((f) => f.endsWith('.bin') && !isTokenizerName(f));
  if (bins.length !== 1) throw new InvalidModelFile(dir, 'no config.json, and not exactly one llama2.c .bin checkpoint');
  const file = join(dir, bins[0]);
  const header = await checkLlama2c(file);
  await Llama2cTokenizer.load(opts.tokenizer ?? (await findTokenizerBeside(file)), header.vocabSize);
  return { attention: { headDim: header.dim / header.numHeads, numHeads: header.numHeads, numKvHeads: header.numKvHeads }, tokenizerConfig: null };
}

/** What {@link checkModelFolder} found: the attention shape, and the tokenizer_config.json if any. */
export interface FolderCheck {
  attention: { headDim: number; numHeads: number; numKvHeads: number };
  tokenizerConfig: Record<string, unknown> | null;
}

function isTokenizerName(file: string): boolean {
  return file === 'tokenizer.bin' || /^tok.*\.bin$/.test(file);
}

async function loadLlama2c(file: string, tokenizerFile?: string): Promise<LoadedModel> {
  const model = await readLlama2c(file);
  const tokPath = tokenizerFile ?? (await findTokenizerBeside(file));
  const tokenizer = await Llama2cTokenizer.load(tokPath, model.config.vocabSize);
  return { model, tokenizer, source: file };
}

async function findTokenizerBeside(file: string): Promise<string> {
  const dir = dirname(file);
  const names = (await readdir(dir)).filter(isTokenizerName).sort();
  const pick = names.includes('tokenizer.bin') ? 'tokenizer.bin' : names[0];
  if (!pick) throw new InvalidModelFile(file, `no tokenizer.bin or tok*.bin beside ${basename(file)}; pass --tokenizer`);
  return join(dir, pick);
}

/** A tar (ustar magic at 257) or gzip (1f 8b) file. */
async function isArchive(path: string): Promise<boolean> {
  if (/\.(tar|tar\.gz|tgz)$/.test(path)) return true;
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(262);
    const { bytesRead } = await fh.read(head, 0, 262, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    return bytesRead >= 262 && head.toString('latin1', 257, 262) === 'ustar';
  } finally {
    await fh.close();
  }
}
