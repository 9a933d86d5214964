/**
 * @module A small ONNX graph builder: nodes, typed inputs/outputs with symbolic dims, and float32
 * initializers stored as external data. Pure data in, `ModelProto` bytes out; no session, no I/O.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX element types used by our graphs. */
export const ElemType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
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
  data: Buffer;
  /** File name that `model` expects beside it for `data`. */
  dataFile: string;
}

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
  private readonly initializers: { name: string; dims: number[]; type: ElemTypeValue; bytes: Uint8Array }[] = [];
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

  /** Adds a float32 initializer. */
  weight(name: string, dims: number[], data: Float32Array): string {
    const n = this.fresh(name);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name: n, dims, type: ElemType.FLOAT, bytes });
    return n;
  }

  /** Adds an int64 constant initializer. */
  int64(name: string, values: number[], dims: number[] = [values.length]): string {
    const n = this.fresh(name);
    const arr = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name: n, dims, type: ElemType.INT64, bytes: new Uint8Array(arr.buffer) });
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
    let size = 0;
    for (const t of this.initializers) {
      if (t.bytes.byteLength >= EXTERNAL_MIN_BYTES) size = align(size) + t.bytes.byteLength;
    }
    const data = Buffer.alloc(size);
    let offset = 0;
    const initializer = this.initializers.map((t) => {
      const base = { name: t.name, dims: t.dims, dataType: t.type };
      if (t.bytes.byteLength < EXTERNAL_MIN_BYTES) return onnx.TensorProto.create({ ...base, rawData: t.bytes.slice() });
      offset = align(offset);
      data.set(t.bytes, offset);
      const entry = onnx.TensorProto.create({
        ...base,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: dataFile },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(t.bytes.byteLength) },
        ],
      });
      offset += t.bytes.byteLength;
      return entry;
    });
    const graph = onnx.GraphProto.create({
      name: this.name,
      node: this.nodes,
      input: this.inputs,
      output: this.outputs,
      initializer,
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'flatgate',
      producerVersion: '0.1.0',
      graph,
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    });
    return { model: onnx.ModelProto.encode(model).finish(), data, dataFile };
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
