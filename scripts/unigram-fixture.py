"""Writes test/fixtures/unigram-tokenizer.json: a small Unigram tokenizer.json (Metaspace that splits, NFKC, byte
fallback) trained by the tokenizers library on text made here, and the ids Rust's Unigram gives for hostile texts:
runs of one character, where equal-scoring segmentations meet (test/unigram-tokenizer.test.ts).

    /work/venv-hf/bin/python scripts/unigram-fixture.py
"""
import json
import pathlib
import random

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

OUT = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'unigram-tokenizer.json'
r = random.Random(10)
WORDS = ['the', 'task', 'list', 'form', 'title', 'value', 'test', 'code', 'Oslo', 'rain', 'snow', 'user', 'answer']
lines = []
for _ in range(3000):
    kind = r.randrange(5)
    if kind == 0:
        lines.append(' '.join(r.choice(WORDS) for _ in range(r.randint(3, 9))) + '.')
    elif kind == 1:
        lines.append(r.choice(WORDS).title() + '\n' + r.choice('-=*#') * r.randint(2, 40))
    elif kind == 2:
        lines.append(f'({r.randint(1, 9)}' + '0' * r.randint(1, 12) + ',' + ' ' + r.choice(WORDS))
    elif kind == 3:
        lines.append('\t' * r.randint(1, 30) + r.choice(WORDS) + ' {')
    else:
        lines.append(' '.join(str(r.randint(0, 10 ** r.randint(1, 8))) for _ in range(4)))
tok = Tokenizer(models.Unigram())
tok.normalizer = normalizers.NFKC()
tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement='▁', prepend_scheme='always', split=True)
tok.decoder = decoders.Metaspace(replacement='▁', prepend_scheme='always', split=True)
tok.train_from_iterator(lines, trainers.UnigramTrainer(vocab_size=400, special_tokens=['<unk>', '<s>', '</s>'], unk_token='<unk>', show_progress=False))
spec = json.loads(tok.to_str())
spec['model']['byte_fallback'] = True
spec['model']['vocab'] += [[f'<0x{b:02X}>', -20.0] for b in range(256)]
tok = Tokenizer.from_str(json.dumps(spec))
texts = [c * n for c in '-=*#0\t ' for n in range(2, 61, 3)]
texts += [f'Title\n{c * n} and ({d}{"0" * n}, x)' for c in '-=' for n in (7, 10, 19, 33) for d in (9, 3)]
texts += ['\t' * n + 'code {' for n in (5, 12, 29, 60)] + ['a ☃ b 日本 ✓', 'Oslo\u00a0snow ﬁ ①', 'the   task\n\nlist']
cases = [{'text': t, 'ids': tok.encode(t, add_special_tokens=False).ids} for t in texts]
OUT.write_text(json.dumps({'source': 'scripts/unigram-fixture.py (the tokenizers library ' + __import__('tokenizers').__version__ + ')', 'tokenizer': json.loads(tok.to_str()), 'cases': cases}) + '\n')
print(f'wrote {OUT}: {len(cases)} cases, {OUT.stat().st_size} bytes')
