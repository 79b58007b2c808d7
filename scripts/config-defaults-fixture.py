# Writes test/fixtures/config-defaults-transformers.json: for each architecture pagedllm reads, what transformers' config
# class makes of a config.json holding only the sizes (test/config-defaults.test.ts holds the parser to it). Run with a
# Python that has transformers:
#   /work/venv-hf/bin/python scripts/config-defaults-fixture.py ARCH [ARCH ...]   (the architectures list: architectures.ts)
import json
import pathlib
import sys

import transformers
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

OUT = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'config-defaults-transformers.json'
SIZES = {'vocab_size': 1000, 'hidden_size': 5120, 'intermediate_size': 32, 'num_hidden_layers': 4, 'num_attention_heads': 640}  # heads: a multiple of every default kv head count
MODEL_TYPES = {arch: model_type for model_type, arch in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.items() if isinstance(arch, str)}


def read(config, key):
    try:
        return getattr(config, key, None)
    except Exception:  # Gemma 4's per-layer head_dim: the test reads only the keys every layer shares
        return None


def first(config, *keys):
    for key in keys:
        value = read(config, key)
        if value is not None:
            return value
    return None


defaults = {}
for arch in sys.argv[1:]:
    # A causal LM the auto class does not list (Mistral4ForCausalLM in 5.18): its own class's config type.
    model_type = MODEL_TYPES.get(arch) or getattr(getattr(getattr(transformers, arch, None), 'config_class', None), 'model_type', None)
    if model_type is None:
        continue
    try:
        config = transformers.AutoConfig.for_model(model_type, **SIZES)
    except Exception as error:  # classes that validate sizes against others (Mamba2's heads): left to their own tests
        print(f'{arch}: skipped ({type(error).__name__})')
        continue
    text = config.get_text_config()
    rope = getattr(text, 'rope_parameters', None) or {}
    rope = rope.get('full_attention', rope) if isinstance(rope.get('full_attention'), dict) else rope
    defaults[arch] = {
        'norm_eps': first(text, 'rms_norm_eps', 'layer_norm_eps', 'norm_eps', 'layer_norm_epsilon'),
        'rope_theta': rope.get('rope_theta', getattr(text, 'rope_theta', None)),
        'rope_type': rope.get('rope_type', 'default'),
        'max_position_embeddings': getattr(text, 'max_position_embeddings', None),
        'tie_word_embeddings': getattr(config, 'tie_word_embeddings', None),
        'num_key_value_heads': getattr(text, 'num_key_value_heads', None),
        'head_dim': read(text, 'head_dim'),
    }
OUT.write_text(json.dumps({'transformers': transformers.__version__, 'sizes': SIZES, 'defaults': defaults}, indent=1) + '\n')
print(f'wrote {OUT} ({len(defaults)} architectures)')
