// Python's unbounded ints in chat templates (jinja-big-ints.ts): exact past 2^53, bounded where jinja2 refuses
// (str() and int() past 4,300 digits, a sandboxed range() past 100,000 items) and where Python would only grow. Each
// template was rendered by transformers' jinja2 environment (scripts/jinja2_transformers_env.py) and its output is
// written next to it.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ChatTemplate} from '../src/engine/model/chat-template.js'

const render = (source: string, variables: Record<string, unknown> = {}) => new ChatTemplate(source).render([{role: 'user', content: 'hi'}], {}, {variables})

/** [what, template, variables, jinja2's output]. */
const JINJA2_RENDERS: Array<[string, string, Record<string, unknown>, string]> = [
  ["ints past 2^53 stay exact: literals, arithmetic, unary minus, str(), tojson, %d", "{{ 2**64 }}|{{ 9007199254740993 + 1 }}|{{ 9007199254740993 }}|{{ 2**53 + 1 }}|{{ 10**20 // 3 }}|{{ -2**63 }}|{{ 99999999999999999999 }}|{{ -(2**64) }}|{{ 2**64 % 7 }}|{{ -(2**64) % 7 }}|{{ 2**64 // -7 }}|{{ 18446744073709551615 * 18446744073709551615 }}|{{ 0x_ffff_ffff_ffff_ffff_ff }}|{{ [2**64] }}|{{ (2**64,) }}|{{ {'k': 2**64} }}|{{ [2**64]|join(',') }}|{{ 2**64 ~ '' }}|{{ 12345678901234567890|tojson }}|{{ '%d|%x|%-22d|%+d' % (2**64, 2**64, 2**64, -2**64) }}", {}, "18446744073709551616|9007199254740994|9007199254740993|9007199254740993|33333333333333333333|-9223372036854775808|99999999999999999999|-18446744073709551616|2|5|-2635249153387078803|340282366920938463426481119284349108225|4722366482869645213695|[18446744073709551616]|(18446744073709551616,)|{'k': 18446744073709551616}|18446744073709551616|18446744073709551616|12345678901234567890|18446744073709551616|10000000000000000|18446744073709551616  |+18446744073709551616"],
  ["big ints compare exactly, with ints and with floats", "{{ 2**64 + 1 == 2**64 }}|{{ 2**64 + 1 > 2**64 }}|{{ 2**53 + 1 == 2.0**53 }}|{{ 2**53 == 2.0**53 }}|{{ 2**64 < 1.8446744073709552e19 }}|{{ 2**64 + 1 > 1.8446744073709552e19 }}|{{ 2**64 in [18446744073709551616] }}|{{ [2**64, 2**64 + 1]|max }}|{{ [2**64, 2**64 + 1]|min }}|{{ [2**64, 2**64]|unique|list }}|{{ 2**10000 > 0 }}", {}, "False|True|False|True|False|True|True|18446744073709551617|18446744073709551616|[18446744073709551616]|True"],
  ["big ints become floats exactly where Python's do; true division rounds once", "{{ 2**64 / 2 }}|{{ 2**1100 / 2**1000 }}|{{ 10**30 / 7 }}|{{ 2**64 * 1.0 }}|{{ 2**64 + 0.5 }}|{{ (2**64)|float }}|{{ [2**64, 0.5]|sum }}", {}, "9.223372036854776e+18|1.2676506002282294e+30|1.4285714285714285e+29|1.8446744073709552e+19|1.8446744073709552e+19|1.8446744073709552e+19|1.8446744073709552e+19"],
  ["int(), range(), sum, abs, round and the number tests on big ints", "{{ '123456789012345678901234567890'|int }}|{{ '-0x1_0000_0000_0000_0000'|int(0, 0) }}|{{ 'zzzzzzzzzzzzzzzz'|int(base=36) }}|{{ 1e20|int }}|{{ 1e300|int }}|{{ 'inf'|int }}|{{ ('9' * 5000)|int }}|{{ range(2**60, 2**60 + 3)|list }}|{{ range(2**64 + 2, 2**64 - 1, -1)|list }}|{{ [2**64, 2**64 + 1]|sum }}|{{ [true, true]|sum }}|{{ (-2**64)|abs }}|{{ (2**64)|round }}|{{ 12345|round(-1) }}|{{ 12355|round(-1) }}|{{ -12345|round(-1) }}|{{ (2**64 + 1) is odd }}|{{ 2**64 is even }}|{{ 2**64 is divisibleby 3 }}|{{ 2.5 is odd }}|{{ true is odd }}|{{ 2.0 is divisibleby 1 }}", {}, "123456789012345678901234567890|-18446744073709551616|7958661109946400884391935|100000000000000000000|1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160|0|0|[1152921504606846976, 1152921504606846977, 1152921504606846978]|[18446744073709551618, 18446744073709551617, 18446744073709551616]|36893488147419103233|2|18446744073709551616|18446744073709551616|12340|12360|-12340|True|2|1|False|True|True"],
  ["a sandboxed range() holds at most 100000 items; str() of an int at most 4300 digits", "{{ range(100000)|length }}|{{ (10**4299)|string|length }}", {}, "100000|4300"],
  ["unique and min / max compare strings case-blind unless case_sensitive; %f rounds half to even", "{{ ['A', 'a', 'b']|unique|list }}|{{ ['A', 'a']|unique(true)|list }}|{{ [1, 1.0, true, 'x']|unique|list }}|{{ ['B', 'a']|min }}|{{ ['B', 'a']|max(case_sensitive=true) }}|{{ '%.1f %.2f %.0f %f' % (0.25, 2.675, 2.5, 1e22) }}", {}, "['A', 'b']|['A', 'a']|[1, 'x']|a|a|0.2 2.67 2 10000000000000000000000.000000"],
]

