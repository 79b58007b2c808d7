// The chat-template renderer's jinja2 behaviour beyond the real-template fixtures: the filters @huggingface/jinja lacks,
// Python's == and str + dict, transformers' variables and globals, and clear errors (expected values are jinja2's).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ChatTemplate, strftime} from '../src/engine/model/chat-template.js'
import {InvalidRequestError} from '../src/engine/errors.js'

const render = (source: string, variables: Record<string, unknown> = {}, opts: {tools?: object[]} = {}) =>
  new ChatTemplate(source).render([{role: 'user', content: 'hi'}], {bos_token: '<s>'}, {variables, ...opts})

describe('chat template filters jinja2 has and @huggingface/jinja lacks', () => {
  it('select / reject, with and without a test', () => {
    assert.equal(render("{{ x | select | list | length }} {{ x | reject | list | length }}", {x: [0, 1, '', 'a', null]}), '2 3')
    assert.equal(render("{{ x | select('odd') | join(',') }} {{ x | reject('equalto', 2) | join(',') }} {{ x | select('in', [1, 3]) | join(',') }}", {x: [1, 2, 3]}), '1,3 1,3 1,3')
  })

  it('map with a filter name, and count', () => {
    assert.equal(render("{{ x | map('trim') | join('|') }}", {x: [' a ', 'b ']}), 'a|b')
    assert.equal(render("{{ x | count }} {{ 'abc' | count }}", {x: [1, 2]}), '2 3')
  })

  it("the float test and Python's repetition of strings and lists by an int", () => {
    assert.equal(render("{{ 1.5 is float }} {{ 1 is float }} {{ '-' * 3 }}{{ 2 * 'ab' }} {{ ([1] * 2) | length }} {{ 2 * 3 }}"), 'True False ---abab 2 6')
    assert.throws(() => render("{{ 'x' * n }}", {n: 1e9}), (error: Error) => error instanceof InvalidRequestError)
  })

  it('a filter nobody supports is a 400 naming the filter', () => {
    assert.throws(() => render('{{ x | urlize }}', {x: 'see https://example.com'}), (error: Error) => error instanceof InvalidRequestError && /Jinja filter 'urlize'/.test(error.message))
  })
})

describe("chat templates follow Python's operators", () => {
  it('== and != compare dicts and lists by value (a repeated user message equals the last one)', () => {
    const same = {x: [1, {y: 2}]}
    assert.equal(render('{{ 1 if a == b else 0 }}{{ 1 if a != c else 0 }}{{ 1 if [1, 2] == [1, 2] else 0 }}{{ 1 if 1 == 1.0 else 0 }}', {a: same, b: structuredClone(same), c: {x: [1]}}), '1111')
  })

  it('values print as Python prints them: None, True, repr() inside lists and dicts; ~ and |string too', () => {
    const variables = {x: null, y: [1, 'a', null, true, {k: "it's"}, 'q"', 'both\'"\n'], z: {a: [1.5]}}
    // jinja2's output for the same template and values:
    const python = `None|None|True|[1, 'a', None, True, {'k': "it's"}, 'q"', 'both\\'"\\n']|{'a': [1.5]}|1.0|2|x1NoneTrue|[1, 'a', None, True, {'k': "it's"}, 'q"', 'both\\'"\\n']|`
    assert.equal(render("{{ none }}|{{ x }}|{{ true }}|{{ y }}|{{ z }}|{{ 1.0 }}|{{ 2 }}|{{ 'x' ~ 1 ~ none ~ true }}|{{ y | string }}|{{ u }}", variables), python)
    assert.equal(render('{% set a = 1 %}{% for i in [1, 2] %}{{ i }}{% endfor %}{% if true %}T{% endif %}{# c #}{{ (1, 2) }}'), '12T(1, 2)')
  })

  it('a string plus a dict or a list is an error, as in Python, not "[object Map]" in the prompt', () => {
    assert.throws(() => render("{{ 'a' + x }}", {x: {k: 1}}), /can only concatenate str \(not "dict"\) to str/)
    assert.throws(() => render("{{ 'a' + x }}", {x: [1]}), /can only concatenate str \(not "list"\) to str/)
    assert.equal(render("{{ 'a' + x }}", {x: 'b'}), 'ab')
  })
})

