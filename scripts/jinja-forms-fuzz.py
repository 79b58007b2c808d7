"""Random small templates combining the jinja2 forms pagedllm reads by rewriting them (groupby, chained comparisons,
{% raw %}, the + and - whitespace signs, number literals with exponents / underscores / bases, tojson's indent,
separators, sort_keys and ensure_ascii), rendered by jinja2 in transformers' template environment (a development
tool, never run by npm test; scripts/jinja-fuzz.ts renders the same cases with pagedllm and compares).

    python3 scripts/jinja-forms-fuzz.py WORK/cases.json [COUNT] [SEED]
    npx tsx scripts/jinja-fuzz.ts WORK/cases.json

Needs only jinja2 (3.1): the environment is transformers', rebuilt by scripts/jinja2_transformers_env.py.
"""
import random

from jinja2_transformers_env import write_fuzz_cases

# No integer-valued floats: JSON hands them to JavaScript as ints.
VARIABLES = {
    'n': 3, 'm': -2, 'f': 2.5, 's': 'Hello', 'u8': 'héllo 世界', 'b': True, 'nn': None, 'l': [1, 2, 3], 'ls': ['b', 'A', 'a'],
    'rows': [{'role': 'user', 'k': 'B', 'n': 2, 'p': {'q': 1}}, {'role': 'assistant', 'k': 'a', 'n': 1, 'p': {'q': 2}},
             {'role': 'user', 'k': 'b', 'p': {'q': 1}}, {'role': 'tool', 'k': 'A', 'n': 2, 'p': {'q': 0}}],
    'pairs': [[2, 'x'], [1, 'y'], [2, 'z']],
    'd': {'b': 1, 'a': [1, 2.5, None, True], 'é': {'x': 'q"\\\n\t'}, 'c': {}},
}
NUMBERS = ['1e3', '1E-2', '2.5e+1', '1_000', '0x1F', '0b101', '0o17', '1_0.5', '3', '0.5', '1e-7', '12e20', '7', '0', '1e16', '2.5E2',
           '1_0', '0X_ff', '00', 'n', 'm', 'f']  # 1e400: refused on purpose
OPERANDS = NUMBERS + ["'a'", "'b'", 's', 'l', '[1, 2]', '(1, 2)', "'ell'", 'u8', 'none', 'true', 'nn', 'l[0]', 'n + 1', "s|length", '(n - 1)', 'n is odd', '2 is in l', "s is not in ['x']"]
COMPARISONS = ['<', '>', '<=', '>=', '==', '!=', 'in', 'not in']
GROUP_ATTRS = ["'role'", "'k'", "'n'", "'p.q'", "attribute='k'", "'missing'"]


def chain(r):
    parts = [r.choice(OPERANDS)]
    for _ in range(r.randint(1, 4)):
        parts += [r.choice(COMPARISONS), r.choice(OPERANDS)]
    text = ' '.join(parts)
    if r.random() < 0.2 and len(parts) >= 5:  # a parenthesized first link: not a chain
        text = '(' + ' '.join(parts[:3]) + ') ' + ' '.join(parts[3:])
    shape = r.randrange(6)
    if shape == 0:
        return '{{ ' + text + ' }}'
    if shape == 1:
        return '{% if ' + text + ' %}yes{% else %}no{% endif %}'
    if shape == 2:
        return '{% for x in l if x ' + r.choice(COMPARISONS) + ' ' + text + ' %}{{ x }}{% endfor %}'
    if shape == 3:
        return '{% set v = ' + text + ' %}{{ v }}'
    if shape == 4:
        return '{{ [' + text + ', ' + chain_expr(r) + '] }}'
    return "{{ 'a' if " + text + " else 'b' }}|{{ not " + text + ' }}'


def chain_expr(r):
    return ' '.join([r.choice(OPERANDS), r.choice(COMPARISONS), r.choice(OPERANDS), r.choice(COMPARISONS), r.choice(OPERANDS)])


def groupby(r):
    source, attrs = r.choice([('rows', GROUP_ATTRS), ('pairs', ['0', "'0'", '1']), ('ls', ['none']), ('l', ['none']), ('u', ["'a'"])])
    args = [r.choice(attrs)]
    positional = not args[0].startswith('attribute=')
    if r.random() < 0.4:
        args.append(r.choice(['default=0', "default='zz'", 'default=none'] + (['0'] if positional else [])))
    if r.random() < 0.4:
        args.append(r.choice(['case_sensitive=true', 'case_sensitive=false']))
    g = f'{source}|groupby({", ".join(args)})'
    return r.choice([
        '{{ ' + g + ' }}',
        '{% for grp in ' + g + ' %}{{ grp.grouper }}={{ grp.list|length }}{{ grp[0] }};{% endfor %}',
        '{% for key, items in ' + g + ' %}{{ key }}:{{ items|tojson }}|{% endfor %}',
        "{{ " + g + "|map(attribute='grouper')|list }}",
        '{{ ' + g + '|tojson }}',
        '{{ (' + g + ')|length }}|{{ (' + g + ')[0] is sequence }}',
    ])


