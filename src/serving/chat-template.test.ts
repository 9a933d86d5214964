import { afterAll, describe, expect, it } from 'vitest';
import { InvalidModelFile } from '../errors.ts';
import { ChatTemplateError, checkChatTemplate, renderChat } from './chat-template.ts';
import { TemplateRenderer } from './template-worker.ts';

const LOOP = '{% for a in range(100000) %}{% for b in range(100000) %}{{ "" }}{% endfor %}{% endfor %}';
const GROW = '{% set s = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" %}{% for a in range(200000) %}{{ s }}{% endfor %}';

describe('renderChat', () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Tell a story.' },
  ];
  it('uses the plain default without a template', async () => {
    expect(await renderChat(messages, null)).toBe('system: Be brief.\nuser: Tell a story.\nassistant:');
  });
  it("renders the tokenizer's Jinja template and drops a leading BOS", async () => {
    const config = {
      bos_token: '<s>',
      chat_template: "{{ bos_token }}{% for m in messages %}[{{ m.role | upper }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[ASSISTANT]{% endif %}",
    };
    expect(await renderChat(messages, config)).toBe('[SYSTEM] Be brief.\n[USER] Tell a story.\n[ASSISTANT]');
  });
  it('turns a template error into an invalid request', async () => {
    await expect(renderChat(messages, { chat_template: "{{ raise_exception('no system role') }}" })).rejects.toThrow(/chat template/);
  });

  it('bounds a looping template in time, off the event loop, and keeps rendering afterwards', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    const err = await renderChat(messages, { chat_template: LOOP }, true, { timeMs: 300, maxChars: 1 << 20, heapMb: 64 }).catch((e: unknown) => e);
    clearInterval(timer);
    expect(err).toBeInstanceOf(ChatTemplateError);
    expect((err as ChatTemplateError).code).toBe('invalid_chat_template');
    expect((err as Error).message).toMatch(/longer than 300 ms/);
    expect(performance.now() - started).toBeLessThan(5000);
    // the event loop kept running while the template spun (a blocked loop would tick once, at the end)
    expect(ticks).toBeGreaterThan(5);
    expect(await renderChat(messages, { chat_template: '{{ messages[1].content }}' })).toBe('Tell a story.');
  });

  it('bounds the output size and the memory of a growing template', async () => {
    const big = await renderChat(messages, { chat_template: GROW }, true, { timeMs: 5000, maxChars: 100_000, heapMb: 64 }).catch((e: unknown) => e);
    expect((big as Error).message).toMatch(/longer than 100000 characters/);
    const hog = '{% set ns = namespace(s="x") %}{% for a in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}';
    const mem = await renderChat(messages, { chat_template: hog }, true, { timeMs: 20_000, maxChars: 1 << 20, heapMb: 32 }).catch((e: unknown) => e);
    expect(mem).toBeInstanceOf(ChatTemplateError);
    expect(await renderChat(messages, { chat_template: 'ok' })).toBe('ok');
  });
});

describe('checkChatTemplate (at upload)', () => {
  it('accepts no template and a good one; refuses a broken, a raising and a looping one as invalid_model_file', async () => {
    await checkChatTemplate({});
    await checkChatTemplate({ chat_template: '{% for m in messages %}{{ m.content }}{% endfor %}' });
    for (const bad of ['{% for m in messages %}', "{{ raise_exception('nope') }}", LOOP, 42]) {
      const err = await checkChatTemplate({ chat_template: bad }).catch((e: unknown) => e);
      expect(err, String(bad)).toBeInstanceOf(InvalidModelFile);
      expect((err as InvalidModelFile).code).toBe('invalid_model_file');
    }
  }, 20_000);
});

describe('TemplateRenderer', () => {
  const r = new TemplateRenderer();
  afterAll(() => r.close());
  it('renders queued templates in order, and a timed-out one does not fail the next', async () => {
    const out = await Promise.allSettled([r.render('{{ a }}', { a: 1 }), r.render(LOOP, {}, { timeMs: 200, maxChars: 100, heapMb: 64 }), r.render('{{ b }}', { b: 2 })]);
    expect(out[0]).toEqual({ status: 'fulfilled', value: '1' });
    expect(out[1].status).toBe('rejected');
    expect(out[2]).toEqual({ status: 'fulfilled', value: '2' });
  });
});
