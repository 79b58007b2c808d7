// Splits SentencePiece-style text ("▁" for spaces, no pre-splitting) into words before BPE, where no merge can join them.
//
// A Metaspace pre-tokenizer with split: false (or a normalizer that writes the ▁ itself) hands BPE the whole text as
// one word, and the tokenizer library's BPE, fast per word and cached per word, then runs over a 100k-character prompt
// at once. When no merge yields a token holding a ▁ right after another character (SentencePiece pieces only start
// with ▁), no token can span such a place, so cutting the text there gives the same tokens. Otherwise, or where whole
// words skip the merges (ignore_merges) or word affixes exist, tokenizer.json is left as it is.

type Json = Record<string, unknown>

const METASPACE = '\u2581'
/** A run of ▁ and the characters up to the next ▁, or a trailing run of ▁: cuts before each ▁ that follows another character. */
const WORDS = {type: 'Split', pattern: {Regex: `${METASPACE}*[^${METASPACE}]+|${METASPACE}+`}, behavior: 'Isolated', invert: false}

function types(node: unknown): string[] {
  if (node === null || typeof node !== 'object') return []
  const {type, normalizers, pretokenizers} = node as Json
  const children = [...(Array.isArray(normalizers) ? normalizers : []), ...(Array.isArray(pretokenizers) ? pretokenizers : [])]
  return [...(typeof type === 'string' ? [type] : []), ...children.flatMap(types)]
}

/** Whether the BPE sees ▁-spelled text unsplit: a lone Metaspace without split, or no pre-tokenizer after a ▁-writing normalizer. */
function sentencePieceText(tokenizerJson: Json): boolean {
  const preTokenizer = tokenizerJson.pre_tokenizer as Json | null | undefined
  if (preTokenizer == null) {
    return JSON.stringify(tokenizerJson.normalizer ?? null).includes(`"content":"${METASPACE}"`)
  }
  return preTokenizer.type === 'Metaspace' && preTokenizer.split === false && (preTokenizer.replacement ?? METASPACE) === METASPACE
}

/** Whether no merge result holds a ▁ after another character, so no token crosses a word cut. */
function mergesStayInWords(model: Json): boolean {
  const merges = Array.isArray(model.merges) ? (model.merges as unknown[]) : []
  const crossing = new RegExp(`[^${METASPACE}]${METASPACE}`)
  return merges.every((merge) => {
    const token = Array.isArray(merge) ? merge.join('') : typeof merge === 'string' ? merge.replace(' ', '') : null
    return token !== null && !crossing.test(token)
  })
}

/** tokenizer.json with the word cuts added after its pre-tokenizer, where they change no token. */
export function withMetaspaceWords(tokenizerJson: Json): Json {
  const model = tokenizerJson.model as Json | undefined
  if (model?.type !== 'BPE' || model.ignore_merges === true || model.dropout != null) return tokenizerJson
  if ((model.continuing_subword_prefix ?? '') !== '' || (model.end_of_word_suffix ?? '') !== '') return tokenizerJson
  // An unknown character before a cut must not fuse with one after it; a known ▁ starts every word after a cut.
  const vocab = model.vocab as Json | undefined
  if (vocab === undefined || Array.isArray(vocab) || typeof vocab[METASPACE] !== 'number') return tokenizerJson
  if (!sentencePieceText(tokenizerJson) || types(tokenizerJson.pre_tokenizer).includes('Split') || !mergesStayInWords(model)) return tokenizerJson
  const preTokenizer = tokenizerJson.pre_tokenizer
  return {...tokenizerJson, pre_tokenizer: preTokenizer == null ? WORDS : {type: 'Sequence', pretokenizers: [preTokenizer, WORDS]}}
}

/** Rust's Metaspace split (MergedWithNext at each ▁): a ▁ and the characters up to the next ▁, or what precedes the first ▁. */
const METASPACE_SPLIT = {type: 'Split', pattern: {Regex: `${METASPACE}[^${METASPACE}]*|[^${METASPACE}]+`}, behavior: 'Isolated', invert: false}

/** A Metaspace pre-tokenizer node with its split made explicit, where it splits (split absent or true, as Rust defaults). */
function splitMetaspace(node: unknown): unknown {
  if (node === null || typeof node !== 'object') return node
  const json = node as Json
  if (json.type === 'Sequence' && Array.isArray(json.pretokenizers)) return {...json, pretokenizers: json.pretokenizers.map(splitMetaspace)}
  if (json.type !== 'Metaspace' || json.split === false || (json.replacement ?? METASPACE) !== METASPACE) return node
  return {type: 'Sequence', pretokenizers: [json, METASPACE_SPLIT]}
}

/**
 * tokenizer.json with each splitting Metaspace pre-tokenizer followed by the split it stands for: the library's Metaspace
 * ignores `split` and hands the model the whole text as one word. A Unigram model (XGLM's) then sums scores across
 * words, and where two segmentations of a word score the same the rounding of that longer sum picks the other one.
 */
export function withMetaspaceSplit(tokenizerJson: Json): Json {
  if (tokenizerJson.pre_tokenizer == null) return tokenizerJson
  return {...tokenizerJson, pre_tokenizer: splitMetaspace(tokenizerJson.pre_tokenizer)}
}
