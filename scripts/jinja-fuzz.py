"""Random chat-template snippets in the idioms real templates use, rendered by transformers' jinja2 environment
(a development tool, never run by npm test; scripts/jinja-fuzz.ts renders the same cases with pagedllm and compares).

    /work/venv-hf/bin/python scripts/jinja-fuzz.py WORK/cases.json [COUNT] [SEED]
    python3 scripts/jinja-fuzz.py WORK/cases.json [COUNT] [SEED]      (jinja2 only: scripts/jinja2_transformers_env.py)

Each case is {template, variables, output | error}: one user message 'hi', add_generation_prompt true, tools and
documents None, the variables as chat_template_kwargs (what ChatTemplate.render passes as opts.variables).
"""
import copy
import json
import random
import sys

try:
    from transformers.utils.chat_template_utils import render_jinja_template
except ImportError:  # jinja2 alone: transformers' environment rebuilt
    from jinja2_transformers_env import render_jinja_template

TOOL = {'type': 'function', 'function': {'name': 'get_weather', 'description': 'Weather in a city.\nUse it often.', 'parameters': {
    'type': 'object', 'properties': {'city': {'type': 'string', 'description': 'City name'}, 'unit': {'type': 'string', 'enum': ['c', 'f']},
                                     'days': {'type': ['integer', 'null'], 'default': 1}}, 'required': ['city']}}}
VARIABLES = {
    's': 'Hello, World  ', 't': '  mixed\tCase\nline two \r\n', 'e': '', 'q': 'it\'s "quoted" <b>&amp;</b>', 'uni': 'héllo 世界 🙂 é',
    'num': '42', 'n': 3, 'm': -2, 'f': 2.5, 'z': 0, 'big': 12345678901, 'b': True, 'nb': False, 'nn': None,
    'l': [1, 2, 3], 'ls': ['b', 'a', 'c'], 'el': [], 'mixed': [1, 'a', None, True, 2.0], 'nested': [[1, 2], [3]],
    'd': {'name': 'get_weather', 'arguments': {'city': 'Paris', 'n': 2}}, 'ed': {}, 'dn': {'b': 2, 'a': 1, 'c': None},
    'tool': TOOL, 'tools_l': [TOOL, {'type': 'function', 'function': {'name': 'noop', 'parameters': {}}}],
    'msgs': [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'hi'},
             {'role': 'assistant', 'content': None, 'tool_calls': [{'id': 'call_1', 'type': 'function', 'function': {'name': 'get_weather', 'arguments': {'city': 'Paris'}}}]},
             {'role': 'tool', 'content': '22C', 'tool_call_id': 'call_1'}, {'role': 'assistant', 'content': ' <think>x</think> It is 22C. '}],
    'parts': [{'type': 'text', 'text': 'a'}, {'type': 'image'}, {'type': 'text', 'text': 'b'}],
}
STRINGS = ['s', 't', 'e', 'q', 'uni', 'num', "'a,b,,c'", "'</think>'", "'  x  '", "'ABC'", "'snake_case_name'", "'Title Case'", "'12'", "'-3'", "'1.5'", "'a\\nb'", "'tab\\tx'"]
NUMBERS = ['n', 'm', 'f', 'z', 'big', '1', '0', '-1', '2.0', '1e3', '0.1', '7', '-7']
LISTS = ['l', 'ls', 'el', 'mixed', 'nested', 'msgs', 'parts', 'tools_l', '[1, 2]', "['x', 'y']", '(1, 2)', '[]', "[none, 'a']", 'range(3)', 'range(1, 7, 2)']
DICTS = ['d', 'ed', 'dn', 'tool', 'msgs[2]', 'msgs[2].tool_calls[0].function', 'tool.function.parameters', "{'k': 'v', 'n': 1}", '{}', 'd.arguments']
OTHER = ['b', 'nb', 'nn', 'u', 'none', 'true', 'false', 'msgs[0].content', 'msgs[2].content', 'msgs[-1].role', 'd.missing', 'msgs[2].tool_calls']

STR_METHODS = ['strip()', 'lstrip()', 'rstrip()', "strip('H')", "split(',')", 'split()', "split(' ', 1)", "rsplit(',', 1)", 'upper()', 'lower()', 'title()',
               'capitalize()', "replace('l', 'L')", "replace('l', 'L', 1)", "startswith('He')", "startswith(('a', 'H'))", "endswith(' ')", "find('o')", "rfind('o')",
               "count('l')", 'isdigit()', 'isalpha()', 'isspace()', 'splitlines()', "partition(',')", "rpartition(',')", "join(['x', 'y'])", 'swapcase()',
               "center(20, '*')", 'ljust(18)', 'zfill(5)', "removeprefix('He')", "removesuffix('  ')", 'casefold()', 'isupper()', 'istitle()', "index('l')",
               "format(1, 2)", "strip('\\n')", "encode('utf-8')", "split('\\n')", "lstrip('<')"]
