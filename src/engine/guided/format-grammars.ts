// Corrects the grammars xgrammar 0.1.27 writes for string formats, where they admit strings validators reject.
//
// Each fix replaces xgrammar's exact EBNF text for a format with a stricter one (a subset: every string it admits is
// valid for ajv-formats and for Python's jsonschema/ipaddress/datetime). The texts are those of the pinned version.

const DIGIT = '[0-9]'
/** 0-255 without leading zeros ("001" is no IPv4 octet for ajv or Python's ipaddress). */
const OCTET = '( "2" "5" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9] [0-9] | [0-9] )'
/** Years 0001-9999 (Python's dates start at year 1). */
const YEAR = `( [1-9] ${DIGIT} ${DIGIT} ${DIGIT} | "0" [1-9] ${DIGIT} ${DIGIT} | "0" "0" [1-9] ${DIGIT} | "0" "0" "0" [1-9] )`
/** Month and day, each month with its days (February to the 28th, valid in every year). */
const MONTH_DAY =
  '( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [01] )' +
  ' | ( "0" [469] | "1" "1" ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" "0" )' +
  ' | "0" "2" "-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) )'

/**
 * A DNS label's inner run of up to K letters, digits and hyphens: one rule per count (`hostname_run_K`). xgrammar's own
 * repetition `{0,61}` compiled 4x slower still (docs/PERFORMANCE.md, "format: hostname").
 */
const LABEL_RUN_RULES = Array.from({length: 61}, (_, i) => i + 1)
  .map((max) => `hostname_run_${max} ::= "" | [a-z0-9-] ${max === 1 ? '""' : `hostname_run_${max - 1}`}`)
  .join('\n')
/** A label of 1 to `max` characters, neither first nor last a hyphen. */
const label = (max: number) => `[a-z0-9] ( hostname_run_${max - 2} [a-z0-9] )?`
const dotted = (max: number) => `"." ${label(max)}`
/**
 * Labels of 1-63 characters and the whole name at most 253, as ajv-formats and Python's fqdn check. A grammar that
 * counted the whole name would need a rule per length left; this is the union of two shapes that cannot pass 253: up to
 * four labels of up to 63 characters (the fourth 61), or five to eight labels of up to 30.
 */
const HOSTNAME =
  `( ${label(63)} ( ${dotted(63)} ( ${dotted(63)} ( ${dotted(61)} )? )? )?` +
  ` | ${label(30)} ${dotted(30)} ${dotted(30)} ${dotted(30)} ${dotted(30)} ( ${dotted(30)} ( ${dotted(30)} ( ${dotted(30)} )? )? )? )`

const FIXES: Array<[from: string, to: string, why: string]> = [
  [
    '"\\"" ( [a-z0-9] ( [a-z0-9-]* [a-z0-9] )? ) ( "." [a-z0-9] ( [a-z0-9-]* [a-z0-9] )? )* "\\""',
    `"\\"" ${HOSTNAME} "\\""`,
    'hostname: labels over 63 characters, names over 253',
  ],
  [
    '( "2" "5" [0-5] | "2" [0-4] [0-9] | [0-1]? [0-9]? [0-9] )',
    OCTET,
    'ipv4: octets with leading zeros',
  ],
  [
    '( "2" "5" [0-5] | ( "2" [0-4] | "1"{0,1} [0-9] ){0,1} [0-9] )',
    OCTET,
    'ipv6: embedded IPv4 octets with leading zeros',
  ],
  [
    '[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [01] )',
    `${YEAR} "-" ${MONTH_DAY}`,
    'date, date-time: year 0000 and days past the end of their month (02-31)',
  ],
  [
    '":" ( [0-5] [0-9] | "6" "0" ) ":" [0-5] [0-9]',
    '":" [0-5] [0-9] ":" [0-5] [0-9]',
    'date-time: minute 60 (xgrammar puts the leap second in the minutes)',
  ],
  [
    '":" [0-5] [0-9] ":" ( [0-5] [0-9] | "6" "0" )',
    '":" [0-5] [0-9] ":" [0-5] [0-9]',
    'time: a leap second, valid only at 23:59:60 UTC',
  ],
  [
    '( ( "." [A-Za-z0-9] [\\-A-Za-z0-9]* [A-Za-z0-9] )* )',
    '( ( "." [A-Za-z0-9] [\\-A-Za-z0-9]* [A-Za-z0-9] )+ )',
    'email: a domain without a dot (a@b)',
  ],
  [
    // A quoted local part ("a b"@x.io): validators' email formats (ajv's among them) reject it, and with it in the
    // grammar every mask inside an email costs 50 ms at a 152k vocabulary (41 us without; docs/PERFORMANCE.md).
    String.raw` | "\\" "\"" ( "\\" [ -~] | [ !#-[\]-~] )* "\\" "\""`,
    '',
    'email: a quoted local part',
  ],
  [
    '( "/" ( [a-zA-Z0-9_.~!$&\'()*+,;=:@-] | "%" [0-9A-Fa-f] [0-9A-Fa-f] )* )* )? )',
    '( "/" ( [a-zA-Z0-9_.~!$&\'()*+,;=:@-] | "%" [0-9A-Fa-f] [0-9A-Fa-f] )* )* ) )',
    'uri: nothing after the scheme ("x:"; ajv wants a path or an authority)',
  ],
]

/** The schema's EBNF with every format fix applied. */
export function fixFormatGrammars(ebnf: string): string {
  const fixed = FIXES.reduce((text, [from, to]) => text.split(from).join(to), ebnf)
  return fixed.includes(' hostname_run_') ? `${fixed}\n${LABEL_RUN_RULES}\n` : fixed
}