describe("transformers' template variables", () => {
  it('tools and documents are always defined (None when absent), as apply_chat_template passes them', () => {
    assert.equal(render('{{ tools is defined }} {{ tools is none }} {{ documents is none }}'), 'True True True')
    assert.equal(render('{% if tools is not none %}{{ tools | length }}{% endif %}', {}, {tools: [{type: 'function'}]}), '1')
  })

  it("a message key set to undefined is absent, as from JSON ('tool_calls' in message is false)", () => {
    const template = new ChatTemplate("{{ 'tool_calls' in messages[0] }} {{ messages[0] | length }}")
    assert.equal(template.render([{role: 'user', content: 'hi', tool_calls: undefined}], {}), 'False 2')
  })

  it('chat_template_kwargs become variables but cannot replace messages', () => {
    assert.equal(render('{{ enable_thinking }} {{ messages | length }}', {enable_thinking: false, messages: []}), 'False 1')
  })

  it('chat_template_kwargs naming a global shadow it, as jinja2 render variables do; true / none stay literals', () => {
    // Before: 'Variable already declared: raise_exception', a 400 blaming the messages, for any template.
    const kwargs = {raise_exception: 5, range: 'r', namespace: 1, strftime_now: 'now', true: false, none: 'x'}
    assert.equal(render('{{ raise_exception }} {{ range }} {{ namespace }} {{ strftime_now }} {{ true }} {{ none }}', kwargs), '5 r 1 now True None')
    assert.equal(render('{{ messages | length }}', kwargs), '1')
  })

  it('raise_exception is a 400 with the template\'s message', () => {
    assert.throws(() => render("{{ raise_exception('Only user and assistant roles') }}"), (error: Error) => error instanceof InvalidRequestError && /Only user and assistant roles/.test(error.message))
  })

  it('a macro that recurses without end is a 400 saying the recursion is too deep; one that ends still renders', () => {
    const tooDeep = (error: Error) => error instanceof InvalidRequestError && /^The chat template rejected these messages: .*recursion too deep/.test(error.message)
    assert.throws(() => render('{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}'), tooDeep)
    assert.throws(() => render('{% macro f() %}{% call f() %}{% endcall %}{% endmacro %}{{ f() }}'), tooDeep)
    // 100 levels: as deep as jinja2 itself renders (it raises RecursionError near 150).
    assert.equal(render('{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}done{% endif %}{% endmacro %}{{ f(100) }}'), 'done')
  })

  it('strftime_now formats like Python in the C locale', () => {
    const date = new Date(2025, 2, 7, 15, 4, 5)
    assert.equal(strftime(date, '%Y|%y|%m|%d|%e|%b|%B|%a|%A|%H|%I|%p|%M|%S|%j|%%|%d %b %Y|%B %d, %Y'), '2025|25|03|07| 7|Mar|March|Fri|Friday|15|03|PM|04|05|066|%|07 Mar 2025|March 07, 2025')
    assert.match(render('{{ strftime_now("%Y") }}'), /^\d{4}$/)
  })
})