DICT_METHODS = ['keys()', 'values()', 'items()', "get('name')", "get('x', 'def')", "get('missing')"]
LIST_METHODS = ['index(2)', 'count(1)', "index('a')"]
FILTERS = ['length', 'count', 'first', 'last', 'list', 'string', 'trim', 'upper', 'lower', 'title', 'capitalize', 'reverse', 'sort', 'unique', 'min', 'max', 'sum',
           'int', 'float', 'abs', 'round', 'tojson', 'tojson(indent=2)', 'tojson(indent=4)', "tojson(separators=(',', ':'))", 'tojson(sort_keys=true)', 'items', 'dictsort',
           'join', "join(', ')", "join('\\n')", "map('upper')", "map(attribute='role')", "map('string')", "map('tojson')", "selectattr('role', 'equalto', 'user')", "rejectattr('content')",
           "selectattr('tool_calls', 'defined')", "select('string')", "reject('none')", "select('number')", "default('D')", "default('D', true)", 'e', 'escape', 'safe',
           'wordcount', "replace('a', 'b')", 'indent(2)', 'indent(4, true)', "indent(2, first=true, blank=true)", 'truncate(8)', 'center(9)', 'striptags', 'urlencode',
           'pprint', 'batch(2)', 'slice(2)', "sort(attribute='role')", "sort(reverse=true)", "groupby('role')", "sum(attribute='n')", "format('x')", 'xmlattr',
           'round(1)', "round(0, 'floor')", 'int(5)', "attr('name')", 'list | length', "map(attribute='function.name')", "selectattr('function.name', 'eq', 'noop')",
           'wordwrap(5)', 'filesizeformat', 'forceescape', 'capitalize | trim', "unique(attribute='role')", "min(attribute='role')", "split(',')", 'items | list',
           "batch(2, 'x')", "join(attribute='role')", "map('length')", "map('int')", 'string | length', "replace(' ', '')"]
TESTS = ['defined', 'undefined', 'none', 'string', 'mapping', 'sequence', 'iterable', 'number', 'integer', 'float', 'boolean', 'true', 'false', 'callable',
         'odd', 'even', 'divisibleby(3)', 'equalto(3)', "eq('a')", 'ne(1)', 'gt(1)', 'lt(2)', 'ge(0)', "in(['a', 1])", 'lower', 'upper', 'sameas(none)', 'escaped']
SUBSCRIPTS = ['0', '-1', '1:', ':-1', '::-1', '::2', '1:3', '-2:', '5', 'n', 'z:n', '"role"', '0:0']
BINOPS = ['+', '-', '*', '/', '//', '%', '~', '==', '!=', '<', '>', '<=', '>=', 'and', 'or', 'in', 'not in', '**']


def atom(r):
    pool = r.choice([STRINGS, NUMBERS, LISTS, DICTS, OTHER])
    return r.choice(pool)


def expr(r, depth):
    if depth <= 0:
        return atom(r)
    k = r.random()
    if k < 0.2:
        return atom(r)
    if k < 0.4:
        return f'{expr(r, depth - 1)} | {r.choice(FILTERS)}'
    if k < 0.55:
        base = r.choice([r.choice(STRINGS), r.choice(DICTS), r.choice(LISTS), expr(r, depth - 1)])
        methods = STR_METHODS if base in STRINGS else DICT_METHODS if base in DICTS else LIST_METHODS if base in LISTS else r.choice([STR_METHODS, DICT_METHODS])
        return f'({base}).{r.choice(methods)}'
    if k < 0.7:
        return f'({expr(r, depth - 1)} {r.choice(BINOPS)} {expr(r, depth - 1)})'
    if k < 0.8:
        return f'({expr(r, depth - 1)} is {r.choice(["", "not "])}{r.choice(TESTS)})'
    if k < 0.87:
        return f'({expr(r, depth - 1)} if {expr(r, depth - 1)} else {expr(r, depth - 1)})'
    if k < 0.93:
        base = r.choice([r.choice(STRINGS), r.choice(LISTS), expr(r, depth - 1)])
        return f'({base})[{r.choice(SUBSCRIPTS)}]'
    if k < 0.96:
        return f'(not {expr(r, depth - 1)})'
    return f'(-{expr(r, depth - 1)})'


