"""Tokenizer pipelines the test families do not have, trained with the tokenizers library on the corpus itself, for the
parity check (a development tool, never run by npm test):

    npx tsx scripts/tok-parity.ts export WORK                  the corpus (and the usual tokenizers)
    /work/venv-hf/bin/python scripts/tok-parity-built.py WORK  builds WORK/tokenizers/built-*, the manifest lists only them
    /work/venv-hf/bin/python scripts/tok-parity-hf.py WORK     transformers' ids
    npx tsx scripts/tok-parity.ts compare WORK

Pipelines: byte-level BPE with NFKC and single digits (DeepSeek / Falcon style), a DeepSeek-V3 style Split sequence,
SentencePiece-style BPE with a Metaspace pre-tokenizer (prepend 'first' and 'always', split or not) and byte fallback,
Unigram with Metaspace, WordPiece (BERT), Roberta-style byte level with a prefix space, and added tokens with every
flag (single_word, lstrip, rstrip, normalized, special or not) over a lowercasing normalizer.
"""
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

work = sys.argv[1]
corpus = json.load(open(os.path.join(work, 'corpus.json')))
# Training text: the datasets and hostile texts (UTF-8 only: lone surrogates cannot be encoded).
training = [t.encode('utf-8', 'replace').decode('utf-8') for t in corpus['datasets'] + corpus['hostile']]
SPECIALS = ['<unk>', '<s>', '</s>', '<pad>']
ADDED = [
    AddedToken('<tool_call>', special=True, normalized=False),
    AddedToken('</tool_call>', special=True, normalized=False),
    AddedToken('<think>', special=False, normalized=False),
    AddedToken('</think>', special=False, normalized=False),
    AddedToken('<|user|>', special=True, lstrip=True, rstrip=True, normalized=False),
    AddedToken('[MASK]', special=True, lstrip=True, normalized=False),
    AddedToken('hello world', special=False, single_word=True, normalized=True),
    AddedToken('Oslo', special=False, single_word=True, normalized=False),
    AddedToken('ABC', special=False, normalized=True),
    AddedToken('<|end|>', special=True, rstrip=True, normalized=False),
]
DEEPSEEK_V3_SPLITS = [
    r'\p{N}{1,3}',
    r'[一-龥぀-ゟ゠-ヿ]+',
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
]


def byte_level_bpe(name, vocab_size, normalizer, pre_tokenizer, added=False):
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS[1:3], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training, trainer)
    tok.post_processor = processors.TemplateProcessing(single='<s> $A', pair='<s> $A <s> $B', special_tokens=[('<s>', tok.token_to_id('<s>'))])
    if added:
        tok.add_tokens(ADDED)
    return name, tok, {'bos_token': '<s>', 'eos_token': '</s>'}


def metaspace_bpe(name, prepend_scheme, split, added=False):
    tok = Tokenizer(models.BPE(unk_token='<unk>', fuse_unk=True, byte_fallback=True))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement='▁', prepend_scheme=prepend_scheme, split=split)
    tok.decoder = decoders.Sequence([decoders.Replace('▁', ' '), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(' ', 1, 0)]) if prepend_scheme != 'never' else decoders.Sequence([decoders.Replace('▁', ' '), decoders.ByteFallback(), decoders.Fuse()])
    bytes_ = [f'<0x{b:02X}>' for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=SPECIALS[:3] + bytes_, show_progress=False)
    tok.train_from_iterator(training, trainer)
    tok.post_processor = processors.TemplateProcessing(single='<s> $A', pair='<s> $A <s> $B', special_tokens=[('<s>', tok.token_to_id('<s>'))])
    if added:
        tok.add_tokens(ADDED)
    return name, tok, {'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>'}


