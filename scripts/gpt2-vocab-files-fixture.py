# Writes test/fixtures/gpt2-vocab-files-transformers.json: the ids transformers' AutoTokenizer gives a few texts when a
# test model's tokenizer is only vocab.json + merges.txt (tokenizer.json deleted), under GPT-2's and OPT's configs and
# add_prefix_space (gpt2-vocab-files.test.ts holds pagedllm to them). Run with a Python that has transformers:
#   node bin/run.js make-test-model --preset tiny --variant gpt2 --out /tmp/tiny-gpt2
#   node bin/run.js make-test-model --preset tiny --variant opt --out /tmp/tiny-opt
#   /work/venv-hf/bin/python scripts/gpt2-vocab-files-fixture.py /tmp/tiny-gpt2 /tmp/tiny-opt
import json
import pathlib
import shutil
import sys
import tempfile

import transformers

TEXTS = ['The quick brown fox', ' leading space', 'Hello  world\n\nnew lines\t', "it's we'll 2024!", 'caf\u00e9 \u65e5\u672c \U0001F600',
         '<|endoftext|> and </s> inside', '   ', '']
OUT = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'gpt2-vocab-files-transformers.json'


def slow_files(model_dir, out_dir, config_changes):
    """vocab.json + merges.txt (with GPT-2's #version header) from the model's tokenizer.json; no tokenizer.json."""
    tokenizer = json.loads((model_dir / 'tokenizer.json').read_text())
    out_dir.mkdir()
    (out_dir / 'vocab.json').write_text(json.dumps(tokenizer['model']['vocab'], ensure_ascii=False))
    merges = [m if isinstance(m, str) else ' '.join(m) for m in tokenizer['model']['merges']]
    (out_dir / 'merges.txt').write_text('#version: 0.2\n' + ''.join(m + '\n' for m in merges))
    config = json.loads((model_dir / 'tokenizer_config.json').read_text())
    config.update(config_changes)
    (out_dir / 'tokenizer_config.json').write_text(json.dumps(config))
    shutil.copy(model_dir / 'config.json', out_dir / 'config.json')


cases = {}
with tempfile.TemporaryDirectory() as scratch:
    for name, model_dir, changes in [('gpt2', sys.argv[1], {}), ('gpt2-prefix-space', sys.argv[1], {'add_prefix_space': True}), ('opt', sys.argv[2], {})]:
        out_dir = pathlib.Path(scratch) / name
        slow_files(pathlib.Path(model_dir), out_dir, changes)
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(out_dir))
        cases[name] = {'config_changes': changes, 'ids': [tokenizer(text)['input_ids'] for text in TEXTS]}
# One line per text's ids keeps the fixture short and its diffs readable.
lines = [f'{json.dumps(name)}: {{"config_changes": {json.dumps(case["config_changes"])}, "ids": [\n  ' + ',\n  '.join(json.dumps(ids) for ids in case['ids']) + ']}'
         for name, case in cases.items()]
OUT.write_text(f'{{"transformers": {json.dumps(transformers.__version__)}, "texts": {json.dumps(TEXTS, ensure_ascii=False)}, "cases": {{\n' + ',\n'.join(lines) + '}}\n')
print(f'wrote {OUT}')
