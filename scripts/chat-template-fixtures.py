# Renders every test/fixtures/chat-templates/*.jinja over cases.json with transformers' own chat-template renderer
# (jinja2), writing expected.json: the reference test/chat-template-parity.test.ts holds pagedllm's renderer to.
# Run with a Python that has transformers: /work/venv-hf/bin/python scripts/chat-template-fixtures.py
import datetime
import json
import pathlib

from transformers.utils.chat_template_utils import render_jinja_template

HERE = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'chat-templates'
# The date formats real templates pass to strftime_now; today's date in each becomes a mark the test fills in again.
TODAY_FORMATS = ['%d %b %Y', '%Y-%m-%d', '%B %d, %Y', '%d %B %Y']


def render(template, case, spec):
    tools = spec['tools'] if case.get('withTools') else None
    documents = spec['documents'] if case.get('withDocuments') else None
    kwargs = {**spec['specialTokens'], **case.get('kwargs', {})}
    try:
        rendered, _ = render_jinja_template(
            conversations=[case['messages']],
            tools=tools,
            documents=documents,
            chat_template=template,
            add_generation_prompt=case.get('addGenerationPrompt', True),
            **kwargs,
        )
        # strftime_now reads the clock: the test puts its own today back in.
        output = rendered[0]
        for date_format in TODAY_FORMATS:
            output = output.replace(datetime.datetime.now().strftime(date_format), f'<<strftime_now {date_format}>>')
        return {'output': output}
    except Exception as error:  # raise_exception, or a template that cannot render these messages
        return {'error': f'{type(error).__name__}: {error}'}


def main():
    spec = json.loads((HERE / 'cases.json').read_text())
    expected = {}
    for path in sorted(HERE.glob('*.jinja')):
        template = path.read_text()
        expected[path.name] = {case['name']: render(template, case, spec) for case in spec['cases']}
    (HERE / 'expected.json').write_text(json.dumps(expected, indent=1, ensure_ascii=False) + '\n')
    print(f'wrote {HERE / "expected.json"}: {len(expected)} templates x {len(spec["cases"])} cases')


if __name__ == '__main__':
    main()
