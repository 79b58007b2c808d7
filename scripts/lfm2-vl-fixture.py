# Writes test/fixtures/lfm2-vl-multimodal-config.json: the config.json transformers writes for an
# Lfm2VlForConditionalGeneration whose language model is the tiny lfm2 test model (a one-layer SigLIP2 tower), and
# checks that transformers runs its text the same as the text model: the wrapper, with the text model's tensors
# under model.language_model.* (its vision tower left random), gives test/fixtures/lfm2-tiny-transformers.json's
# top-10 logits. test/lfm2.test.ts holds pagedllm to the same. Run with a Python that has transformers and torch:
#   node bin/run.js make-test-model --preset tiny --variant lfm2 --out /tmp/tiny-lfm2
#   /work/venv-hf/bin/python scripts/lfm2-vl-fixture.py /tmp/tiny-lfm2
import json
import pathlib
import sys
import tempfile

import torch
import transformers
from safetensors.torch import load_file, save_file

text_dir = pathlib.Path(sys.argv[1])
fixtures = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures'
text = json.loads((text_dir / 'config.json').read_text())
text.pop('architectures')
vision = {'model_type': 'siglip2_vision_model', 'hidden_size': 16, 'intermediate_size': 32, 'num_hidden_layers': 1, 'num_attention_heads': 2, 'num_patches': 16, 'patch_size': 4}
config = transformers.Lfm2VlConfig(text_config=text, vision_config=vision, projector_hidden_size=32, tie_word_embeddings=False,
                                   image_token_id=396, torch_dtype='float32')
config.architectures = ['Lfm2VlForConditionalGeneration']
out = fixtures / 'lfm2-vl-multimodal-config.json'
out.write_text(config.to_json_string(use_diff=False))
print(f'wrote {out}')

expected = json.loads((fixtures / 'lfm2-tiny-transformers.json').read_text())
with tempfile.TemporaryDirectory() as scratch:
    tensors = {(k if k == 'lm_head.weight' else 'model.language_model.' + k[len('model.'):]): v for k, v in load_file(text_dir / 'model.safetensors').items()}
    save_file(tensors, pathlib.Path(scratch) / 'model.safetensors', metadata={'format': 'pt'})
    (pathlib.Path(scratch) / 'config.json').write_text(out.read_text())
    model, info = transformers.Lfm2VlForConditionalGeneration.from_pretrained(scratch, dtype=torch.float32, output_loading_info=True)
    unloaded = [k for k in info['missing_keys'] if 'vision' not in k and 'projector' not in k]
    assert not unloaded and not info['unexpected_keys'], (unloaded, info['unexpected_keys'])
    model.eval()
    with torch.no_grad():
        for prompt in expected['prompts']:
            last = model(torch.tensor([prompt['prompt_token_ids']])).logits[0, -1].double()
            top = prompt['last_position_top10']
            worst = max(abs(last[i].item() - v) for i, v in zip(top['ids'], top['logits']))
            assert worst < 1e-5, worst
print('the wrapper\'s text logits are the text model\'s')
