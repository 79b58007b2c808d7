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
