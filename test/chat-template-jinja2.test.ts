// jinja2 behaviour real chat templates lean on, beyond the fixtures: each template here was rendered by transformers'
// jinja2 environment (scripts/chat-template-fixtures.py's settings) and its output is written next to it.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ChatTemplate} from '../src/engine/model/chat-template.js'
import {InvalidRequestError} from '../src/engine/errors.js'

const render = (source: string, variables: Record<string, unknown> = {}) => new ChatTemplate(source).render([{role: 'user', content: 'hi'}], {}, {variables})

/** [what, template, variables, jinja2's output]. */
const JINJA2_RENDERS: Array<[string, string, Record<string, unknown>, string]> = [
  ["Undefined and non-strings in string filters", "{{ u | trim }}|{{ u | length }}|{{ [' a '] | trim }}|{{ 5 | upper }}|{{ none | lower }}|{{ 'x-y z(w' | title }}|{{ 'hELLO' | capitalize }}", {}, "|0|[' a ']|5|none|X-Y Z(W|Hello"],
  ["trim with chars, striptags, truncate, wordcount, center", "{{ '--a--' | trim('-') }}|{{ '<b>x</b>  <i>y</i>' | striptags }}|{{ 'hello world foo' | truncate(9) }}|{{ 'hello world foo' | truncate(9, true) }}|{{ 'one two, three' | wordcount }}|{{ 'ab' | center(6) }}|", {}, "a|x y|hello...|hello ...|3|  ab  |"],
  ["format filter (printf-style)", "{{ '%s=%r %d %5.2f %-4s| %03d %x %%' | format('a', 'b', 3, 2.5, 'z', 7, 255) }}|{{ '%(n)s!' | format(n=1) }}|{{ '%s' | format({'k': [1, none]}) }}", {}, "a='b' 3  2.50 z   | 007 ff %|1!|{'k': [1, None]}"],
  ["tests: iterable, sequence, mapping, number, integer, boolean, callable", "{{ u is iterable }} {{ u is sequence }} {{ 'a' is iterable }} {{ {} is iterable }} {{ (1, 2) is sequence }} {{ none is iterable }} {{ true is number }} {{ true is integer }} {{ true is boolean }} {{ d.items is callable }} {{ 3 is odd }} {{ 'ab' is lower }}", {"d": {"a": 1}}, "True True True True True False True False True True True True"],
  ["select / reject / selectattr / rejectattr with tests and arguments", "{{ xs | selectattr('tool_calls', 'undefined') | map(attribute='role') | join(',') }}|{{ xs | rejectattr('role', 'equalto', 'tool') | map(attribute='role') | join(',') }}|{{ xs | selectattr('n') | list | length }}|{{ [1, 2, 3, 4] | select('divisibleby', 2) | list }}|{{ [1, 5, 9] | reject('gt', 4) | list }}|{{ ['a', 'b'] | select('in', 'abc') | list }}", {"xs": [{"role": "user", "n": 1}, {"role": "assistant", "tool_calls": []}, {"role": "tool", "n": 0}]}, "user,tool|user,assistant|1|[2, 4]|[1]|['a', 'b']"],
  ["map over a string and with default=, join with attribute=", "{{ 'ab' | map('upper') | join }}|{{ xs | map(attribute='n', default=0) | list }}|{{ xs | join(', ', attribute='role') }}|{{ [1, none, 'a'] | join('-') }}", {"xs": [{"role": "user", "n": 1}, {"role": "tool"}]}, "AB|[1, 0]|user, tool|1-None-a"],
  ["list, first, last, reverse, length on strings, tuples, dicts, Undefined", "{{ (1, 2) | list }} {{ {'a': 1, 'b': 2} | list }} {{ u | list }} {{ 'abc' | first }}{{ 'abc' | last }} {{ (1, 2) | reverse | list }} {{ {'a': 1} | length }} {{ 'héllo' | length }}", {}, "[1, 2] ['a', 'b'] [] ac [2, 1] 1 5"],
  ["items, dict.items(), dictsort yield tuples; batch", "{{ {'a': 1} | items | list }} {{ {'b': 1, 'a': 2}.items() | list }} {{ {'b': 1, 'a': 2} | dictsort }} {{ [1, 2, 3] | batch(2) | list }} {{ [1, 2, 3] | batch(2, 0) | list }}", {}, "[('a', 1)] [('b', 1), ('a', 2)] [('a', 2), ('b', 1)] [[1, 2], [3]] [[1, 2], [3, 0]]"],
  ["in / not in by Python ==, on dicts, strings and Undefined", "{{ 1 in [1.0] }} {{ {'a': 1} in [{'a': 1}] }} {{ 'a' in {'a': 1} }} {{ 'bc' in 'abc' }} {{ u in [1] }} {{ 1 not in u }} {{ u not in ['x'] }}", {}, "True True True True False True True"],
  ["list methods index and count; dict()", "{{ [1, 2, 3].index(2) }} {{ [1, 2, 1].count(1) }} {{ dict(a=1, b='x') }} {{ dict(d, c=3) }}", {"d": {"a": 1}}, "1 2 {'a': 1, 'b': 'x'} {'a': 1, 'c': 3}"],
  ["for over a string, a dict's keys and Undefined; loop.cycle; unpacking items", "{% for c in 'ab' %}{{ c }}{{ loop.cycle('+', '-') }}{% endfor %}|{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}|{% for i in u %}never{% else %}empty{% endfor %}|{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}", {}, "a+b-|xy|empty|a=1"],
  ["a set inside a loop does not reach the next pass or the outside", "{% set first = true %}{% for i in [1, 2, 3] %}{% if not first %}, {% endif %}{{ i }}{% set first = false %}{% endfor %}|{{ first }}", {}, "123|True"],
  ["lookups that find nothing are Undefined; looking into Undefined is an error", "{{ d[0] is defined }} {{ d[u] is defined }} {{ xs['a'] is defined }} {{ xs[5] is defined }} {{ 'abc'[-1] }} {{ d.missing is defined }}", {"d": {"a": 1}, "xs": [1]}, "False False False False c False"],
  ["string escapes as Python reads them", "{{ 'a\\\nb' }}|{{ 'tab\\there' }}|{{ '\\d+' }}|{{ '\\x41\\u00e9\\U0001F600\\101\\a' | length }}|{{ \"it\\'s\" }}", {}, "ab|tab\there|\\d+|5|it's"],
  ["the % operator on a string formats as Python's does", "{{ '%s-%d' % ('a', 3) }}|{{ '%s' % 'Hello' }}|{{ '%(a)s' % {'a': 1} }}|{{ 7 % 3 }}", {}, "a-3|Hello|1|1"],
  ["strings compare by code point; % and // on numbers floor as Python's do", "{{ 'a' < 'b' }} {{ 'b' <= 'a' }} {{ 'B' < 'a' }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 % 2 }} {{ -7 // 2 }}", {}, "True False True 2 -2 1.5 -4"],
  ["slicing with steps", "{{ [1, 2, 3, 4][::2] }} {{ 'abcd'[::-1] }} {{ [1, 2, 3][1:] }} {{ 'abcd'[-2:] }}", {}, "[1, 3] dcba [2, 3] cd"],
  ["tojson as transformers defines it (no HTML escaping, ensure_ascii off, indent)", "{{ {'a': '<é>', 'b': [1, 2.5, none, true]} | tojson }}|{{ {'a': [1]} | tojson(indent=2) }}|{{ 'x' | tojson }}", {}, "{\"a\": \"<é>\", \"b\": [1, 2.5, null, true]}|{\n  \"a\": [\n    1\n  ]\n}|\"x\""],
  ["tests with an argument: in parentheses, bare, in a loop's if", "{{ 4 is divisibleby(2) }} {{ 4 is divisibleby 3 }} {{ 'user' is equalto 'user' }} {{ none is sameas none }} {{ 2 is in [1, 2] }} {{ x is not gt(1) }} {% for m in [1, 2, 3, 4] if m is divisibleby 2 %}{{ m }}{% endfor %} {{ 'a' if 3 is eq 3 else 'b' }} {{ 3 is lt 2 or 3 is ge(y.z - 2) }} {{ 3 is divisibleby(3 if 2 is odd else 2) }}", {"x": 3, "y": {"z": 5}}, "True False True True True False 24 a True False"],
  ["int, float and round as jinja2's (defaults, bases, ties to even)", "{{ ' 12 ' | int }}|{{ '3.7' | int }}|{{ -3.9 | int }}|{{ none | int }}|{{ [1] | int }}|{{ 'x' | int(5) }}|{{ '0x1A' | int(0, 16) }}|{{ '1_000' | int }}|{{ none | float }}|{{ '1e3' | float }}|{{ 'x' | float(1) }}|{{ 2.5 | round }}|{{ 3.5 | round }}|{{ 2.675 | round(2) }}|{{ 0.375 | round(2) }}|{{ 7 | round }}|{{ 2.1 | round(0, 'ceil') }}|{{ 2.9 | round(method='floor') }}|{{ 1234.5 | round(-2) }}", {}, "12|3|-3|0|0|5|26|1000|0.0|1000.0|1|2.0|4.0|2.67|0.38|7|3.0|2.0|1200.0"],
  ["tojson indent as a count (0: newlines, no indentation) or a string; floats as repr; sort_keys by code point", "{{ {'b': 1, 'a': [1, 2.0]} | tojson(indent=0) }}|{{ {'b': 1, 'a': [1, 2.0]} | tojson(indent='\\t') }}|{{ [] | tojson(indent=0) }}|{{ {'b': 1, 'B': 2.5e-7} | tojson(sort_keys=true, separators=(',', ':')) }}|{{ {'é': 'x'} | tojson(ensure_ascii=true) }}", {}, "{\n\"b\": 1,\n\"a\": [\n1,\n2.0\n]\n}|{\n\t\"b\": 1,\n\t\"a\": [\n\t\t1,\n\t\t2.0\n\t]\n}|[]|{\"B\":2.5e-07,\"b\":1}|{\"\\u00e9\": \"x\"}"],
  ["floats print as Python's repr; loop.depth; caseless strings are neither upper nor lower", "{{ 'inf' | float }} {{ '-inf' | float }} {{ 'nan' | float }} {{ 0.00001 }} {{ 0.0001 }} {{ '1e16' | float }} {{ '2.5e-7' | float }} {{ [0.1, -0.0] }} {{ 1 / 3 }} {% for a in [1] %}{% for b in [2] %}{{ loop.depth }}{{ loop.depth0 }}{% endfor %}{% endfor %} {{ '3' is upper }} {{ '3' is lower }} {{ 'A3' is upper }}", {}, "inf -inf nan 1e-05 0.0001 1e+16 2.5e-07 [0.1, -0.0] 0.3333333333333333 10 False False True"],
  ["number literals as jinja2's lexer reads them: exponents, underscores, 0x / 0b / 0o", "{{ 1e3 }}|{{ 1_000 }}|{{ 0x1F }}|{{ 1.5E-3 }}|{{ 0b11 }}|{{ 0o17 }}|{{ 1_0.0_1 }}|{{ -1e3 }}|{{ 2.5e-7 }}|{{ 1e22 }}|{{ 1E+2 }}|{{ x.0 }}|{{ \"1e3\" }}|{{ [1e1, 2]|sum }}", {"x": [7]}, "1000.0|1000|31|0.0015|3|15|10.01|-1000.0|2.5e-07|1e+22|100.0|7|1e3|12.0"],
  ["{% raw %} blocks with lstrip/trim and - / + whitespace control", "a\n  {% raw %}{{ x }}{% if %}'\"\\\\\n  {% endraw %}\nb|{%- raw -%}  y  {%- endraw -%}  |{%+ raw %}z{% endraw +%}\nc", {}, "a\n{{ x }}{% if %}'\"\\\\\nb|y|z\nc"],
  ["a + sign turns lstrip_blocks ({%+, {#+) or trim_blocks (+%}, +#}) off for one tag; {{+ is {{", "a\n  {%+ if true %}\nx\n  {% endif +%}\ny\n  {#+ c +#}\nz{{+ 1 }}", {}, "a\n  x\n\ny\n  \nz1"],
  ["chained comparisons as Python's (each pair, and-ed), parentheses break a chain", "{{ 1 < 2 < 3 }}|{{ 1 < 3 < 2 }}|{{ (1 < 2) < 3 }}|{{ 1 == 1 == 1 }}|{{ 1 in [1] == true }}|{{ 2 not in [1] not in [[2]] }}|{{ [1 < 2 < 3, 2 > 3 > 1] }}|{% for x in [1, 2, 3] if 1 < x < 3 %}{{ x }}{% endfor %}|{{ \"a\" if 0 < 1 <= 1 else \"b\" }}|{{ \"a\" < \"b\" < \"c\" }}|{{ [1, 2] < [1, 3] }}", {}, "True|False|True|True|False|True|[True, False]|2|a|True|True"],
  ["groupby: sorted (grouper, list) tuples by attribute, dotted path or index; default; case-blind unless case_sensitive", "{{ xs|groupby(\"a\") }}|{{ xs|groupby(\"a\", case_sensitive=true)|map(attribute=\"grouper\")|list }}|{{ xs|groupby(\"n\", default=0)|map(attribute=\"grouper\")|list }}|{{ [[1, \"a\"], [0, \"b\"], [1, \"c\"]]|groupby(0) }}|{{ [{\"p\": {\"q\": 2}}, {\"p\": {\"q\": 1}}]|groupby(\"p.q\")|map(attribute=\"grouper\")|join(\",\") }}|{% for g in xs|groupby(\"a\") %}{{ g.grouper }}:{{ g.list|length }}{{ g[0] }};{% endfor %}|{% for k, items in xs|groupby(\"a\") %}{{ k }}={{ items|map(attribute=\"a\")|join }};{% endfor %}|{{ (xs|groupby(\"a\"))[0]|tojson }}|{{ u|groupby(\"a\") }}", {"xs": [{"a": "y"}, {"a": "X", "n": 1}, {"a": "x"}]}, "[('X', [{'a': 'X', 'n': 1}, {'a': 'x'}]), ('y', [{'a': 'y'}])]|['X', 'x', 'y']|[0, 1]|[(0, [[0, 'b']]), (1, [[1, 'a'], [1, 'c']])]|1,2|X:2X;y:1y;|X=Xx;y=y;|[\"X\", [{\"a\": \"X\", \"n\": 1}, {\"a\": \"x\"}]]|[]"],
  ["~ binds tighter than + and - (a + b ~ c is a + (b ~ c)); float // and % from fmod as Python's", "{{ 'a' + 1 ~ 2 }}|{{ 'a' ~ 'b' + 'c' ~ 'd' }}|{{ 'p' + n ~ 2 ~ 3 + 'q' }}|{{ 'n' + [1, 2]|length ~ '' }}|{{ 1e16 % 3 }}|{{ -7.5 % 2 }}|{{ 0.0 % -1 }}|{{ 255 / 0.01 // 0.01 }}|{{ -0.5 // 3 }}|{{ 0.0 // -1 }}", {"n": 1}, "a12|abcd|p123q|n2|1.0|0.5|-0.0|2549999.0|-1.0|-0.0"],
  ["bools are ints in arithmetic, as in Python", "{{ 1 + true }}|{{ true + true }}|{{ 2 * 3 is odd }}|{{ true - 2 }}|{{ 'ab' * true }}|{{ false * 'ab' }}|{{ true / 2 }}|{{ 2 ** true }}|{{ 5 % true }}|{{ 1.5 + true }}", {}, "2|2|2|-1|ab||0.5|2|0|2.5"],
  ["repr(Undefined) inside containers; dict.items() is a view [] cannot read; a dict is unhashable", "{{ [u] }}|{{ {'a': u} }}|{{ '%r' % u }}|{{ ({'k': 'v'}.items())[0] is defined }}|{{ ({'k': 'v'}.items()|list)[0] }}|{{ {'k': 'v'}.items()|last }}", {}, "[Undefined]|{'a': Undefined}|Undefined|False|('k', 'v')|('k', 'v')"],
  ["keys() and values() are dict views too; a tuple's slice is a tuple", "{{ {'k': 'v', 'n': 1}.values()|list }}|{{ ({'k': 'v'}.keys())[0] is defined }}|{{ 'k' in {'k': 'v'}.keys() }}|{% for v in {'a': 1}.values() %}{{ v }}{% endfor %}|{{ (1, 2)[1:] }}|{{ (1, 2, 3)[::-1] }}|{{ (1, 2)[:0] }}|{{ [1, 2][1:] }}", {}, "['v', 1]|False|True|1|(2,)|(3, 2, 1)|()|[2]"],
  ["the test named in (is in, is not in) is not a link of a chained comparison", "{{ 2 is in [1, 2] == true }}|{{ 2 is not in [1] == true }}|{{ 1 < 2 is in [true] }}|{{ 0 < 2 is not in [1] < 2 }}|{{ 1 not in [2] not in [[true]] }}", {}, "True|True|False|True|True"],
  ["a chain whose operand has a negated test (is not in) stays one chain", "{% for x in [1, 2, 3] if x != 's' is not in ['x'] != [1, 2] %}{{ x }}{% endfor %}|{{ 5 == 1e-7 < 's' is not in ['x'] in none }}", {}, "23|False"],
  ["float // as CPython floors it", "{{ 25500.0 // 0.01 }}|{{ 1 // 0.1 }}|{{ 0.3 // 0.1 }}|{{ -1 // 0.1 }}", {}, "2549999.0|9.0|2.0|-10.0"],
]

