"""Writes a Llama checkpoint of a real model's SHAPE with seeded random bf16 weights (GPU check only).

usage: make-shape-model.py SHAPE OUT_DIR TOKENIZER_DIR [SEED]
SHAPE: llama-3.2-1b | llama-3.1-8b (the configs' dimensions; weights are noise, std 0.02, norms 1).
Weights are drawn on the GPU when torch sees one (8B in seconds), then saved as one safetensors file per
layer group; tokenizer*.json are copied from TOKENIZER_DIR (a pagedllm llama3 test model).
"""
import json, os, shutil, sys, time

import torch
from safetensors.torch import save_file

SHAPES = {
    'llama-3.2-1b': dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                         num_key_value_heads=8, head_dim=64, tie_word_embeddings=True),
    'llama-3.1-8b': dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                         num_key_value_heads=8, head_dim=128, tie_word_embeddings=False),
}


def main():
    shape, out, tokenizer_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    dims = SHAPES[shape]
    config = dict(architectures=['LlamaForCausalLM'], model_type='llama', vocab_size=128256, rms_norm_eps=1e-5,
                  rope_theta=500000.0, max_position_embeddings=131072, torch_dtype='bfloat16', hidden_act='silu',
                  bos_token_id=128000, eos_token_id=128001, attention_bias=False, mlp_bias=False,
                  rope_scaling=dict(rope_type='llama3', factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                    original_max_position_embeddings=8192), **dims)
    os.makedirs(out, exist_ok=True)
    started = time.time()
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    generator = torch.Generator(device=device).manual_seed(seed)
    h, inter, d = dims['hidden_size'], dims['intermediate_size'], dims['head_dim']
    q, kv = dims['num_attention_heads'] * d, dims['num_key_value_heads'] * d

    def noise(*shape):
        return (torch.randn(*shape, generator=generator, device=device, dtype=torch.float32) * 0.02).to(torch.bfloat16).cpu()

    index, files = {}, []

    def flush(tensors, name):
        save_file(tensors, os.path.join(out, name), metadata={'format': 'pt'})
        index.update({key: name for key in tensors})
        files.append(name)

    ones = lambda n: torch.ones(n, dtype=torch.bfloat16)
    head = {'model.embed_tokens.weight': noise(config['vocab_size'], h), 'model.norm.weight': ones(h)}
    if not dims['tie_word_embeddings']:
        head['lm_head.weight'] = noise(config['vocab_size'], h)
    flush(head, 'model-head.safetensors')
    for layer in range(dims['num_hidden_layers']):
        p = f'model.layers.{layer}.'
        flush({p + 'input_layernorm.weight': ones(h), p + 'post_attention_layernorm.weight': ones(h),
               p + 'self_attn.q_proj.weight': noise(q, h), p + 'self_attn.k_proj.weight': noise(kv, h),
               p + 'self_attn.v_proj.weight': noise(kv, h), p + 'self_attn.o_proj.weight': noise(h, q),
               p + 'mlp.gate_proj.weight': noise(inter, h), p + 'mlp.up_proj.weight': noise(inter, h),
               p + 'mlp.down_proj.weight': noise(h, inter)}, f'model-layer{layer:03d}.safetensors')
    with open(os.path.join(out, 'model.safetensors.index.json'), 'w') as f:
        json.dump({'metadata': {}, 'weight_map': index}, f)
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=1)
    for name in os.listdir(tokenizer_dir):
        if name.startswith('tokenizer') or name == 'generation_config.json':
            shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out, name))
    print(f'{shape}: {len(files)} files in {time.time() - started:.1f} s ({device}): {out}', flush=True)


if __name__ == '__main__':
    main()
