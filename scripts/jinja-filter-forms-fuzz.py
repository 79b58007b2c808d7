"""Random small templates on jinja2's filters and tests (their keyword arguments included), tuples (one-item, empty,
trailing commas, bare, unpacking), \\r\\n and \\r line breaks and ints past 2**53, rendered by jinja2 in transformers'
template environment (a development tool, never run by npm test; scripts/jinja-fuzz.ts renders the same cases with
pagedllm and compares). The sibling of scripts/jinja-forms-fuzz.py.

    python3 scripts/jinja-filter-forms-fuzz.py WORK/cases.json [COUNT] [SEED]
    npx tsx scripts/jinja-fuzz.ts WORK/cases.json

Needs only jinja2 (3.1): the environment is transformers', rebuilt by scripts/jinja2_transformers_env.py.
"""
import random

from jinja2_transformers_env import write_fuzz_cases

# No integer-valued floats and no ints past 2**53: JSON hands them to JavaScript as (rounded) ints.
VARIABLES = {
    'n': 3, 'm': -2, 'f': 2.5, 's': 'Hello World', 'h': 'well--known fact -- a-b-c x-y', 'nl': 'one\ntwo\r\nthree\rfour\n\nfive\n',
    'u8': 'héllo 世界 café—ok', 'sp': '  lead  and trail  ', 'tags': 'a <b>c</b> & "q" \'r\'', 'b': True, 'nn': None,
    'l': [3, 1, 2, 1], 'ls': ['b', 'A', 'a', 'B'], 'mixed': [1, 1.5, True, 'x'], 'pairs': [['a', 1], ['b c', 'd/e']],
    'd': {'b': 1, 'A': 2.5, 'a': 'x y', 'é': None}, 'rows': [{'k': 'B', 'n': 2}, {'k': 'a', 'n': 1}, {'k': 'b'}, {'k': 'A', 'n': 5}],
}
STRINGS = ['s', 'h', 'nl', 'u8', 'sp', 'tags', "''", "'abcdefghijklmnop qr'", "'a-very-long-hyphenated-word'", "'x\\ty  z'", 'u']
SEQUENCES = ['l', 'ls', 'mixed', 'pairs', 'rows', '[]', "'abcde'", '(1, 2, 3)', '(1,)', '()', 'range(7)', 'u']
NUMBERS = ['n', 'm', 'f', '0', '1', '999', '1000', '1024', '1250', '123456789', '-5', '0.25', "'2048'", 'true', 'nn', "'x'", '1e30']
BIG = ['2**64', '9007199254740993', '-2**63', '10**20', '99999999999999999999', '(2**53 + 1)', '3', '-7', '2.5', '1e16', 'n', '0', 'true', '2**70 - 1']
FILTERS = [
    ('slice', SEQUENCES, lambda r: [r.choice(['1', '2', '3', '5', '-1', '0']), *r.choice([[], ['0'], ["fill_with='x'"], ['none']])], True),
    ('batch', SEQUENCES, lambda r: [r.choice(['1', '2', '3']), *r.choice([[], ['0'], ['none'], ["fill_with='-'"]])], True),
    ('filesizeformat', NUMBERS, lambda r: r.choice([[], ['true'], ['binary=true'], ['false']]), False),
    ('urlencode', STRINGS + ['d', 'pairs', 'n', 'f', 'nn', "{'k': 'v w', 'x/y': 1}", "['ab']"], lambda r: [], False),
    ('wordwrap', STRINGS, lambda r: [r.choice(['1', '3', '5', '7', '12', 'width=4', '0'])] + r.sample(['false', 'wrapstring="|"', 'break_on_hyphens=false', 'break_long_words=false'], r.randint(0, 2)), False),
    ('xmlattr', ['d', "{'a': 1, 'b': 'x\"y', 'c': none}", "{}", "{'a b': 1}", 'l', "{'k': [1, '<']}"], lambda r: r.choice([[], ['false'], ['autospace=true']]), False),
    ('forceescape', STRINGS + ['n', 'l', 'nn'], lambda r: [], False),
    ('indent', STRINGS + ['n'], lambda r: r.sample(["'--'", '2', 'width=1', 'first=true', 'blank=true', 'true', '2.5', '-1'], r.randint(0, 2)), False),
    ('unique', SEQUENCES + ['[1, 1.0, true]', "[[1]]"], lambda r: r.choice([[], ['true'], ['case_sensitive=true'], ["attribute='k'"]]), True),
    ('min', SEQUENCES, lambda r: r.choice([[], ['true'], ['case_sensitive=true'], ["attribute='n'"], ["attribute='k'"]]), False),
    ('max', SEQUENCES, lambda r: r.choice([[], ['true'], ["attribute='n'"], ["attribute='k', case_sensitive=true"]]), False),
    ('sum', SEQUENCES, lambda r: r.choice([[], ["attribute='n'"], ['start=10'], ['start=0.5']]), False),
    ('map', SEQUENCES, lambda r: r.choice([["attribute='n'"], ["attribute='n', default=0"], ["'upper'"], ["'string'"], ["'abs'"]]), True),
    ('dictsort', ['d', "{'b': 1, 'A': 2, 'a': 3}", 'l'], lambda r: r.sample(['true', "by='value'", 'reverse=true', 'case_sensitive=true'], r.randint(0, 2)), False),
    ('truncate', STRINGS, lambda r: r.sample(['5', '9', 'killwords=true', "end='~'", 'leeway=0', 'leeway=2'], r.randint(0, 3)), False),
    ('center', STRINGS, lambda r: r.choice([[], ['9'], ['width=4']]), False),
    ('abs', NUMBERS, lambda r: [], False),
    ('round', NUMBERS, lambda r: r.sample(['1', '-1', "'ceil'", "method='floor'", 'precision=2'], r.randint(0, 2)), False),
    ('int', NUMBERS + STRINGS, lambda r: r.sample(['7', 'base=16', "default='d'"], r.randint(0, 1)), False),
    ('float', NUMBERS + STRINGS, lambda r: r.choice([[], ['1.5']]), False),
    ('attr', STRINGS + ['d', 'rows'], lambda r: [r.choice(["'upper'", "'a'", "'items'", "'k'", "'nope'"])], False),
]


