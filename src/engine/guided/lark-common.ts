// The terminals of Lark's common.lark that grammars %import most, written out here in Lark (from their documented meaning).
import {InvalidRequestError} from '../errors.js'
import {parseLark, type LarkDefinition} from './lark-parser.js'

const COMMON_SOURCE = String.raw`
DIGIT: "0".."9"
HEXDIGIT: "a".."f" | "A".."F" | DIGIT
INT: DIGIT+
SIGNED_INT: ["+" | "-"] INT
DECIMAL: INT "." INT? | "." INT
_EXP: ("e" | "E") SIGNED_INT
FLOAT: INT _EXP | DECIMAL _EXP?
SIGNED_FLOAT: ["+" | "-"] FLOAT
NUMBER: FLOAT | INT
SIGNED_NUMBER: ["+" | "-"] NUMBER
_STRING_ESC_INNER: (/[^"\\\n]/ | "\\" /[^\n]/)*
ESCAPED_STRING: "\"" _STRING_ESC_INNER "\""
LCASE_LETTER: "a".."z"
UCASE_LETTER: "A".."Z"
LETTER: UCASE_LETTER | LCASE_LETTER
WORD: LETTER+
CNAME: ("_" | LETTER) ("_" | LETTER | DIGIT)*
WS_INLINE: (" " | "\t")+
WS: /[ \t\f\r\n]/+
CR: "\r"
LF: "\n"
NEWLINE: (CR? LF)+
SH_COMMENT: "#" /[^\n]/*
CPP_COMMENT: "//" /[^\n]/*
SQL_COMMENT: "--" /[^\n]/*
`

export const LARK_COMMON: ReadonlyMap<string, LarkDefinition> = new Map(
  parseLark(COMMON_SOURCE, (message) => {
    throw new InvalidRequestError(`common.lark: ${message}`)
  }).definitions.map((definition) => [definition.name, definition]),
)
