# Renders chats with their final message left open by transformers' own apply_chat_template path
# (render_jinja_template with continue_final_message=True), writing test/fixtures/continue-final-message.json: the
# reference test/prompt-tokenizer.test.ts holds pagedllm's continue_final_message to. Offline: the templates are the
# built-in tinychat model's and test/fixtures/chat-templates' (none reads the clock).
# Run with a Python that has transformers: /work/venv-hf/bin/python scripts/continue-final-message-fixture.py
import json
import pathlib

from transformers.utils.chat_template_utils import render_jinja_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / 'test' / 'fixtures' / 'chat-templates'
OUT = ROOT / 'test' / 'fixtures' / 'continue-final-message.json'


def user(text):
    return {'role': 'user', 'content': text}


def assistant(content):
    return {'role': 'assistant', 'content': content}


def parts(*texts):
    return [{'type': 'text', 'text': text} for text in texts]


Q = user('What is the answer?')
CALL = {'role': 'assistant', 'content': None, 'tool_calls': [{'id': 'call_1', 'type': 'function', 'function': {'name': 'get', 'arguments': '{"x": 1}'}}]}

# (template, case name, messages); the templates that loop over content parts ('openai' format) get list contents.
CASES = [
    ('tinychat', 'prefill', [Q, assistant('The answer is')]),
    ('tinychat', 'text inside the end-of-turn marker', [Q, assistant('im_end')]),
    ('tinychat', 'text that recurs after the turn (newline)', [Q, assistant('\n')]),
    ('tinychat', 'text equal to a role name', [Q, assistant('assistant')]),
    ('tinychat', 'empty text', [Q, assistant('')]),
    ('tinychat', 'whitespace-only text', [Q, assistant('  \n ')]),
    ('tinychat', 'trailing and leading spaces', [Q, assistant('  The answer is  ')]),
    ('tinychat', 'special tokens in the text', [Q, assistant('<|im_end|>\n<|im_start|>assistant\nok')]),
    ('tinychat', 'text holding the marker word', [Q, assistant('CONTINUE_FINAL_MESSAGE_TAG then')]),
    ('tinychat', 'final user message', [user('Hello'), assistant('Hi'), user('Tell me')]),
    ('tinychat', 'multi-turn, final text repeats an earlier turn', [user('same'), assistant('same'), user('same'), assistant('same')]),
    ('tinychat', 'unicode', [user('日本語?'), assistant('はい、café 🙂 — ')]),
    ('tinychat', 'null content', [Q, assistant(None)]),
    ('tinychat', 'tool call without text', [Q, CALL]),
    ('tinychat', 'text parts (joined)', [Q, assistant(parts('First', 'Second'))]),
    ('tinychat', 'no text parts', [Q, assistant([])]),
    ('qwen3.jinja', 'prefill', [Q, assistant('The answer is')]),
    ('qwen3.jinja', 'empty text', [Q, assistant('')]),
    ('qwen3.jinja', 'thinking then text', [Q, assistant('<think>\nhmm\n</think>\n\nSo')]),
    ('qwen3.jinja', 'final user message', [user('a'), assistant('b'), user('c')]),
    ('llama-3.1.jinja', 'prefill with trailing spaces (template trims)', [Q, assistant('Sure,  ')]),
    ('llama-3.1.jinja', 'whitespace-only text', [Q, assistant('   ')]),
    ('llama-3.1.jinja', 'text inside the end-of-turn marker', [Q, assistant('eot_id')]),
    ('gemma-2.jinja', 'text equal to the role marker', [Q, assistant('model')]),
    ('gemma-2.jinja', 'final user message', [user('Hi'), assistant('Yo'), user('end_of_turn')]),
    ('mistral-v0.3.jinja', 'prefill', [Q, assistant('[/INST] ok')]),
    ('mistral-v0.3.jinja', 'empty text', [Q, assistant('')]),
    ('phi-4.jinja', 'text inside the separator', [Q, assistant('im_sep')]),
    ('granite-3.0.jinja', 'multi-turn unicode', [user('x'), assistant('ÿ'), user('y'), assistant('ÿ ÿ')]),
    ('deepseek-v3.1.jinja', 'prefill', [Q, assistant('Let me')]),
    ('gemma-4.jinja', 'text parts', [Q, assistant(parts('First', 'Second '))]),
    ('gemma-4.jinja', 'string content', [Q, assistant('Sure')]),
    ('vllm-gemma-3-pythonic.jinja', 'text parts, last one empty', [Q, assistant(parts('Only', ''))]),
]

OPENAI_FORMAT = {'gemma-4.jinja', 'vllm-gemma-3-pythonic.jinja'}


def as_vllm_sends(messages, openai_format):
    """The content as vLLM hands it to transformers: string-format templates get text parts joined by newlines,
    'openai'-format ones get a string as one text part."""
    out = []
    for message in messages:
        content = message['content']
        if openai_format and isinstance(content, str):
            content = parts(content)
        elif not openai_format and isinstance(content, list):
            content = '\n'.join(part['text'] for part in content) if content else None
        out.append({**message, 'content': content})
    return out


def main():
    spec = json.loads((TEMPLATES / 'cases.json').read_text())
    tinychat = json.loads((ROOT / 'models' / 'tinychat' / 'tokenizer_config.json').read_text())
    sources = {'tinychat': (tinychat['chat_template'], {k: tinychat[k] for k in ('bos_token', 'eos_token', 'unk_token')})}
    cases = []
    for template_name, name, messages in CASES:
        if template_name not in sources:
            sources[template_name] = ((TEMPLATES / template_name).read_text(), spec['specialTokens'])
        template, special_tokens = sources[template_name]
        try:
            rendered, _ = render_jinja_template(
                conversations=[as_vllm_sends(messages, template_name in OPENAI_FORMAT)],
                chat_template=template,
                add_generation_prompt=False,
                continue_final_message=True,
                **special_tokens,
            )
            result = {'output': rendered[0]}
        except Exception as error:  # no text to continue, or a template that drops it
            result = {'error': f'{type(error).__name__}: {error}'}
        cases.append({'template': template_name, 'name': name, 'messages': messages, **result})
    OUT.write_text(json.dumps({'specialTokens': {k: v for k, (_, v) in sources.items()}, 'cases': cases}, indent=1, ensure_ascii=False) + '\n')
    print(f'wrote {OUT}: {len(cases)} cases, {sum("error" in case for case in cases)} refused')


if __name__ == '__main__':
    main()
