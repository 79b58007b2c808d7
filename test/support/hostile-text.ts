// Synthetic hostile and multilingual texts for tokenizer parity checks: our own strings, deterministic, no dataset text.
import {SeededRandom} from '../../src/engine/model/seeded-random.js'

/** Pieces that tokenizers treat specially: scripts, marks, emoji sequences, controls, spelled special tokens. */
const ATOMS: readonly string[] = [
  // combining marks and normalization forms
  'e\u0301', 'caf\u00e9 vs cafe\u0301', 'A\u030a \u00c5 \u212b', 'a\u0300\u0301\u0302\u0303\u0304\u0305\u0306', 'Z\u0351\u0352\u0353\u0354\u0355\u0356', '\u1100\u1161\u11a8 \uac01', '\ufb01ne \ufb03x', '\u2460 \u00bd \u2075 \uff21\uff22',
  // emoji: ZWJ families, skin tones, flags, keycaps, variation selectors
  '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}\u200d\u{1f466}', '\u{1f3f3}\ufe0f\u200d\u{1f308}', '\u{1f44d}\u{1f3fd}', '\u{1f9d1}\u{1f3ff}\u200d\u{1f4bb}', '\u{1f1ef}\u{1f1f5}\u{1f1fa}\u{1f1f8}', '1\ufe0f\u20e3', '\u2764\ufe0f', '\u{1f600}\u{1f680}\u{1f4a9}',
  // CJK, Korean, Japanese, CJK extension B
  '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8', '\u4e2d\u6587\u6d4b\u8bd5\uff0c\u6807\u70b9\u3002', '\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8', '\u{20000}\u{20001}\u{2a6d6}', '\u3000\u3001\u3002\u300c\u300d',
  // Thai, Devanagari, Tamil
  '\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22', '\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e', '\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f', '\u0ba4\u0bae\u0bbf\u0bb4\u0bcd',
  // RTL and bidi controls
  '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645', '\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd', '\u202eabc\u202c', '\u200f\u200e', '\u2066x\u2069\u2067y\u2069\u2068z\u2069', '\u0661\u0662\u0663 \u06f4\u06f5',
  // zero-width and invisible characters
  '\u200b\u200c\u200d\ufeff\u2060', 'a\u00adb', '\u2028\u2029', '\u00a0\u2009\u202f\u3000',
  // NUL, C0 and C1 controls, DEL
  '\u0000', 'a\u0000b', Array.from({length: 32}, (_, c) => String.fromCharCode(c)).join(''), '\u007f', Array.from({length: 32}, (_, c) => String.fromCharCode(0x80 + c)).join(''), '\u001b[31mred\u001b[0m',
  // lone surrogates (JS strings only; UTF-8 makes them U+FFFD)
  '\ud800', 'a\udc00b', '\udbff\ud800', '\ud83d', 'x\ude00',
  // line ends
  'a\r\nb\rc\nd\n\r', '\r\r\n\n', '\r\n\r\n', '\n \n\t\n',
  // runs
  '  ', '   ', '    x', '\t\t', '\n\n\n', ' \t \t', '1234567890', '3.14159', '1,000,000', '...', '!!!???', '---', '=====', '()[]{}<>', '@#$%^&*', '"\'`',
  // spelled special tokens, whole and partial
  '<s>', '</s>', '<unk>', '<s>hello</s>', '<|im_start|>user\nhi<|im_end|>', '<|endoftext|>', '<|begin_of_text|>', '<|eot_id|>', '<|im_start', '<<s>>', '< s>', '<S>', ' <s> ', '<0x41>', '<0xE4><0xB8>', '<|im_start|><|im_start|>', 'a<|endoftext|>b',
  // English, contractions, code, URLs, mixed case
  'Hello world', "I'LL DON'T we're it's", 'def f(x):\n\treturn x*2  ', 'https://example.com/a?b=c&d=%20e#f', 'camelCaseWord snake_case_word', 'HTTPServerError', 'naïve café — 日本', 'price: $1,299.99 (-15%)',
  // rare characters (byte fallback in small vocabularies), private use, noncharacters, plane ends
  '\u{10ffff}', '\u{e0001}\u{e0041}', '\ue000\uf8ff', '\ufffe\uffff', '\ufffd', '\u{1d54f}\u{1d4b3}', '\u{13000}\u{1f0a1}',
]

/** One code point from [low, high], skipping surrogates. */
function codePointIn(random: SeededRandom, low: number, high: number): string {
  const cp = low + random.nextInt(high - low + 1)
  return cp >= 0xd800 && cp <= 0xdfff ? 'x' : String.fromCodePoint(cp)
}

/** A sample of every Unicode plane (assigned or not), and of the BMP's busy ranges. */
function planeSamples(random: SeededRandom): string[] {
  const samples: string[] = []
  for (let plane = 0; plane <= 16; plane++) {
    samples.push(Array.from({length: 12}, () => codePointIn(random, plane * 0x10000, plane * 0x10000 + 0xffff)).join(''))
  }
  for (const [low, high] of [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x52f], [0x590, 0x6ff], [0x900, 0xdff], [0x1e00, 0x2bff], [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xff00, 0xffef]] as const) {
    samples.push(Array.from({length: 16}, () => codePointIn(random, low, high)).join(''))
  }
  return samples
}

/** Long runs, which stress pre-tokenizer regexes and merge loops. */
function longRuns(long: number): string[] {
  return [
    ' '.repeat(40), ' '.repeat(257), '\t'.repeat(100), '\n'.repeat(100), '\r\n'.repeat(60), ' \n'.repeat(60), '0123456789'.repeat(30),
    '.'.repeat(200), '!?'.repeat(100), '-'.repeat(300), 'a'.repeat(long), 'ab'.repeat(long / 2), '\u65e5'.repeat(long / 4), '\u{1f600}'.repeat(long / 8),
  ]
}

/**
 * The corpus: atoms alone, with leading/trailing spaces, plane samples, long runs (the longest `long` characters) and
 * `mixes` seeded concatenations of 2-7 atoms joined by spaces, newlines or nothing.
 */
export function hostileTexts(options: {mixes: number; long: number; seed?: number}): string[] {
  const random = new SeededRandom(options.seed ?? 7)
  const texts = ['', ' ', '\n', ...ATOMS, ...ATOMS.slice(0, 40).map((atom) => ` ${atom} `), ...planeSamples(random), ...longRuns(options.long)]
  const joiners = ['', ' ', '  ', '\n', '\r\n', '\t', '\u00a0', '\ufeff', '\u3000']
  for (let i = 0; i < options.mixes; i++) {
    const count = 2 + random.nextInt(6)
    let text = ''
    for (let k = 0; k < count; k++) text += (k > 0 ? joiners[random.nextInt(joiners.length)] : '') + ATOMS[random.nextInt(ATOMS.length)]
    texts.push(text)
  }
  return texts
}