def filter_case(r):
    name, operands, make_args, listed = r.choice(FILTERS)
    args = make_args(r)
    # One value per keyword: a repeated one is a SyntaxError, or not, as jinja2's constant folding decides.
    args = [a for i, a in enumerate(args) if '=' not in a or a.split('=')[0] not in [b.split('=')[0] for b in args[:i]]]
    # Positional arguments go before keywords, as Python requires.
    args.sort(key=lambda a: '=' in a and not a.startswith(("'", '"')))
    call = f'{r.choice(operands)}|{name}' + (f'({", ".join(args)})' if args else '')
    if name == 'attr':
        return '{{ ' + call + ' is ' + r.choice(['defined', 'callable']) + ' }}'
    shown = call + ('|list' if listed else '')
    return r.choice(['{{ ' + shown + ' }}', '{{ (' + shown + ')|tojson }}', '{% for x in ' + shown + '|list %}[{{ x }}]{% endfor %}', '{{ ' + shown + '|string|length }}'])


TUPLE_ITEMS = ['1', "'a'", 'n', 's', '(1, 2)', '()', '(1,)', 'none', '[1]', 'n > 1', "'x' ~ s", 'l|length', '2**64']


def tuple_expr(r):
    items = [r.choice(TUPLE_ITEMS) for _ in range(r.randint(0, 3))]
    if not items:
        return '()'
    return '(' + ', '.join(items) + (',' if len(items) == 1 or r.random() < 0.4 else '') + ')'


