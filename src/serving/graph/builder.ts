/**
 * @module A small ONNX graph builder: nodes, typed inputs/outputs with symbolic dims, and float32
 * initializers stored as external data. Pure data in, `ModelProto` bytes out; no session, no I/O.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX element types used by our graphs. */
export const ElemType = { FLOAT: 1, INT32: 6, INT64: 7, DOUBLE: 11 } as const;
export type ElemTypeValue = (typeof ElemType)[keyof typeof ElemType];

/** A dimension: a fixed size or a symbolic name such as `batch_size`. */
export type Dim = number | string;

/** Attribute values a node may carry. */
export type AttrValue = number | string | number[] | { float: number };

/** Initializers at least this large go to the external data file. */
const EXTERNAL_MIN_BYTES = 1024;
/** Offsets in the external file are aligned so that onnxruntime can map them. */
const EXTERNAL_ALIGN = 64;

/** The serialized model: `model` (protobuf bytes) and `data` (the external weights file). */
export interface SerializedModel {
  model: Uint8Array;
  /** The external weights file, concatenated on first access (prefer `chunks` for large models). */
  readonly data: Buffer;
  /** File name that `model` expects beside it for `data`. */
  dataFile: string;
  /** Size of `data` in bytes. */
  dataBytes: number;
  /**
   * The pieces of `data` at their offsets (gaps are zero padding): write them one at a time, without
   * concatenating; `read` computes a lazily given weight (e.g. a transpose) each time it is called.
   */
  chunks: { offset: number; byteLength: number; read(): Uint8Array }[];
  /**
   * The same graph with each external weight in its own in-memory "file", for an engine session: no
   * copy of the weights is made to serialize them (lazy weights are computed on access).
   */
  readonly session: { model: Uint8Array; externalData: { path: string; data: Uint8Array }[] };
}

/** Weight values, or a function computing them when the graph is written (so they need not all be held at once). */
export type WeightData = Float32Array | (() => Float32Array);

