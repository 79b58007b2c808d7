"""transformers' chat template environment rebuilt on jinja2 alone (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, its tojson, raise_exception, strftime_now), for the fuzz scripts where transformers is not
installed. transformers' AssistantTracker ({% generation %}) is left out: the fuzz templates do not use it.
"""
import json
from datetime import datetime

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' own tojson (chat_template_utils._compile_jinja_template).
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise ValueError(message)


ENV = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
ENV.filters['tojson'] = tojson
ENV.globals['raise_exception'] = raise_exception
ENV.globals['strftime_now'] = lambda format: datetime.now().strftime(format)


def render_jinja_template(conversations, chat_template, add_generation_prompt=False, tools=None, documents=None, **kwargs):
    """transformers' render_jinja_template for plain conversations: (rendered texts, None)."""
    template = ENV.from_string(chat_template)
    rendered = [template.render(messages=c, tools=tools, documents=documents, add_generation_prompt=add_generation_prompt, **kwargs) for c in conversations]
    return rendered, None


def write_fuzz_cases(generators, variables):
    """The forms fuzz scripts' main: argv PATH [COUNT] [SEED]; COUNT templates, one generator after another, each
    rendered here (output, or the error jinja2 raised) and written with the variables as JSON for scripts/jinja-fuzz.ts."""
    import random
    import sys

    def render(template):
        try:
            out = ENV.from_string(template).render(messages=[{'role': 'user', 'content': 'hi'}], tools=None, documents=None, add_generation_prompt=True, **variables)
            return {'output': out}
        except Exception as error:  # noqa: BLE001: any refusal is a case, compared by its presence only
            return {'error': f'{type(error).__name__}: {error}'[:300]}

    path = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    cases = []
    for i in range(count):
        template = generators[i % len(generators)](r)
        cases.append({'template': template, **render(template)})
    with open(path, 'w') as f:
        json.dump({'variables': variables, 'cases': cases}, f, ensure_ascii=False)
    print(f'{len(cases)} cases, {sum("error" in c for c in cases)} refused by jinja2')