def statement(r):
    """A block in the shapes real templates use."""
    x, y = expr(r, 2), expr(r, 2)
    seq = r.choice(LISTS + DICTS + STRINGS[:3] + ['u'])
    shapes = [
        f'{{% for item in {seq} %}}{{{{ loop.index }}}}:{{{{ item }}}}{{% if not loop.last %}}, {{% endif %}}{{% endfor %}}',
        f'{{% for item in {seq} %}}{{{{ loop.index0 }}}}{{{{ loop.revindex }}}}{{{{ loop.length }}}}{{{{ loop.first }}}}{{{{ loop.previtem is defined }}}}{{{{ loop.nextitem | default("-") }}}}{{% else %}}empty{{% endfor %}}',
        f'{{% for item in {seq} if item {r.choice(["is string", "is mapping", "", "is number"])} %}}[{{{{ item }}}}]{{% endfor %}}',
        f'{{% set ns = namespace(found=false, text="") %}}{{% for item in {seq} %}}{{% if item {r.choice(["is string", "is mapping", "== 1", "is defined"])} %}}{{% set ns.found = true %}}{{% set ns.text = ns.text ~ item %}}{{% endif %}}{{% endfor %}}{{{{ ns.found }}}}/{{{{ ns.text }}}}',
        f'{{% if {x} %}}A{{% elif {y} %}}B{{% else %}}C{{% endif %}}',
        f'{{% set v = {x} %}}{{{{ v }}}}|{{{{ v | length if v is sized else "n/a" }}}}',
        f'{{% macro fmt(a, b="dflt", c=none) %}}<{{{{ a }}}}|{{{{ b }}}}|{{{{ c }}}}>{{% endmacro %}}{{{{ fmt({x}) }}}}{{{{ fmt({x}, c={y}) }}}}',
        f'{{% set block %}}  {{{{ {x} }}}}  {{% endset %}}[{{{{ block }}}}][{{{{ block | trim }}}}]',
        f'{{% filter upper %}}{{{{ {x} }}}}{{% endfilter %}}',
        f'{{% for k, v in ({r.choice(DICTS)}).items() %}}{{{{ k }}}}={{{{ v | tojson }}}};{{% endfor %}}',
        f'{{% for item in {seq} %}}{{% if loop.index > 2 %}}{{% break %}}{{% endif %}}{{% if loop.first %}}{{% continue %}}{{% endif %}}{{{{ item }}}}{{% endfor %}}',
        f'{{%- if {x} -%}}\n  yes  \n{{%- else -%}}\n  no\n{{%- endif %}}\nafter\n  {{% if true %}}\nin\n  {{% endif %}}\n',
        f'{{% macro m() %}}[{{{{ caller() }}}}]{{% endmacro %}}{{% call m() %}}{{{{ {x} }}}}{{% endcall %}}',
        f'{{{{ ({x}) ~ "|" ~ ({y}) }}}}',
        f'{{% for a in [1, 2] %}}{{% for b in {seq} %}}{{{{ loop.depth }}}}{{{{ a }}}}{{{{ loop.index }}}}{{% endfor %}}{{% endfor %}}',
        f'{{{{ "{{}} and {{}}".format({x}, {y}) }}}}',
        f"{{{{ '%s / %r' % ({x}, {y}) }}}}",
        f"{{{{ ({x}) | tojson }}}}",
        f"{{{{ ({x}) | string }}}}",
    ]
    return r.choice(shapes)


def render(template):
    try:
        out, _ = render_jinja_template(conversations=[[{'role': 'user', 'content': 'hi'}]], chat_template=template, add_generation_prompt=True, **copy.deepcopy(VARIABLES))
        return {'output': out[0]}
    except Exception as error:  # noqa: BLE001: any refusal is a case, compared by its presence only
        return {'error': f'{type(error).__name__}: {error}'[:300]}


def main():
    path = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    cases = []
    for i in range(count):
        template = statement(r) if i % 3 == 0 else '{{ ' + expr(r, 3) + ' }}'
        cases.append({'template': template, **render(template)})
    with open(path, 'w') as f:
        json.dump({'variables': VARIABLES, 'cases': cases}, f, ensure_ascii=False)
    print(f'{len(cases)} cases, {sum("error" in c for c in cases)} refused by jinja2')


main()