def tojson_case(r):
    value = r.choice(['d', 'rows', 'l', 'pairs', "{'z': 1, 'a': [], 'é': 'ü'}", '[]', '{}', 'f', 's', 'u8', 'nn', '[1e3, 0.1, 1e16, 1e-7]',
                      'd.a', "{'k': (1, 2)}", 'rows|groupby("role")'])
    options = []
    if r.random() < 0.7:
        options.append('indent=' + r.choice(['0', '1', '2', '4', "'\\t'", "'  '", "''", 'none', 'true', 'false', "'->'"]))
    if r.random() < 0.3:
        options.append('sort_keys=' + r.choice(['true', 'false']))
    if r.random() < 0.3:
        options.append('separators=' + r.choice(["(',', ':')", "(', ', ': ')", "[';', '=']"]))
    if r.random() < 0.3:
        options.append('ensure_ascii=' + r.choice(['true', 'false']))
    r.shuffle(options)
    return '{{ ' + value + '|tojson' + (f'({", ".join(options)})' if options else '') + ' }}'


def numbers_case(r):
    picks = [r.choice(NUMBERS) for _ in range(r.randint(1, 4))]
    ops = ['+', '-', '*', '/', '//', '%', '~']
    expr = picks[0]
    for p in picks[1:]:
        expr += f' {r.choice(ops)} {p}'
    return r.choice(['{{ ' + expr + ' }}', '{{ [' + ', '.join(picks) + '] }}', '{{ -' + picks[0] + ' }}', '{% set x = ' + expr + ' %}{{ x }}',
                     '{{ (' + picks[0] + ')|round(1) }}', '{{ l[' + r.choice(['0', '0_0', '1', '-1']) + '] }}'])


RAW_TEXTS = ['X', '{{ x }}', "{% if %}'\"", '  pad  ', '\n  two\n', '{# c #}', '\\n', 'a\n  ', '', '  \n']


def whitespace_case(r):
    """Lines of text and tags, each tag with a random whitespace sign, some indented, some raw blocks."""
    lines = []
    open_ifs = 0
    for _ in range(r.randint(2, 6)):
        indent = r.choice(['', '  ', '\t', ' '])
        kind = r.randrange(7)
        lead, trail = r.choice(['', '-', '+']), r.choice(['', '-', '+'])
        if kind == 0:
            piece = r.choice(['text', 'x y', ''])
        elif kind == 1:
            piece = f'{{%{lead} set a = 1 {trail}%}}'
        elif kind == 2:
            piece = f'{{#{lead} note {trail}#}}'
        elif kind == 3:
            piece = f'{{{{{lead if lead != "+" or r.random() < 0.5 else ""} n {"-" if trail == "-" else ""}}}}}'
        elif kind == 4:
            close = r.choice(['', '-'])
            inner = r.choice(RAW_TEXTS)
            piece = f'{{%{lead} raw {close}%}}{inner}{{%{r.choice(["", "-", "+"])} endraw {trail}%}}'
        elif kind == 5:
            piece = f'{{%{lead} if b {trail}%}}'
            open_ifs += 1
        else:
            if open_ifs == 0:
                piece = 'plain'
            else:
                piece = f'{{%{lead} endif {trail}%}}'
                open_ifs -= 1
        lines.append(indent + piece + r.choice(['', ' ', 'tail']))
    lines += ['{% endif %}'] * open_ifs
    return '\n'.join(lines) + r.choice(['', '\n', '\n\n'])


def mixed_case(r):
    """The forms together, in the shapes a chat template would use them."""
    indent = r.choice(['0', '2', "'\\t'", '0x2', '1_0', 'none'])
    lead, trail = r.choice(['', '-', '+']), r.choice(['', '-', '+'])
    low, high = r.choice(['0', '1', '0.5e1', '1e0']), r.choice(['2', '3', '1_0', '2.0e0'])
    body = r.choice([
        f'{{% for grp in rows|groupby({r.choice(GROUP_ATTRS[:4])}) if {low} < grp.list|length <= {high} %}}\n  {{{{ grp.grouper }}}}: {{{{ grp.list|tojson(indent={indent}) }}}}\n{{% endfor %}}',
        f'{{% if {low} <= n < {high} * 2 %}}\n  {{%{lead} raw {r.choice(["", "-"])}%}}{r.choice(RAW_TEXTS)}{{%{r.choice(["", "-", "+"])} endraw {trail}%}}\n{{% endif %}}',
        f'{{%{lead} for k, items in rows|groupby("role", case_sensitive={r.choice(["true", "false"])}) {trail}%}}\n  {{{{ k ~ "=" ~ items|map(attribute="n", default=1e1)|sum }}}}\n{{% endfor %}}',
        f'{{{{ {{"n": {r.choice(NUMBERS)}, "ok": {low} < f < {high}, "g": ls|groupby(none)|map(attribute="grouper")|list}}|tojson(indent={indent}, sort_keys={r.choice(["true", "false"])}) }}}}',
        f'{{% set total = ({r.choice(NUMBERS)} + {r.choice(NUMBERS)}) ~ "" %}}\n  {{%{lead} if total|length > {low} > -1 {trail}%}}\n  {{{{ total }}}}\n  {{% endif %}}',
    ])
    return body + r.choice(['', '\n', '\nafter'])


GENERATORS = [chain, groupby, tojson_case, numbers_case, whitespace_case, mixed_case]


write_fuzz_cases(GENERATORS, VARIABLES)