def tuple_case(r):
    a, b = tuple_expr(r), tuple_expr(r)
    bare = ', '.join(r.choice(TUPLE_ITEMS) for _ in range(r.randint(1, 3))) + r.choice(['', ','])
    return r.choice([
        '{{ ' + a + ' }}', '{{ ' + a + ' + ' + b + ' }}', '{{ ' + a + ' * ' + r.choice(['0', '2', 'true']) + ' }}', '{{ ' + a + ' == ' + b + ' }}',
        '{{ ' + a + '|length }}|{{ ' + a + '|list }}|{{ ' + a + '|tojson }}', '{{ ' + bare + ' }}', '{% set t = ' + bare + ' %}{{ t }}',
        '{% for x in ' + bare + ' %}<{{ x }}>{% endfor %}', '{% if ' + bare + ' %}y{% endif %}', '{{ ' + a + ' in [' + b + '] }}',
        '{% set p, q = ' + r.choice(["'xy'", '(1, 2)', '[3, 4]', "{'k': 1, 'v': 2}", '1, 2', '(1,)', "'abc'", 'n']) + ' %}{{ p }}/{{ q }}',
        '{% for p, (q, w) in ' + r.choice(["[(1, 'ab'), (2, 'cd')]", "[(1, (2, 3))]", "[(1, 2)]", "[('x', 'yz')]"]) + ' %}{{ p }}{{ q }}{{ w }};{% endfor %}',
        '{% for k, v in ' + r.choice(["['ab', 'cd']", "{'ab': 1}", 'pairs', 'd|dictsort', 'd.items()', "['abc']"]) + ' %}{{ k }}={{ v }};{% endfor %}',
    ])


def line_break_case(r):
    """Lines of text and tags joined by \\n, \\r\\n or \\r, some indented, some in strings and raw blocks."""
    pieces = ['text', '{% if b %}', '{% endif %}', '  {% set a = 1 %}', '{{ n }}', '{# c #}', "{{ 'q\r\nw' }}", '{% raw %}r\r\nx{% endraw %}', '  ', '{%- if true -%}', '{% endif -%}', '{{ s }}  ']
    lines, open_ifs = [], 0
    for _ in range(r.randint(2, 7)):
        piece = r.choice(pieces)
        if 'endif' in piece:
            if open_ifs == 0:
                continue
            open_ifs -= 1
        elif ' if ' in piece or piece.startswith('{%- if'):
            open_ifs += 1
        lines.append(piece)
    lines += ['{% endif %}'] * open_ifs
    out = ''
    for line in lines:
        out += line + r.choice(['\n', '\r\n', '\r'])
    return out + r.choice(['', '\r\n', '\r', '\n\r\n'])


def big_int_case(r):
    expr = r.choice(BIG)
    for _ in range(r.randint(1, 3)):
        op = r.choice(['+', '-', '*', '//', '%', '/', '**'])
        right = r.choice(['0', '1', '2', '3', '7', '64']) if op == '**' else r.choice(BIG)
        expr = f'({expr} {op} {right})'
    return r.choice([
        '{{ ' + expr + ' }}', '{{ [' + expr + ', -' + expr + ']|tojson }}', "{{ '%d|%x|%s' % (" + expr + ', ' + expr + ', ' + expr + ') }}',
        '{{ ' + expr + ' ' + r.choice(['==', '<', '>=', '!=']) + ' ' + r.choice(BIG) + ' }}', '{{ (' + expr + ')|' + r.choice(['int', 'float', 'abs', 'round(-2)', 'string', 'filesizeformat']) + ' }}',
        '{{ ' + expr + ' is ' + r.choice(['odd', 'even', 'divisibleby 3', 'integer', 'number']) + ' }}', "{{ '" + r.choice(['123456789012345678901234567890', '-0x1_0000_0000_0000_0000', '9' * 30]) + "'|int(0, " + r.choice(['0', '10', '16']) + ') }}',
        '{{ range(' + expr + ', ' + expr + ' + 3)|list }}', '{{ [' + expr + ', ' + r.choice(BIG) + ']|' + r.choice(['max', 'min', 'sum', 'unique|list', 'sort']) + ' }}',
    ])


GENERATORS = [filter_case, filter_case, tuple_case, line_break_case, big_int_case]


write_fuzz_cases(GENERATORS, VARIABLES)