describe("Python's str methods in templates (expected values are jinja2's)", () => {
  const s = '\n\n  Hello World  \n'
  const cases: Array<[string, string]> = [
    ["s.lstrip('\\n')", '  Hello World  \n'],
    ["s.rstrip('\\n')", '\n\n  Hello World  '],
    ["s.strip(' \\n')", 'Hello World'],
    ['s.strip()', 'Hello World'],
    ["'xxhixx'.strip('x')", 'hi'],
    ["'<think>a</think>\\n\\nb'.split('</think>')[-1].lstrip('\\n')", 'b'],
    ["'abcabc'.find('c', 3)", '5'],
    ["'abcabc'.rfind('b', -3)", '4'],
    ["'abcabc'.find('z')", '-1'],
    ["'abc'.find('', 5)", '-1'],
    ["'aaa'.count('aa')", '1'],
    ["'abc'.count('')", '4'],
    ["'abc'.count('', 1, 2)", '2'],
    ["'a\\r\\nb\\rc\\n'.splitlines()", "['a', 'b', 'c']"],
    ["'a\\nb'.splitlines(True)", "['a\\n', 'b']"],
    ["'a b  c'.rsplit(None, 1)", "['a b', 'c']"],
    ["'a,b,c'.rsplit(',', 1)", "['a,b', 'c']"],
    ["' a b '.rsplit()", "['a', 'b']"],
    ["'a,b,c'.rsplit(',')", "['a', 'b', 'c']"],
    ["'<tool>x'.removeprefix('<tool>')", 'x'],
    ["'x</tool>'.removesuffix('</tool>')", 'x'],
    ["'abc'.removesuffix('')", 'abc'],
    ["''.isdigit()", 'False'],
    ["'12'.isdigit()", 'True'],
    ["'A1'.isupper()", 'True'],
    ["'1'.isupper()", 'False'],
    ["'ab'.isalpha()", 'True'],
    ["' \\t'.isspace()", 'True'],
    ["'abc'.islower()", 'True'],
    ["'a1'.isalnum()", 'True'],
    ["'-42'.zfill(5)", '-0042'],
    ["'7'.zfill(3)", '007'],
    ["'abcabc'.index('c')", '2'],
    ['d.count', '3'],
    // Rendered by jinja2 3.1 (Python's str methods and jinja2's filters):
    ["'ab'.center(7, '*')", "***ab**"],
    ["'abc'.center(6)", " abc  "],
    ["'a'.center(4, '-')", "-a--"],
    ["'x'.ljust(3, '.')", "x.."],
    ["'x'.rjust(3)", "  x"],
    ["'a=b=c'.partition('=')", "('a', '=', 'b=c')"],
    ["'a=b=c'.rpartition('=')", "('a=b', '=', 'c')"],
    ["'abc'.partition('z')", "('abc', '', '')"],
    ["'abc'.rpartition('z')", "('', '', 'abc')"],
    ["', '.join(['a', 'b'])", "a, b"],
    ["'{}-{}'.format('a', 1)", "a-1"],
    ["'{1}{0}{{x}}'.format('a', none)", "Nonea{x}"],
    ["'{name}!'.format(name=true)", "True!"],
    ["'Ab'.swapcase()", "aB"],
    ["'ÄB'.casefold()", "äb"],
    ["[1, 2.5]|sum", "3.5"],
    ["[{'n': 2}, {'n': 3}]|sum(attribute='n')", "5"],
    ["[1, 2]|sum(start=10)", "13"],
    ["[3, 1, 2]|min", "1"],
    ["['b', 'a']|max", "b"],
    ["[{'n': 2}, {'n': 3}]|max(attribute='n')", "{'n': 3}"],
    ["'hi there, you'|wordcount", "3"],
    ["'ab'|list", "['a', 'b']"],
    ["'ab'|first", "a"],
    ["'ab'|last", "b"],
    ["'abc'|reverse", "cba"],
    ["'x'|center(5)", "  x  "],
    ["'<a href=\"x\">&</a>'|e", "&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;"],
    ["'abcd'.center(7)", "  abcd "],
    ["'abc'.center(8)", "  abc   "],
  ]
  for (const [expression, want] of cases) {
    it(expression, () => assert.equal(render(`{{ ${expression} }}`, {s, d: {count: 3}}), want))
  }

  it("format specs, str.join of non-strings and filters on the wrong types are errors, not silent text", () => {
    assert.throws(() => render("{{ '{:>5}'.format(1) }}"), /format specs are not supported/)
    assert.throws(() => render("{{ '{}{}'.format(1) }}"), /has no argument/)
    assert.throws(() => render("{{ ','.join([1]) }}"), /expected str instance/)
    assert.throws(() => render("{{ ['a']|sum }}"), /unsupported operand type\(s\) for \+: 'int' and 'str'/)
  })

  it("index of a missing substring is an error, as Python's ValueError", () => {
    assert.throws(() => render("{{ 'abc'.index('z') }}"), /substring not found/)
  })
})
