# Writes test/fixtures/<name>-transformers/: a tiny checkpoint transformers 5.18 built and saved itself (bf16, a few KB)
# and expected.json with its float32 eager top-10 last-position logits and 8 greedy tokens per prompt, for
# test/transformers-saved-checkpoints.test.ts (which runs without Python). The tokenizer is the tiny llama test model's
# (512 ids), copied beside the weights by the test. Run: /work/venv-hf/bin/python scripts/saved-checkpoint-fixtures.py
import json
import pathlib
import sys

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIZES = dict(vocab_size=512, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
             bos_token_id=1, eos_token_id=4, pad_token_id=None, tie_word_embeddings=True)
FIXTURES = {
    # Phi-4-mini's shape in small: 0.75 of each 8-value head rotated, LongRoPE factors for the 6 rotated values.
    'phi3-partial-rotary-longrope': ('phi3', dict(num_attention_heads=2, num_key_value_heads=2, partial_rotary_factor=0.75, max_position_embeddings=256, original_max_position_embeddings=64,
                                                  rope_scaling=dict(rope_type='longrope', short_factor=[1.0 + 0.5 * i for i in range(3)],
                                                                    long_factor=[2.0 + 0.5 * i for i in range(3)], original_max_position_embeddings=64))),
    'llama-mlp-bias': ('llama', dict(num_attention_heads=2, num_key_value_heads=1, mlp_bias=True)),
    # Rope scaling on the LayerNorm family, over the rotated values only: GPT-NeoX linear on half of each 8-value head,
    # Phi yarn (its ramp and attention factor) on half of one 16-value head.
    'gpt-neox-linear-rope': ('gpt_neox', dict(num_attention_heads=2, rotary_pct=0.5, rope_scaling=dict(rope_type='linear', factor=3.0))),
    'phi-yarn-rope': ('phi', dict(num_attention_heads=1, max_position_embeddings=64, rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=16))),
    # Gated MLPs with the activations a config may name besides silu / gelu_pytorch_tanh (scripts/hf-config-sweep.py found them refused or approximated).
    'llama-act-relu': ('llama', dict(num_attention_heads=2, num_key_value_heads=1, hidden_act='relu')),
    'granite-attention-bias': ('granite', dict(num_attention_heads=2, num_key_value_heads=1, attention_bias=True, embedding_multiplier=3.0, residual_multiplier=0.5,
                                               attention_multiplier=0.2, logits_scaling=4.0)),
    # Cohere's q/k rows and now their biases reordered at load for its interleaved rope (scripts/hf-config-sweep.py: refused before).
    'cohere-attention-bias': ('cohere', dict(num_attention_heads=2, num_key_value_heads=1, attention_bias=True, logit_scale=0.5)),
    # Command R+'s use_qk_norm: a LayerNorm (mean subtracted, no bias) of each q and k head with its own [head_dim] weights, before rope.
    'cohere-qk-norm': ('cohere', dict(num_attention_heads=2, num_key_value_heads=1, use_qk_norm=True, logit_scale=0.5)),
    'cohere2-attention-bias': ('cohere2', dict(num_attention_heads=2, num_key_value_heads=1, attention_bias=True, logit_scale=0.5, sliding_window=4,
                                               layer_types=['sliding_attention', 'full_attention'])),
    'gemma2-act-gelu': ('gemma2', dict(num_attention_heads=2, num_key_value_heads=1, head_dim=8, hidden_activation='gelu')),
    # ALiBi's models as their own classes save them (tied heads, BLOOM's un-prefixed-by-default names, Falcon's ln_attn / ln_mlp).
    'bloom-tied': ('bloom', dict(num_attention_heads=2)),
    'falcon-new-decoder': ('falcon', dict(num_attention_heads=4, new_decoder_architecture=True, num_kv_heads=2, bias=True)),
    'mpt-clip-qkv': ('mpt', dict(num_attention_heads=2, attn_config=dict(clip_qkv=0.5))),
    # PyTorch's .bin as transformers 4 wrote it (torch.save of the state dict; the tied lm_head shares the embedding's storage), fp16.
    'llama-tied-bin': ('llama', dict(num_attention_heads=2, num_key_value_heads=1), torch.float16),
}
PROMPTS = [[1, 77, 333, 116, 280, 275, 113, 105, 49, 261, 109], [1, 5, 400, 22, 22, 301]]


def randomize(model):
    """Matrices ~ N(0, 1/fan_in), norms 1 + N(0, 0.1), biases N(0, 0.3): logits far from flat, biases that matter."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and not name.endswith('norm.weight'):  # Cohere's q/k norms are [heads, head_dim]
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
            else:
                p.copy_((0.3 if name.endswith('bias') else 0.1) * torch.randn(p.shape, generator=g) + (0 if name.endswith('bias') else 1))


def write(name, model_type, overrides, torch_bin_dtype=None):
    out = ROOT / 'test' / 'fixtures' / f'{name}-transformers'
    config = transformers.AutoConfig.for_model(model_type, **SIZES, **overrides)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    randomize(model)
    model.tie_weights()
    dtype = torch_bin_dtype or torch.bfloat16
    model.to(dtype)
    model.config.dtype = dtype
    model.save_pretrained(out)
    if torch_bin_dtype is None:
        (out / 'model.safetensors').chmod(0o644)
    else:
        (out / 'model.safetensors').unlink()
        torch.save(model.state_dict(), out / 'pytorch_model.bin')
    saved = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation='eager').eval()
    prompts = []
    with torch.no_grad():
        for ids in PROMPTS:
            last = saved(torch.tensor([ids])).logits[0, -1]
            top = torch.topk(last, 10)
            # Argmax by hand: generate's min_new_tokens would hide EOS, which the engine's ignore_eos still picks.
            greedy = list(ids)
            for _ in range(8):
                greedy.append(int(saved(torch.tensor([greedy])).logits[0, -1].argmax()))
            greedy = torch.tensor(greedy[len(ids):])
            prompts.append({'prompt_token_ids': ids, 'last_position_top10': {'ids': top.indices.tolist(), 'logits': top.values.tolist()},
                            'greedy_token_ids': greedy.tolist()})
    (out / 'generation_config.json').unlink(missing_ok=True)
    expected = {'transformers': transformers.__version__, 'torch': torch.__version__, 'prompts': prompts}
    (out / 'expected.json').write_text(json.dumps(expected, indent=1) + '\n')
    print(name, 'written to', out)


if __name__ == '__main__':
    for name in sys.argv[1:] or FIXTURES:
        write(name, *FIXTURES[name])
