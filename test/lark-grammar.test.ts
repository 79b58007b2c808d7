// Lark grammars (vLLM's guided_grammar takes them as well as EBNF): converted for xgrammar, they accept what Lark's
// parser would, %ignore'd text between tokens included, and what cannot be converted is a 400 naming the field.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {InvalidRequestError} from '../src/engine/errors.js'
import type {GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {isLarkGrammar, larkToEbnf} from '../src/engine/guided/lark-grammar.js'
import {regexRules} from '../src/engine/guided/regex-rules.js'
import {xgrammar} from '../src/engine/guided/xgrammar.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {makeEngineConfig} from '../src/engine/config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {GuidedChecker} from './support/guided-check.js'

/** Which of the texts the converted grammar accepts as a whole. */
async function accepted(lark: string, texts: string[]): Promise<boolean[]> {
  const grammar = await xgrammar().Grammar.fromEBNF(await larkToEbnf(lark, 'guided_grammar', regexRules))
  try {
    return await Promise.all(texts.map((text) => xgrammar().Testings.isGrammarAcceptString(grammar, text)))
  } finally {
    grammar.dispose()
  }
}

// vLLM's documentation example of a Lark guided_grammar.
const SQL = String.raw`
?start: select_statement
?select_statement: "SELECT " column_list " FROM " table_name
?column_list: column_name ("," column_name)*
?table_name: identifier
?column_name: identifier
?identifier: /[a-zA-Z_][a-zA-Z0-9_]*/
`

const CALCULATOR = String.raw`
// left-recursive, with common.lark imports, an alias and ignored whitespace
start: sum
?sum: product
    | sum ("+"|"-") product   -> add
?product: atom | product ("*"|"/") atom
?atom: NUMBER | "-" atom | "(" sum ")" | NAME -> var
%import common.NUMBER
%import common.CNAME -> NAME
%import common (WS)
%ignore WS
`

describe('Lark grammars', () => {
  it('tells Lark from EBNF, even with colons inside EBNF strings', () => {
    assert.equal(isLarkGrammar(SQL), true)
    assert.equal(isLarkGrammar(CALCULATOR), true)
    assert.equal(isLarkGrammar('root ::= "a: b" | "x"'), false)
    assert.equal(isLarkGrammar('root ::= item\nitem ::= "key: value"'), false)
    assert.equal(isLarkGrammar('start: "a ::= b"'), true)
  })

  it("vLLM's SQL example: exact literals and a regex terminal", async () => {
    assert.deepEqual(await accepted(SQL, ['SELECT a,b_2 FROM t', 'SELECT a FROM', 'select a FROM t', 'SELECT 1a FROM t']), [true, false, false, false])
  })

  it('a left-recursive calculator: imported terminals, aliases, and %ignore between tokens only', async () => {
    const texts = ['1+2*x', ' ( 3.5e2 -  y ) * 2 \n', '-(-a_1)/4.', '1+', '1 2', '3.5 e2', 'x y']
    assert.deepEqual(await accepted(CALCULATOR, texts), [true, true, true, false, false, false, false])
  })

  it('ranges, "..."i, ~ counts, [optional], escapes, regex flags and dots, priorities, marks and continued lines', async () => {
    const lark = String.raw`
start: greeting code tail
!greeting.2: "hello"i ","? [" " WORLD]
WORLD.-1: "w" LOWER ~ 2..3
LOWER: "a".."z"
code: /#[0-9a-f]{2}\//
    | /[A-Z].\n/
tail: ("\t" | "\u00e9")* /x.y/s
`
    const cases: Array<[string, boolean]> = [
      ['HeLLo, wab#0f/\t\u00e9x\ny', true], // "..."i, ',', [" " WORLD], an escaped slash, escapes, s-flag dot
      ['hello#0f/xzy', true],
      ['helloQ.\nx.y', true], // the second alternative, on its own line after '|'
      ['hello wabc#0f/xzy', true], // ~ 2..3, upper end
      ['hellowab#0f/xzy', false], // the optional group is " " WORLD together
      ['helloQ\n\nxzy', false], // without the s flag a dot is not a newline (Python's re)
      ['hello wa#0f/xzy', false], // ~ 2..3, below
      ['hello wabcd#0f/xzy', false], // ~ 2..3, above
      ['hello#0F/xzy', false], // the class is lowercase
    ]
    assert.deepEqual(await accepted(lark, cases.map(([text]) => text)), cases.map(([, ok]) => ok))
  })

  it('a rule named root and names starting with the generated prefix do not collide', async () => {
    const lark = 'start: root lark_re1\nroot: "r" lark_ignore\nlark_re1: /[0-9]/\nlark_ignore: "i"\n%ignore " "'
    assert.deepEqual(await accepted(lark, ['ri5', ' r i 5 ', 'r5']), [true, true, false])
  })

  it('what cannot be converted is an InvalidRequestError naming the field and saying why', async () => {
    const cases: Array<[string, RegExp]> = [
      ['start: _sep{"a", ","}\n_sep{x, sep}: x (sep x)*', /templates/],
      ['start: x\n%import .other.x', /only Lark's 'common'/],
      ['start: FOO\n%import common.FOO', /common\.FOO.*not one of/],
      ['start: /abc/i', /'i' flag/],
      ['start: missing', /'missing' is used but never defined/],
      ['A: "a"\nB: "b"', /defines no rule/],
      ['start: "a"\nstart: "b"', /defined twice/],
      ['start: "abc', /not closed/],
      ['start: "a" @', /unexpected character/],
      ['start: "z".."a"', /is empty/],
      ['start: "a" ~ 5..2', /ascending range/],
      ['start: "a"\n%declare X', /%declare/],
    ]
    for (const [lark, why] of cases) {
      await assert.rejects(larkToEbnf(lark, 'guided_grammar', regexRules), (error: unknown) => {
        assert.ok(error instanceof InvalidRequestError, lark)
        assert.equal(error.param, 'guided_grammar')
        assert.match(error.message, why, lark)
        return true
      })
    }
  })

  it('constrains generation: every output of a random-weight model parses', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, device: 'cpu'}))
    try {
      const spec: GuidedSpec = {kind: 'grammar', ebnf: 'start: "(" DIGIT ("+" DIGIT)* ")"\n%import common.DIGIT\n%ignore " "', param: 'guided_grammar'}
      const checker = new GuidedChecker(engine)
      const results = await engine.generate([{prompt: 'Sum:', params: makeSamplingParams({guided: spec, maxTokens: 30, temperature: 1, n: 4, seed: 3})}])
      let finished = 0
      for (const output of results[0]!.outputs) {
        assert.equal(await checker.problem(spec, output), null)
        // Stated independently of the converter: Lark's language with spaces between tokens.
        if (output.finishReason === 'stop') {
          assert.match(output.text, /^ *\( *[0-9]( *\+ *[0-9])* *\) *$/)
          finished++
        }
      }
      assert.ok(finished > 0, 'some outputs finish, so the whole-output check ran')
      assert.equal(engine.stats().kv.usedBlocks, 0)
    } finally {
      await engine.shutdown()
    }
  })
})
