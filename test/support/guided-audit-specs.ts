// Regexes, choice lists and grammars for the guided-decoding audit (scripts/guided-corpus.ts --corpus specs): anchors,
// unicode classes, large and nested repetitions, and the forms that must be a 400 naming why (lookaround,
// backreferences, property escapes, grammars that can never finish). `matches`, where given, is a JavaScript regex the
// whole output must match: a check independent of the grammar engine for grammars.
import type {GuidedSpec} from '../../src/engine/guided/guided-spec.js'

export interface AuditSpec {
  name: string
  spec: GuidedSpec
  refused?: string
  matches?: RegExp
}

const regex = (name: string, pattern: string, refused?: string): AuditSpec => ({name, spec: {kind: 'regex', pattern, param: name}, refused})
const choice = (name: string, choices: string[], refused?: string): AuditSpec => ({name, spec: {kind: 'choice', choices, param: name}, refused})
const grammar = (name: string, ebnf: string, matches?: RegExp, refused?: string): AuditSpec => ({name, spec: {kind: 'grammar', ebnf, param: name}, matches, refused})

export const GUIDED_AUDIT_SPECS: AuditSpec[] = [
  regex('regex-anchored', '^[a-c]{2,4}$'),
  regex('regex-dot', 'a.{1,5}z'),
  regex('regex-unicode-range', '[à-ü]{1,4}'),
  regex('regex-cjk', '[一-龥]{1,3}'),
  regex('regex-negated', '[^a-z]{2,3}'),
  regex('regex-escapes', '\\d{3}-\\d{4} \\w+'),
  regex('regex-large-count', 'a{1,300}'),
  regex('regex-nested-quantifiers', '(a+)+b'),
  regex('regex-nested-groups', '((ab)*c)+d?'),
  regex('regex-alternation', '(cat|dog|bird)s?'),
  regex('regex-lazy', 'x+?y'),
  regex('regex-lookahead', 'a(?=b)', 'Lookahead'),
  regex('regex-lookbehind', '(?<=a)b', 'Lookbehind'),
  regex('regex-backreference', '(a)\\1', 'Backreference'),
  regex('regex-named-backreference', '(?<n>a)\\k<n>', 'Backreference'),
  regex('regex-property', '\\p{L}+', 'Unicode property'),
  regex('regex-property-in-class', '[\\p{L}]+', 'Unicode property'),
  regex('regex-word-boundary', '\\bfoo\\b', 'Word boundary'),
  regex('regex-inline-flag', '(?i)abc', 'modifier'),
  regex('regex-empty', '', 'empty regex'),
  regex('regex-unclosed', '(ab', 'parenthesis'),
  choice('choice-plain', ['yes', 'no', 'maybe']),
  choice('choice-prefixes', ['a', 'ab', 'abc']),
  choice('choice-empty-string', ['', 'x']),
  choice('choice-escapes', ['say "hi"', 'back\\slash', 'new\nline', 'é中😀']),
  choice('choice-many', Array.from({length: 200}, (_, i) => `option-${i}`)),
  choice('choice-none', [], 'at least one'),
  grammar('grammar-parens', 'root ::= "(" root ")" | "x"', /^(\(*)x(\)*)$/),
  grammar('grammar-left-recursive', 'root ::= root "a" | "b"', /^ba*$/),
  grammar('grammar-unicode-class', 'root ::= [à-ü]+ "!"', /^[à-ü]+!$/),
  grammar('grammar-negated-unicode', 'root ::= "«" [^»\\n]* "»"', /^«[^»\n]*»$/),
  grammar('grammar-lark', 'start: "(" start ")" | WORD\nWORD: /[a-z]{1,3}/', /^(\(*)[a-z]{1,3}(\)*)$/),
  grammar('grammar-json-ish', 'root ::= "{" pair ("," pair)* "}"\npair ::= "\\"" [a-z]+ "\\":" [0-9]+'),
  grammar('grammar-never-ends', 'root ::= "a" root', undefined, 'no output that ends'),
  grammar('grammar-cycle', 'root ::= x\nx ::= "(" x ")"', undefined, 'no output that ends'),
  grammar('grammar-undefined-rule', 'root ::= missing', undefined, 'missing'),
]
