"""transformers' side of the tokenizer parity check (scripts/tok-parity.ts export/compare run around it; npm test never does).

    /work/venv-hf/bin/python scripts/tok-parity-hf.py WORK

Reads WORK/manifest.json and WORK/corpus.json and writes, per text, the ids with and without special tokens and the
decode of the ids with and without skip_special_tokens, twice:
- WORK/hf/<tokenizer>.json: tokenizer.json as written, run by the tokenizers library (transformers' TokenizersBackend;
  what transformers 4, and sentencepiece for the models converted from it, give). GGUF vocabularies as transformers
  converts them, with the dummy prefix as the legacy SentencePiece normalizer (transformers 4's GGUF converter, and
  llama.cpp: a ▁ before every piece of text between special tokens) and BOS where the file's add_bos_token asks.
  gpt-neox (an architecture transformers' GGUF loading refuses) is the same byte-level BPE built from the file.
- WORK/hf-auto/<tokenizer>.json: what transformers 5's AutoTokenizer gives, which rebuilds the normalizer, pre-tokenizer
  and decoder of a tokenizer_class with its own pipeline (LlamaTokenizer: a Metaspace pre-tokenizer whatever
  tokenizer.json says), and its GGUF loading as is (no BOS).
Texts holding lone surrogates (valid JS strings, not encodable in UTF-8) are given as their UTF-8 encoding reads back:
U+FFFD for each.
"""
import json, os, re, sys
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import gguf  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer, AddedToken, decoders, models, normalizers, pre_tokenizers, processors  # noqa: E402

work = sys.argv[1]
manifest = json.load(open(os.path.join(work, 'manifest.json')))
corpus = json.load(open(os.path.join(work, 'corpus.json')))
LONE_SURROGATE = re.compile('[\ud800-\udfff]')


def gguf_fields(path):
    reader = gguf.GGUFReader(path)
    return {k: v.contents() for k, v in reader.fields.items() if k.startswith('tokenizer.')}


def byte_level_bpe_from_gguf(path):
    """GPT-2 style byte-level BPE from a GGUF vocabulary (what transformers' GGUF converter builds for gpt2 files)."""
    fields = gguf_fields(path)
    tokens, types = fields['tokenizer.ggml.tokens'], fields['tokenizer.ggml.token_type']
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = [tuple(m.split(' ', 1)) for m in fields['tokenizer.ggml.merges']]
    tok = Tokenizer(models.BPE(vocab, merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_tokens([AddedToken(tokens[i], special=types[i] != 4, normalized=False) for i in range(len(tokens)) if types[i] in (2, 3, 4)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok)


def load(entry, auto):
    if entry['kind'] == 'dir':
        loader = transformers.AutoTokenizer if auto else transformers.TokenizersBackend
        return loader.from_pretrained(entry['path'])
    if entry['name'] == 'gguf-gpt-neox':
        return byte_level_bpe_from_gguf(entry['path'])
    folder, name = os.path.split(entry['path'])
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    fields = gguf_fields(entry['path'])
    if auto:
        return tokenizer
    if fields['tokenizer.ggml.model'] == 'llama':
        backend = tokenizer.backend_tokenizer
        prefix = [normalizers.Prepend('\u2581')] if fields.get('tokenizer.ggml.add_space_prefix', True) else []
        backend.normalizer = normalizers.Sequence(prefix + [normalizers.Replace(' ', '\u2581')])
        backend.pre_tokenizer = None
    if fields.get('tokenizer.ggml.add_bos_token', fields['tokenizer.ggml.model'] == 'llama'):
        bos = fields['tokenizer.ggml.tokens'][fields['tokenizer.ggml.bos_token_id']]
        bos_id = fields['tokenizer.ggml.bos_token_id']
        tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(single=f'{bos} $A', pair=f'{bos} $A {bos} $B', special_tokens=[(bos, bos_id)])
    return tokenizer


def cases(tokenizer, texts):
    rows = []
    for text in texts:
        utf8 = LONE_SURROGATE.sub('\ufffd', text)
        ids = tokenizer(utf8, add_special_tokens=True)['input_ids']
        plain = tokenizer(utf8, add_special_tokens=False)['input_ids']
        rows.append({'text': text, 'ids': ids, 'plainIds': plain,
                     'decoded': tokenizer.decode(ids, skip_special_tokens=False),
                     'decodedSkip': tokenizer.decode(ids, skip_special_tokens=True)})
    return rows


for entry in manifest['tokenizers']:
    for auto, folder in ((False, 'hf'), (True, 'hf-auto')):
        tokenizer = load(entry, auto)
        out = {name: cases(tokenizer, texts) for name, texts in corpus.items()}
        os.makedirs(os.path.join(work, folder), exist_ok=True)
        with open(os.path.join(work, folder, entry['name'] + '.json'), 'w') as f:
            json.dump(out, f)
        print(folder, entry['name'], type(tokenizer).__name__, {k: len(v) for k, v in out.items()}, flush=True)
