/**
 * @module `flatgate convert <model> --to hf|onnx|gguf --out PATH`.
 */
import { InvalidRequest } from '../errors.ts';
import { writeGguf } from '../model/gguf.ts';
import { loadModel } from '../model/load.ts';
import { saveHfFolder } from '../model/save-hf.ts';
import { writeOnnxExport } from '../serving/export-onnx.ts';
import { modelArg, parse } from './args.ts';

const USAGE = 'flatgate convert <model> --to hf|onnx|gguf --out PATH [--dtype F32|F16|BF16]';

export async function convertCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    to: { type: 'string' },
    out: { type: 'string' },
    dtype: { type: 'string' },
    tokenizer: { type: 'string' },
  });
  const path = modelArg(positionals, USAGE);
  if (!values.out) throw new InvalidRequest(`--out is required; usage: ${USAGE}`, 'out');
  const dtype = values.dtype;
  if (dtype !== undefined && dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new InvalidRequest('--dtype must be F32, F16 or BF16', 'dtype');
  const to = values.to;
  if (to !== 'hf' && to !== 'onnx' && to !== 'gguf') throw new InvalidRequest(`--to must be hf, onnx or gguf; usage: ${USAGE}`, 'to');
  const loaded = await loadModel(path, { tokenizer: values.tokenizer });
  if (to === 'hf') await saveHfFolder(values.out, loaded, { dtype });
  else if (to === 'onnx') await writeOnnxExport(values.out, loaded);
  else await writeGguf(values.out, loaded.model, loaded.tokenizer);
  console.log(`wrote ${values.out}`);
}