/** Templates jinja2 refuses (its error in the comment); ours must refuse them too. */
const JINJA2_ERRORS = [
  '{{ range(100001)|length }}', // OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).
  '{{ (10**4300)|string|length }}', // ValueError: Exceeds the limit (4300 digits) for integer string conversion
  `{{ ${'9'.repeat(4301)} }}`, // ValueError: Exceeds the limit (4300 digits), when the template compiles
  '{{ 2**1024 * 1.0 }}', // OverflowError: int too large to convert to float
  '{{ (2**1024)|float }}', // OverflowError: int too large to convert to float
  '{{ 2**1024 / 1 }}', // OverflowError: integer division result too large for a float
  '{{ 0 ** -1 }}', // ZeroDivisionError: 0.0 cannot be raised to a negative power
  '{{ 3 is divisibleby 0 }}', // ZeroDivisionError: integer modulo by zero
  "{{ ['a']|sum }}", // TypeError: unsupported operand type(s) for +: 'int' and 'str'
  '{{ [[1]]|unique|list }}', // TypeError: unhashable type: 'list'
  '{{ (1e308 * 10)|int }}', // jinja2: NameError (inf folded into the code); an int() of inf
]

describe('ints as Python keeps them', () => {
  for (const [what, source, variables, jinja2] of JINJA2_RENDERS) it(what, () => assert.equal(render(source, variables), jinja2))

  it('the templates jinja2 refuses are refused', () => {
    for (const source of JINJA2_ERRORS) assert.throws(() => render(source), Error, source)
  })

  it('an int past 65,536 bits is refused before it is made, where Python would compute (and could not print) it', () => {
    for (const source of ['{{ 2**(2**40) }}', '{{ (2**60)**(2**20) > 0 }}', '{{ 7 ** 100000 > 0 }}', '{{ (2**40000) * (2**40000) > 0 }}'])
      assert.throws(() => render(source), /an int of more than 65536 bits/, source)
    assert.equal(render('{{ (2**65000 - 1) % 7 }}'), String((2n ** 65000n - 1n) % 7n))
  })
})
