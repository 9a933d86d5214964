/**
 * Issue 11, item 7: /metrics as a drop-in for vLLM dashboards, checked with a Prometheus text parser:
 * vLLM's families (running/waiting gauges, token histograms, request_success_total by finished_reason,
 * e2e and time-per-output-token histograms), `model_name` beside `variant`, and errors by status.
 */
import OpenAI from 'openai';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsStore } from '../../src/serving/metrics.ts';
import { startGateway, VARIANT, type TestGateway } from './gateway-server.ts';

let gw: TestGateway;
let client: OpenAI;
beforeAll(async () => {
  gw = await startGateway();
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => gw.close());

let lastText = '';

async function scrape(): Promise<Map<string, ParsedFamily>> {
  const r = await fetch(`${gw.url}/metrics`);
  expect(r.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  lastText = await r.text();
  return new Map(parsePrometheusTextFormat(lastText).map((f) => [f.name, f]));
}

const sample = (f: ParsedFamily | undefined, labels: Record<string, string>) =>
  f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

/**
 * One labelled series of a histogram family. The parser (like prom2json) flattens a histogram's
 * samples into one and keeps only `le`, so the series' lines are parsed alone, its other labels removed.
 */
function histogram(name: string, labels: Record<string, string>) {
  const sel = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const lines = lastText.split('\n').filter((l) => l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `) || (l.startsWith(`${name}_`) && sel.every((s) => l.includes(s))));
  const text = lines.map((l) => l.replace(/\{([^}]*)\}/, (_, inner: string) => {
    const le = inner.match(/le="[^"]*"/);
    return le ? `{${le[0]}}` : '';
  })).join('\n');
  const [family] = parsePrometheusTextFormat(text + '\n');
  expect(family.type).toBe('HISTOGRAM');
  return family.metrics[0];
}

describe('/metrics', () => {
  it("has vLLM's families with model_name and variant, and moves with traffic", async () => {
    const before = await scrape();
    for (const [name, type] of [
      ['num_requests_running', 'GAUGE'],
      ['num_requests_waiting', 'GAUGE'],
      ['request_prompt_tokens', 'HISTOGRAM'],
      ['request_generation_tokens', 'HISTOGRAM'],
      ['e2e_request_latency_seconds', 'HISTOGRAM'],
      ['request_time_per_output_token_seconds', 'HISTOGRAM'],
      ['time_to_first_token_seconds', 'HISTOGRAM'],
      ['inter_token_latency_seconds', 'HISTOGRAM'],
      ['request_queue_time_seconds', 'HISTOGRAM'],
      ['prompt_tokens_total', 'COUNTER'],
      ['generation_tokens_total', 'COUNTER'],
      ['request_success_total', 'COUNTER'],
    ]) {
      expect(before.get(`flatgate:${name}`)?.type, name).toBe(type);
    }
    // the gauges list every served variant, idle
    expect(sample(before.get('flatgate:num_requests_running'), { model_name: 'stories260K', variant: VARIANT })?.value).toBe('0');
    expect(sample(before.get('flatgate:num_requests_waiting'), { model_name: 'stories260K', variant: 'stories260K' })?.value).toBe('0');

    await client.completions.create({ model: VARIANT, prompt: 'Once upon a time', max_tokens: 7, temperature: 0, ignore_eos: true } as never);
    await client.completions.create({ model: VARIANT, prompt: '', max_tokens: 400, temperature: 0 });
    const after = await scrape();
    const labels = { model_name: 'stories260K', variant: VARIANT };
    const success = after.get('flatgate:request_success_total')!;
    expect(sample(success, { ...labels, finished_reason: 'length' })?.value).toBe('1');
    expect(sample(success, { ...labels, finished_reason: 'stop' })?.value).toBe('1');
    const prompt = histogram('flatgate:request_prompt_tokens', labels);
    const ids = gw.original.tokenizer.encode('Once upon a time', { bos: true }).length;
    expect(prompt.count).toBe('2');
    expect(Number(prompt.sum)).toBe(ids + 1);
    const generation = histogram('flatgate:request_generation_tokens', labels);
    expect(generation.buckets!['10']).toBe('1'); // the 7-token request
    const tpot = histogram('flatgate:request_time_per_output_token_seconds', labels);
    expect(tpot.count).toBe('2');
    const e2e = histogram('flatgate:e2e_request_latency_seconds', labels);
    expect(e2e.buckets!['+Inf']).toBe('2');
    expect(Number(e2e.sum)).toBeGreaterThan(0);
  });

  it('counts errors by status', async () => {
    const bad = await fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"stories260K","prompt":[[99999]]}' });
    expect(bad.status).toBe(400);
    await client.completions.create({ model: 'nope', prompt: 'a' }).catch(() => {});
    const families = await scrape();
    const errors = families.get('flatgate:request_errors_total')!;
    expect(errors.type).toBe('COUNTER');
    expect(Number(sample(errors, { status: '400' })?.value)).toBeGreaterThanOrEqual(1);
    expect(Number(sample(errors, { status: '404' })?.value)).toBeGreaterThanOrEqual(1);
  });

  it('renders only the models a filter accepts (one predicate), gauges included', () => {
    const store = new MetricsStore();
    const base = { at: 0, queue: 0, ttft: 0.1, itl: [0.01], e2e: 0.2, promptTokens: 3, completionTokens: 2, finishReason: 'length' };
    store.record({ ...base, model: 'a', variant: 'a' });
    store.record({ ...base, model: 'b', variant: 'b:x' });
    const loads = [{ model: 'a', variant: 'a', running: 1, waiting: 2 }, { model: 'b', variant: 'b:x', running: 0, waiting: 0 }];
    const families = parsePrometheusTextFormat(store.prometheus({ loads, include: (m) => m === 'a' }));
    const models = new Set(families.flatMap((f) => f.metrics.map((m) => m.labels?.model_name)).filter(Boolean));
    expect([...models]).toEqual(['a']);
    expect(families.find((f) => f.name === 'flatgate:num_requests_waiting')!.metrics[0].value).toBe('2');
  });
});