/**
 * Builds one ONNX graph.
 * @example
 * const g = new GraphBuilder('tiny');
 * const x = g.input('x', ElemType.FLOAT, ['batch_size', 4]);
 * g.output(g.node('Relu', [x]), ElemType.FLOAT, ['batch_size', 4]);
 * const { model, data } = g.serialize('tiny.onnx.data');
 */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly initializers: { name: string; dims: number[]; type: ElemTypeValue; byteLength: number; read: () => Uint8Array }[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name with the given prefix. */
  fresh(prefix: string): string {
    let name = prefix;
    while (this.used.has(name)) name = `${prefix}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, type: ElemTypeValue, dims: Dim[]): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares `value` as a graph output (renaming through Identity when `as` differs). */
  output(value: string, type: ElemTypeValue, dims: Dim[], as: string = value): string {
    if (as !== value) this.node('Identity', [value], { outputs: [as] });
    this.outputs.push(valueInfo(as, type, dims));
    return as;
  }

  /** Adds a float32 initializer; `data` may be a function that computes it when the graph is written. */
  weight(name: string, dims: number[], data: WeightData): string {
    const n = this.fresh(name);
    const byteLength = 4 * dims.reduce((a, b) => a * b, 1);
    const bytesOf = (d: Float32Array) => {
      if (d.byteLength !== byteLength) throw new RangeError(`weight ${n} has ${d.length} values, expected ${dims.join('x')}`);
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    };
    const read = typeof data === 'function' ? () => bytesOf(data()) : ((bytes) => () => bytes)(bytesOf(data));
    this.initializers.push({ name: n, dims, type: ElemType.FLOAT, byteLength, read });
    return n;
  }

  /** Adds an int64 constant initializer. */
  int64(name: string, values: number[], dims: number[] = [values.length]): string {
    const n = this.fresh(name);
    const bytes = new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
    this.initializers.push({ name: n, dims, type: ElemType.INT64, byteLength: bytes.byteLength, read: () => bytes });
    return n;
  }

  /**
   * Adds a node and returns its first output's name. `outputs` may name outputs (or give a count via
   * `nOutputs`); an empty string input means "optional input left out".
   */
  node(
    op: string,
    inputs: string[],
    opts: { attrs?: Record<string, AttrValue>; outputs?: string[]; nOutputs?: number; domain?: string; name?: string } = {},
  ): string {
    const outs = opts.outputs ?? Array.from({ length: opts.nOutputs ?? 1 }, () => this.fresh(`${op.toLowerCase()}_out`));
    for (const o of outs) if (o) this.used.add(o);
    this.nodes.push(
      onnx.NodeProto.create({
        opType: op,
        domain: opts.domain ?? '',
        name: opts.name ?? this.fresh(`${op}_node`),
        input: inputs,
        output: outs,
        attribute: Object.entries(opts.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outs[0];
  }

  /** Like `node`, returning every output name. */
  nodeMulti(op: string, inputs: string[], nOutputs: number, opts: { attrs?: Record<string, AttrValue>; domain?: string } = {}): string[] {
    const outs = Array.from({ length: nOutputs }, () => this.fresh(`${op.toLowerCase()}_out`));
    this.node(op, inputs, { ...opts, outputs: outs });
    return outs;
  }

  /** Serializes the graph; large initializers go to `dataFile`, aligned. */
  serialize(dataFile: string, opsets: Record<string, number> = { '': 17, 'com.microsoft': 1 }): SerializedModel {
    const chunks: SerializedModel['chunks'] = [];
    const inMemoryFiles: { path: string; read: () => Uint8Array }[] = [];
    let offset = 0;
    const external = (t: (typeof this.initializers)[number], location: string, at: number) =>
      onnx.TensorProto.create({
        name: t.name,
        dims: t.dims,
        dataType: t.type,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(at) },
          { key: 'length', value: String(t.byteLength) },
        ],
      });
    const inFile: InstanceType<typeof onnx.TensorProto>[] = [];
    const inMemory: InstanceType<typeof onnx.TensorProto>[] = [];
    for (const t of this.initializers) {
      if (t.byteLength < EXTERNAL_MIN_BYTES) {
        const inline = onnx.TensorProto.create({ name: t.name, dims: t.dims, dataType: t.type, rawData: t.read().slice() });
        inFile.push(inline);
        inMemory.push(inline);
        continue;
      }
      offset = align(offset);
      chunks.push({ offset, byteLength: t.byteLength, read: t.read });
      inFile.push(external(t, dataFile, offset));
      const path = `${dataFile}.${inMemoryFiles.length}`;
      inMemoryFiles.push({ path, read: t.read });
      inMemory.push(external(t, path, 0));
      offset += t.byteLength;
    }
    const encode = (initializer: InstanceType<typeof onnx.TensorProto>[]) =>
      onnx.ModelProto.encode(
        onnx.ModelProto.create({
          irVersion: 8,
          producerName: 'flatgate',
          producerVersion: '0.1.0',
          graph: onnx.GraphProto.create({ name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer }),
          opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
        }),
      ).finish();
    const dataBytes = offset;
    let data: Buffer | null = null;
    return {
      model: encode(inFile),
      get data() {
        if (!data) {
          data = Buffer.alloc(dataBytes);
          for (const c of chunks) data.set(c.read(), c.offset);
        }
        return data;
      },
      dataFile,
      dataBytes,
      chunks,
      get session() {
        return { model: encode(inMemory), externalData: inMemoryFiles.map((f) => ({ path: f.path, data: f.read() })) };
      },
    };
  }
}

function align(n: number): number {
  return Math.ceil(n / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
}

function valueInfo(name: string, elemType: ElemTypeValue, dims: Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v });
    return onnx.AttributeProto.create({ name, type: T.INT, i: v });
  }
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: v });
  return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.float });
}