describe('templates render as jinja2 renders them', () => {
  for (const [what, source, variables, jinja2] of JINJA2_RENDERS) it(what, () => assert.equal(render(source, variables), jinja2))

  it('a chained comparison evaluates each operand once, left to right, and stops at the first false link', () => {
    const calls: string[] = []
    const probe = (name: string, value: number) => {
      calls.push(name)
      return value
    }
    const f = (value: number) => probe('f', value)
    const g = (value: number) => probe('g', value)
    assert.equal(render('{{ 1 < f(2) < g(3) }}|{{ 5 < f(2) < g(3) }}', {f, g}), 'True|False')
    assert.deepEqual(calls, ['f', 'g', 'f'])
  })

  it('a float literal that overflows (1e400) is refused by name: jinja2 folds it to inf in some places and fails in others', () => {
    assert.throws(() => render('{{ 1e400 }}'), /number literal 1e400 overflows/)
  })

  it('a recursive for loop is refused by name', () => {
    assert.throws(() => render('{%- for x in [1] recursive -%}{{ x }}{% endfor %}'), /recursive for loop/)
    assert.equal(render("{% for recursive in ['recursive'] %}{{ recursive }}{% endfor %}"), 'recursive')
  })

  it('str + int, x - (y ~ z), division by zero, a dict in a dict and a dict view sliced are errors, as in jinja2', () => {
    for (const source of ["{{ {'a': 1} in {'a': 1} }}", "{{ ({'k': 'v'}.items())[0:1] }}", "{{ 'a' + 1 }}", "{{ 1 + 'a' }}", '{{ 3 - 1 ~ 2 }}', '{{ 1 / 0 }}', '{{ 1.5 // 0 }}', '{{ 1 // 0 }}'])
      assert.throws(() => render(source), InvalidRequestError, source)
  })

  it('a missing groupby attribute is an error, as comparing Undefined is in jinja2', () => {
    assert.throws(() => render("{{ [{'a': 1}, {'b': 2}] | groupby('a') }}"), (error: Error) => error instanceof InvalidRequestError && /UndefinedError/.test(error.message))
  })

  it('striptags and rsplit() on long runs of unclosed `<` and of whitespace give the regex results', () => {
    // Both are scanned by hand: the regexes they replace were quadratic in such runs (message text a model or user wrote).
    const unclosed = '<'.repeat(40_000)
    assert.equal(render('{{ x | striptags }}', {x: `${unclosed}x`}), `${unclosed}x`)
    // The first `<` opens a tag that the first `>` closes, however many `<` lie between.
    assert.equal(render('{{ x | striptags }}', {x: `${unclosed}x <b>y</b> <!--${'<!--'.repeat(10_000)} z`}), `y <!--${'<!--'.repeat(10_000)} z`)
    const spaced = `a${' '.repeat(100_000)}b${'\t c'.repeat(10_000)}   `
    assert.equal(render('{{ x.rsplit() | length }}|{{ x.rsplit(none, 1)[0] | length }}|{{ x.rsplit()[-1] }}', {x: spaced}), `10002|${100_002 + 10_000 * 3 - 3}|c`)
  })

  it('looking into an Undefined value is an error (a 400), as in jinja2', () => {
    assert.throws(() => render('{{ missing.name }}'), (error: Error) => error instanceof InvalidRequestError)
    assert.throws(() => render("{{ '%s %s' | format(1) }}"), /not enough arguments/)
    // json.dumps cannot write Undefined (the library wrote null).
    assert.throws(() => render('{{ missing | tojson }}'), /not JSON serializable/)
  })
})
