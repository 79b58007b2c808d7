# Runs a tiny test model in transformers (float32) and writes test/fixtures/<variant>-tiny-transformers.json: each
# prompt's last-position top-10 logits and 8 greedy tokens, which the tests hold pagedllm to (qwen-models.test.ts,
# model-architectures.test.ts). Run with a Python that has transformers and torch:
#   node bin/run.js make-test-model --preset tiny --variant qwen3 --out /tmp/tiny-qwen3
#   /work/venv-hf/bin/python scripts/transformers-fixture.py /tmp/tiny-qwen3 qwen3 [--windowed]
import json
import pathlib
import sys

import torch
import transformers

PROMPTS = [[1, 77, 333, 116, 280, 275, 113, 105, 49, 261, 109], [1, 400, 401, 7, 12], [1] + [5 + (37 * i) % 500 for i in range(40)]]
variant = sys.argv[2]
OUT = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / f'{variant}-tiny-transformers.json'

# Eager attention: transformers' sdpa path drops Gemma 2's attention soft-capping (vLLM and the eager path apply it).
# Falcon-RW (ALiBi) the other way: its eager path adds the bias twice (once in the mask), its default sdpa path once.
attention = 'sdpa' if variant == 'falcon-rw' else 'eager'
# A vision-language checkpoint (Mistral3, Llava, Qwen2-VL, ...) loads through its own auto class; its language model's
# tensors must all load (the vision tower's, absent from the test checkpoint, are initialised and never used for text).
config = transformers.AutoConfig.from_pretrained(sys.argv[1])
multimodal = hasattr(config, 'text_config') and hasattr(config, 'vision_config')
# A causal LM its auto class does not list (Mistral4ForCausalLM in 5.18) loads through the class config.json names.
causal = transformers.AutoModelForCausalLM if type(config) in transformers.MODEL_FOR_CAUSAL_LM_MAPPING else getattr(transformers, config.architectures[0])
auto = transformers.AutoModelForImageTextToText if multimodal else causal
model, info = auto.from_pretrained(sys.argv[1], dtype=torch.float32, attn_implementation=attention, output_loading_info=True)
model.eval()
unloaded = [k for k in info['missing_keys'] if 'vision' not in k and 'visual' not in k and 'projector' not in k and 'image_newline' not in k]
assert not multimodal or (not unloaded and not info['unexpected_keys']), (unloaded, info['unexpected_keys'])
prompts = []
with torch.no_grad():
    for prompt in PROMPTS:
        ids = torch.tensor([prompt])
        last = model(ids).logits[0, -1].double()
        top = torch.topk(last, 10)
        greedy = model.generate(ids, max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0)[0, len(prompt):]
        prompts.append({
            'prompt_token_ids': prompt,
            'last_position_top10': {'ids': top.indices.tolist(), 'logits': top.values.tolist()},
            'greedy_token_ids': greedy.tolist(),
        })
# --windowed: also the greedy tokens of test/support/windowed-engine-check.ts's prompts (its PROMPTS and MAX_TOKENS), for
# a model the float64 reference does not cover (gptoss), so the paged-engine check holds it to transformers instead.
WINDOWED_PREFIX = [1 + (i * 53) % 400 for i in range(30)]
WINDOWED_PROMPTS = [WINDOWED_PREFIX + [7, 8, 9], WINDOWED_PREFIX + [11], WINDOWED_PREFIX + [13, 14, 15, 16, 17], [2 + (i * 29) % 450 for i in range(45)], [3, 4, 5]]
windowed = []
if '--windowed' in sys.argv[3:]:
    with torch.no_grad():
        for prompt in WINDOWED_PROMPTS:
            ids = torch.tensor([prompt])
            windowed.append(model.generate(ids, max_new_tokens=20, do_sample=False, eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist())
fixture = {'model': f'make-test-model --preset tiny --variant {variant} (seed 0, F32)', 'transformers': transformers.__version__, 'torch': torch.__version__, 'prompts': prompts, **({'windowed_greedy_token_ids': windowed} if windowed else {})}
OUT.write_text(json.dumps(fixture, indent=1) + '\n')
print(f'wrote {OUT}')
