import { describe, expect, it } from 'vitest';
import { renderChat } from './chat-template.ts';

describe('renderChat', () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Tell a story.' },
  ];
  it('uses the plain default without a template', () => {
    expect(renderChat(messages, null)).toBe('system: Be brief.\nuser: Tell a story.\nassistant:');
  });
  it("renders the tokenizer's Jinja template and drops a leading BOS", () => {
    const config = {
      bos_token: '<s>',
      chat_template: "{{ bos_token }}{% for m in messages %}[{{ m.role | upper }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[ASSISTANT]{% endif %}",
    };
    expect(renderChat(messages, config)).toBe('[SYSTEM] Be brief.\n[USER] Tell a story.\n[ASSISTANT]');
  });
  it('turns a template error into an invalid request', () => {
    expect(() => renderChat(messages, { chat_template: "{{ raise_exception('no system role') }}" })).toThrow(/chat template/);
  });
});