def unigram(name, byte_fallback):
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(' {2,}'), ' ')])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement='▁', prepend_scheme='always', split=True)
    tok.decoder = decoders.Metaspace(replacement='▁', prepend_scheme='always', split=True)
    trainer = trainers.UnigramTrainer(vocab_size=3000, special_tokens=SPECIALS[:3], unk_token='<unk>', show_progress=False)
    tok.train_from_iterator(training, trainer)
    if byte_fallback:
        # The trainer here takes no byte_fallback: the <0xNN> pieces and the flag go in as SentencePiece writes them.
        spec = json.loads(tok.to_str())
        spec['model']['byte_fallback'] = True
        spec['model']['vocab'] += [[f'<0x{b:02X}>', 0.0] for b in range(256)]
        tok = Tokenizer.from_str(json.dumps(spec))
        tok.decoder = decoders.Sequence([decoders.Metaspace(replacement='▁', prepend_scheme='always', split=True), decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(single='$A </s>', pair='$A </s> $B </s>', special_tokens=[('</s>', tok.token_to_id('</s>'))])
    return name, tok, {'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>'}


def wordpiece(name):
    tok = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix='##')
    trainer = trainers.WordPieceTrainer(vocab_size=3000, special_tokens=['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'], show_progress=False)
    tok.train_from_iterator(training, trainer)
    tok.post_processor = processors.BertProcessing(('[SEP]', tok.token_to_id('[SEP]')), ('[CLS]', tok.token_to_id('[CLS]')))
    return name, tok, {'cls_token': '[CLS]', 'sep_token': '[SEP]', 'unk_token': '[UNK]', 'pad_token': '[PAD]', 'mask_token': '[MASK]'}


def roberta(name):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2500, special_tokens=['<s>', '<pad>', '</s>', '<unk>', '<mask>'], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training, trainer)
    tok.post_processor = processors.RobertaProcessing(('</s>', tok.token_to_id('</s>')), ('<s>', tok.token_to_id('<s>')), add_prefix_space=True, trim_offsets=True)
    tok.add_special_tokens([AddedToken('<mask>', lstrip=True, normalized=False)])
    return name, tok, {'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>', 'pad_token': '<pad>', 'mask_token': '<mask>'}


def lowercase_added(name):
    """Added tokens with every flag over a normalizer that changes text (lowercasing, NFKC): normalized ones match the normalized text."""
    _, tok, config = byte_level_bpe(name, 2500, normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]), pre_tokenizers.ByteLevel(add_prefix_space=False), added=True)
    return name, tok, config


BUILDERS = [
    lambda: byte_level_bpe('built-bpe-nfkc-digits', 2500, normalizers.NFKC(), pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]), added=True),
    lambda: byte_level_bpe('built-bpe-deepseek-v3-splits', 2500, None, pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(p), 'isolated') for p in DEEPSEEK_V3_SPLITS] + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), added=True),
    lambda: byte_level_bpe('built-bpe-punct-scripts', 2500, normalizers.Strip(), pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation('contiguous'), pre_tokenizers.UnicodeScripts(), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])),
    lambda: metaspace_bpe('built-metaspace-first', 'first', False, added=True),
    lambda: metaspace_bpe('built-metaspace-always-split', 'always', True),
    lambda: metaspace_bpe('built-metaspace-never', 'never', True),
    lambda: unigram('built-unigram', False),
    lambda: unigram('built-unigram-byte-fallback', True),
    lambda: wordpiece('built-wordpiece'),
    lambda: roberta('built-roberta'),
    lambda: lowercase_added('built-lowercase-added'),
]

entries = []
for build in BUILDERS:
    name, tok, config = build()
    folder = os.path.join(work, 'tokenizers', name)
    os.makedirs(folder, exist_ok=True)
    tok.save(os.path.join(folder, 'tokenizer.json'))
    with open(os.path.join(folder, 'tokenizer_config.json'), 'w') as f:
        json.dump({'tokenizer_class': 'PreTrainedTokenizerFast', 'clean_up_tokenization_spaces': False, **config}, f)
    entries.append({'name': name, 'path': folder, 'kind': 'dir', 'fixture': False})
    print(name, tok.get_vocab_size(), flush=True)
with open(os.path.join(work, 'manifest.json'), 'w') as f:
    json.dump({'tokenizers': entries}, f, indent=1)
