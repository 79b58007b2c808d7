# The reverse of scripts/transformers-logit-diff.py: transformers builds and saves tiny checkpoints of every architecture
# pagedllm claims (its own config classes and defaults, random weights, a real tokenizer, config fields varied as real
# checkpoints set them), and pagedllm loads them. Per model: max |logit difference| over every position of three prompts
# (CPU backend, f32, vs transformers float32 eager), and 8 greedy tokens of `pagedllm generate` vs transformers' generate.
# A config pagedllm refuses is reported with its error. Run with a Python that has transformers, torch and gguf:
#   /work/venv-hf/bin/python scripts/hf-saved-crosscheck.py [--tokenizers DIR] [NAME_PREFIX ...]
# DIR holds llama.cpp's vocab-only ggml-vocab-gpt-2.gguf and ggml-vocab-llama-spm.gguf (default ../shared/tokenizers).
import argparse
import json
import pathlib
import subprocess
import tempfile

import numpy as np
import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXTS = ['The quick brown fox jumps over the lazy dog.', 'Paged attention keeps the cache in blocks',
         'Once upon a time, in a small village by the sea, there lived an old fisherman who told stories of ships, storms and stars to anyone who would listen.']
SIZES = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
CHATML = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
INST = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
MOE = dict(num_local_experts=4, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32)
LONGROPE = dict(rope_type='longrope', short_factor=[1.0 + 0.1 * i for i in range(8)], long_factor=[1.5 + 0.2 * i for i in range(8)], original_max_position_embeddings=64)
GPT2_SIZES = dict(n_embd=64, n_layer=2, n_head=4, n_inner=128)

# (name, model_type, tokenizer ('bpe' GPT-2 / 'spm' Llama), config overrides, save options)
VARIANTS = [
    ('llama', 'llama', 'spm', {}, {}),
    ('llama-bf16', 'llama', 'spm', {}, {'dtype': torch.bfloat16}),
    ('llama-sharded', 'llama', 'spm', {}, {'shard': '1MB'}),
    ('llama-tied', 'llama', 'spm', dict(tie_word_embeddings=True), {}),
    ('llama-attention-bias', 'llama', 'spm', dict(attention_bias=True), {}),
    ('llama-mlp-bias', 'llama', 'spm', dict(mlp_bias=True), {}),
    ('mistral-attention-bias', 'mistral', 'spm', dict(attention_bias=True), {}),
    ('phi3-attention-bias', 'phi3', 'spm', dict(attention_bias=True), {}),
    ('gemma2-attention-bias', 'gemma2', 'spm', dict(head_dim=16, attention_bias=True), {}),
    ('qwen3-moe-attention-bias', 'qwen3_moe', 'bpe', dict(MOE, attention_bias=True), {}),
    ('llama-head-dim-32', 'llama', 'spm', dict(head_dim=32), {}),
    ('llama-rope-linear', 'llama', 'spm', dict(rope_scaling=dict(rope_type='linear', factor=2.0)), {}),
    ('llama-rope-dynamic', 'llama', 'spm', dict(rope_scaling=dict(rope_type='dynamic', factor=2.0), max_position_embeddings=64), {}),
    ('llama-rope-llama3', 'llama', 'spm', dict(rope_scaling=dict(rope_type='llama3', factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=64)), {}),
    ('llama-rope-yarn', 'llama', 'spm', dict(rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=64)), {}),
    ('llama-rope-yarn-params', 'llama', 'spm', dict(rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=64, beta_fast=16.0, beta_slow=2.0, attention_factor=0.9)), {}),
    ('llama-rope-theta', 'llama', 'spm', dict(rope_theta=500000.0), {}),
    ('llama-torch-dtype-key', 'llama', 'spm', {}, {'dtype': torch.bfloat16, 'legacy_dtype_key': True}),
    ('llama-eps-odd', 'llama', 'spm', dict(rms_norm_eps=0.0123), {}),
    ('llama-vocab-padded', 'llama', 'spm', dict(vocab_size=32064), {}),
    ('mistral', 'mistral', 'spm', {}, {}),
    ('mistral-window-8', 'mistral', 'spm', dict(sliding_window=8), {}),
    ('mistral-window-null', 'mistral', 'spm', dict(sliding_window=None), {}),
    ('mistral-rope-yarn', 'mistral', 'spm', dict(rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=64)), {}),
    ('mistral-head-dim-32', 'mistral', 'spm', dict(head_dim=32), {}),
    ('qwen2', 'qwen2', 'bpe', {}, {}),
    ('qwen2-bf16', 'qwen2', 'bpe', {}, {'dtype': torch.bfloat16}),
    ('qwen2-window-off', 'qwen2', 'bpe', dict(sliding_window=8, use_sliding_window=False), {}),
    ('qwen2-window-on', 'qwen2', 'bpe', dict(sliding_window=8, use_sliding_window=True, max_window_layers=1), {}),
    ('qwen2-tied', 'qwen2', 'bpe', dict(tie_word_embeddings=True), {}),
    ('qwen2-rope-yarn', 'qwen2', 'bpe', dict(rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=64)), {}),
    ('qwen3', 'qwen3', 'bpe', {}, {}),
    ('qwen3-sharded', 'qwen3', 'bpe', {}, {'shard': '1MB'}),
    ('qwen3-head-dim-32', 'qwen3', 'bpe', dict(head_dim=32), {}),
    ('qwen3-bias', 'qwen3', 'bpe', dict(attention_bias=True), {}),
    ('qwen3-tied', 'qwen3', 'bpe', dict(tie_word_embeddings=True), {}),
    ('qwen3-window-on', 'qwen3', 'bpe', dict(sliding_window=8, use_sliding_window=True, max_window_layers=1), {}),
    ('qwen3-layer-types', 'qwen3', 'bpe', dict(sliding_window=8, use_sliding_window=True, layer_types=['sliding_attention', 'full_attention']), {}),
    ('gemma', 'gemma', 'spm', {}, {}),
    ('gemma-head-dim-16', 'gemma', 'spm', dict(head_dim=16), {}),
    ('gemma-bf16', 'gemma', 'spm', dict(head_dim=16), {'dtype': torch.bfloat16}),
    ('gemma-untied', 'gemma', 'spm', dict(head_dim=16, tie_word_embeddings=False), {}),
    ('gemma2', 'gemma2', 'spm', dict(head_dim=16), {}),
    ('gemma2-bf16', 'gemma2', 'spm', dict(head_dim=16), {'dtype': torch.bfloat16}),
    ('gemma2-window-8', 'gemma2', 'spm', dict(head_dim=16, sliding_window=8), {}),
    ('gemma2-no-softcap', 'gemma2', 'spm', dict(head_dim=16, attn_logit_softcapping=None, final_logit_softcapping=None), {}),
    ('gemma2-scalar-16', 'gemma2', 'spm', dict(head_dim=16, query_pre_attn_scalar=16, final_logit_softcapping=5.0), {}),
    ('gemma3', 'gemma3_text', 'spm', dict(head_dim=16), {}),
    ('gemma3-window-8', 'gemma3_text', 'spm', dict(head_dim=16, sliding_window=8, layer_types=['sliding_attention', 'full_attention']), {}),
    ('gemma3-rope-linear', 'gemma3_text', 'spm', dict(head_dim=16, rope_scaling=dict(rope_type='linear', factor=8.0)), {}),
    ('phi3', 'phi3', 'spm', {}, {}),
    ('phi3-window-8', 'phi3', 'spm', dict(sliding_window=8), {}),
    ('phi3-longrope', 'phi3', 'spm', dict(rope_scaling=LONGROPE, max_position_embeddings=256, original_max_position_embeddings=64), {}),
    ('phi3-partial-rotary', 'phi3', 'spm', dict(partial_rotary_factor=0.5), {}),
    ('phi3-partial-rotary-longrope', 'phi3', 'spm', dict(partial_rotary_factor=0.75, rope_scaling=dict(LONGROPE, short_factor=LONGROPE['short_factor'][:6], long_factor=LONGROPE['long_factor'][:6]), max_position_embeddings=256, original_max_position_embeddings=64), {}),
    ('llama-partial-rotary', 'llama', 'spm', dict(partial_rotary_factor=0.5), {}),
    ('llama-partial-rotary-yarn', 'llama', 'spm', dict(partial_rotary_factor=0.5, rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=64)), {}),
    ('mixtral', 'mixtral', 'spm', MOE, {}),
    ('mixtral-window-8', 'mixtral', 'spm', dict(MOE, sliding_window=8), {}),
    ('mixtral-sharded', 'mixtral', 'spm', MOE, {'shard': '1MB'}),
    ('qwen2-moe', 'qwen2_moe', 'bpe', dict(MOE, shared_expert_intermediate_size=64), {}),
    ('qwen2-moe-sparse-step', 'qwen2_moe', 'bpe', dict(MOE, shared_expert_intermediate_size=64, decoder_sparse_step=2), {}),
    ('qwen2-moe-mlp-only', 'qwen2_moe', 'bpe', dict(MOE, shared_expert_intermediate_size=64, mlp_only_layers=[0]), {}),
    ('qwen3-moe', 'qwen3_moe', 'bpe', MOE, {}),
    ('qwen3-moe-norm-topk', 'qwen3_moe', 'bpe', dict(MOE, norm_topk_prob=True), {}),
    ('olmoe', 'olmoe', 'bpe', MOE, {}),
    ('phimoe', 'phimoe', 'spm', dict(MOE, attention_bias=True, lm_head_bias=True, router_jitter_noise=0.2), {}),
    ('phimoe-window-8', 'phimoe', 'spm', dict(MOE, sliding_window=8), {}),
    ('phimoe-longrope', 'phimoe', 'spm', dict(MOE, rope_scaling=dict(LONGROPE, short_mscale=1.2, long_mscale=1.3), max_position_embeddings=256, original_max_position_embeddings=64), {}),
    ('granitemoe', 'granitemoe', 'bpe', dict(MOE, embedding_multiplier=3.0, residual_multiplier=0.5, attention_multiplier=0.2, logits_scaling=4.0), {}),
    ('granite', 'granite', 'bpe', dict(embedding_multiplier=3.0, residual_multiplier=0.5, attention_multiplier=0.2, logits_scaling=4.0), {}),
    ('granite-mlp-bias', 'granite', 'bpe', dict(mlp_bias=True, residual_multiplier=0.5, logits_scaling=4.0), {}),
    ('olmo', 'olmo', 'bpe', {}, {}),
    ('olmo-clip-qkv', 'olmo', 'bpe', dict(clip_qkv=0.5), {}),
    ('olmo2-eps-odd', 'olmo2', 'bpe', dict(rms_norm_eps=0.0123), {}),
    ('olmo2', 'olmo2', 'bpe', {}, {}),
    ('smollm3', 'smollm3', 'bpe', {}, {}),
    ('smollm3-untied', 'smollm3', 'bpe', dict(tie_word_embeddings=False), {}),
    ('smollm3-mlp-bias', 'smollm3', 'bpe', dict(mlp_bias=True), {}),
    ('smollm3-nope-all', 'smollm3', 'bpe', dict(no_rope_layers=[1, 0]), {}),
    ('cohere', 'cohere', 'bpe', dict(logit_scale=0.5), {}),
    ('cohere-qk-norm', 'cohere', 'bpe', dict(use_qk_norm=True), {}),
    ('opt', 'opt', 'bpe', dict(hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4), {}),
    ('opt-post-ln', 'opt', 'bpe', dict(hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4, do_layer_norm_before=False), {}),
    ('opt-proj-dim', 'opt', 'bpe', dict(hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4, word_embed_proj_dim=32), {}),
    ('gpt-neox', 'gpt_neox', 'bpe', dict(SIZES, num_key_value_heads=4), {}),
    ('gpt-neox-rope-linear', 'gpt_neox', 'bpe', dict(SIZES, num_key_value_heads=4, rope_scaling=dict(rope_type='linear', factor=2.0)), {}),
    ('gpt-neox-serial', 'gpt_neox', 'bpe', dict(SIZES, num_key_value_heads=4, use_parallel_residual=False, rotary_pct=0.5), {}),
    ('gpt2', 'gpt2', 'bpe', GPT2_SIZES, {}),
    ('gpt2-sharded', 'gpt2', 'bpe', GPT2_SIZES, {'shard': '1MB'}),
    ('gpt2-inverse-layer-idx', 'gpt2', 'bpe', dict(GPT2_SIZES, scale_attn_by_inverse_layer_idx=True), {}),
    ('gpt2-upcast', 'gpt2', 'bpe', dict(GPT2_SIZES, reorder_and_upcast_attn=True), {}),
    ('gpt2-unscaled', 'gpt2', 'bpe', dict(GPT2_SIZES, scale_attn_weights=False), {}),
    ('gpt2-bf16', 'gpt2', 'bpe', GPT2_SIZES, {'dtype': torch.bfloat16}),
    ('phi', 'phi', 'bpe', dict(SIZES, num_key_value_heads=4), {}),
    ('phi-rope-linear', 'phi', 'bpe', dict(SIZES, num_key_value_heads=4, rope_scaling=dict(rope_type='linear', factor=2.0)), {}),
    ('phi-qk-layernorm', 'phi', 'bpe', dict(SIZES, num_key_value_heads=4, qk_layernorm=True, partial_rotary_factor=0.25), {}),
    ('stablelm', 'stablelm', 'bpe', SIZES, {}),
    ('stablelm-parallel', 'stablelm', 'bpe', dict(SIZES, use_parallel_residual=True, qk_layernorm=True, use_qkv_bias=True), {}),
    ('starcoder2', 'starcoder2', 'bpe', SIZES, {}),
    ('starcoder2-no-bias', 'starcoder2', 'bpe', dict(SIZES, use_bias=False), {}),
    ('starcoder2-window-8', 'starcoder2', 'bpe', dict(SIZES, sliding_window=8), {}),
    ('gptj', 'gptj', 'bpe', dict(GPT2_SIZES, rotary_dim=8), {}),
    ('gpt-bigcode', 'gpt_bigcode', 'bpe', GPT2_SIZES, {}),
    ('gpt-bigcode-mha', 'gpt_bigcode', 'bpe', dict(GPT2_SIZES, multi_query=False), {}),
    # The families merged in the hf-families-b / -ln / gemma3n / zamba rounds (Emu3's text model has no Auto class of its own).
    ('hyperclovax', 'hyperclovax', 'bpe', dict(embedding_multiplier=1.75, residual_multiplier=0.625, logits_scaling=1.5), {}),
    ('youtu', 'youtu', 'bpe', dict(num_key_value_heads=4, q_lora_rank=24, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=12), {}),
    ('granitemoe-swa', 'granitemoe_swa', 'bpe', dict(MOE, num_hidden_layers=4, sliding_window=8, shared_intermediate_size=32), {}),
    ('hy-v3', 'hy_v3', 'bpe', dict(MOE, num_hidden_layers=3), {}),
    ('mellum', 'mellum', 'bpe', dict(MOE, num_hidden_layers=3, sliding_window=8), {}),
    ('aria-text', 'aria_text', 'bpe', dict(moe_num_experts=4, moe_topk=2, moe_num_shared_experts=1), {}),
    ('axk1', 'axk1', 'bpe', dict(num_hidden_layers=3, num_key_value_heads=4, q_lora_rank=24, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=12,
                                 n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=24, n_group=2, topk_group=1), {}),
    ('gemma3n', 'gemma3n_text', 'spm', dict(num_hidden_layers=5, head_dim=16, sliding_window=8, num_kv_shared_layers=2, hidden_size_per_layer_input=8, laurel_rank=8,
                                           layer_types=['sliding_attention', 'sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'],
                                           activation_sparsity_pattern=[0.95, 0.9, 0.0, 0.0, 0.0]), {}),
    ('zamba', 'zamba', 'spm', dict(num_hidden_layers=5, attn_layer_period=2, attn_layer_offset=1, mamba_d_state=8), {}),
    ('persimmon', 'persimmon', 'bpe', dict(SIZES, num_key_value_heads=4), {}),
    ('biogpt', 'biogpt', 'bpe', dict(SIZES, num_key_value_heads=4), {}),
    ('codegen', 'codegen', 'bpe', dict(GPT2_SIZES, n_head=8, rotary_dim=4), {}),
    ('xglm', 'xglm', 'bpe', dict(d_model=64, ffn_dim=128, num_layers=2, attention_heads=4), {}),
    ('openai-gpt', 'openai-gpt', 'bpe', dict(n_embd=64, n_layer=2, n_head=4), {}),
]
for _, model_type, _, overrides, _ in VARIANTS:  # the RMSNorm families all take the Llama-style sizes
    if model_type not in ('opt', 'gpt2', 'gptj', 'gpt_bigcode', 'codegen', 'xglm', 'openai-gpt') and 'hidden_size' not in overrides:
        overrides.update({k: v for k, v in SIZES.items() if k not in overrides})


def tokenizer_for(kind, tokenizers):
    gguf = {'bpe': 'ggml-vocab-gpt-2.gguf', 'spm': 'ggml-vocab-llama-spm.gguf'}[kind]
    tok = transformers.AutoTokenizer.from_pretrained(tokenizers, gguf_file=gguf)
    tok.chat_template = CHATML if kind == 'bpe' else INST
    return tok


def randomize(model, seed):
    """Weights large enough that logits are far from flat: matrices ~ N(0, 1/fan_in), norms 1 + N(0, 0.1), biases N(0, 0.1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
            elif name.endswith('bias'):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))


def build(name, model_type, tok, overrides, options, out):
    config = transformers.AutoConfig.for_model(model_type, vocab_size=overrides.pop('vocab_size', len(tok)), **overrides)
    if (getattr(config, 'pad_token_id', None) or 0) >= config.vocab_size:  # a class default past our vocabulary: transformers cannot build it
        config.pad_token_id = None
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    randomize(model, 0)
    model.tie_weights()
    dtype = options.get('dtype', torch.float32)
    model.to(dtype)
    model.config.dtype = dtype
    model.save_pretrained(out, max_shard_size=options.get('shard', '5GB'))
    if options.get('legacy_dtype_key'):  # transformers 4 wrote torch_dtype
        config_path = out / 'config.json'
        saved = json.loads(config_path.read_text())
        saved['torch_dtype'] = saved.pop('dtype')
        config_path.write_text(json.dumps(saved, indent=2))
    tok.save_pretrained(out)


def reference(out, tok):
    model = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation='eager').eval()
    prompts = [tok(text).input_ids for text in TEXTS]
    with torch.no_grad():
        logits = torch.cat([model(torch.tensor([p])).logits[0] for p in prompts])
        chat = tok.apply_chat_template([{'role': 'user', 'content': TEXTS[1]}], add_generation_prompt=True, tokenize=True, return_dict=False)
        greedy = [model.generate(torch.tensor([p]), max_new_tokens=8, min_new_tokens=8, do_sample=False, pad_token_id=0)[0, len(p):].tolist() for p in [*prompts, chat]]
    return prompts + [chat], logits, greedy


def pagedllm_greedy(out):
    """(prompt ids, 8 greedy ids) of `pagedllm generate` for TEXTS, then for the second as a chat, or (None, its error)."""
    results = []
    for extra, texts in (([], TEXTS), (['--chat'], TEXTS[1:2])):
        cmd = ['node', 'bin/run.js', 'generate', '--model', str(out), '--max-tokens', '8', '--temperature', '0', '--ignore-eos', '--dtype', 'f32', '--json', *extra, *texts]
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if run.returncode != 0:
            return None, run.stderr.strip().splitlines()[-1] if run.stderr.strip() else f'exit {run.returncode}'
        results += [(r['prompt_token_ids'], r['outputs'][0]['token_ids']) for r in json.loads(run.stdout)]
    return results, None



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--tokenizers', default=str(ROOT.parent / 'shared' / 'tokenizers'))
    parser.add_argument('names', nargs='*')
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix='pagedllm-hf-saved-'))
    tokenizers = {kind: tokenizer_for(kind, args.tokenizers) for kind in ('bpe', 'spm')}
    chosen = [v for v in VARIANTS if not args.names or any(v[0].startswith(n) for n in args.names)]
    refs, manifest = {}, []
    for name, model_type, kind, overrides, options in chosen:
        out = work / name
        try:
            build(name, model_type, tokenizers[kind], dict(overrides), options, out)
            refs[name] = reference(out, tokenizers[kind])
            manifest.append({'dir': str(out), 'prompts': refs[name][0][:len(TEXTS)]})
        except Exception as error:  # a variation transformers itself cannot build is reported, not fatal
            print(f'{name}: transformers failed: {type(error).__name__}: {str(error).splitlines()[0]}')
    (work / 'manifest.json').write_text(json.dumps(manifest))
    run = subprocess.run(['npx', 'tsx', 'scripts/hf-saved-crosscheck.ts', str(work / 'manifest.json')], cwd=ROOT, capture_output=True, text=True, check=True)
    loads = {pathlib.Path(r['dir']).name: r for r in map(json.loads, run.stdout.splitlines())}
    failures = 0
    for name in refs:
        prompts, theirs, greedy = refs[name]
        load = loads[name]
        if not load['ok']:
            print(f'{name}: REFUSED at load: {load["error"]}')
            continue
        ours = torch.from_numpy(np.fromfile(work / name / 'pagedllm-logits.f32', dtype=np.float32)).view(-1, load['vocab'])
        diff = (ours[:, :theirs.shape[1]] - theirs).abs().max().item()
        cli, error = pagedllm_greedy(work / name)
        same_prompts = cli is not None and [c[0] for c in cli] == prompts
        agree = cli is not None and [c[1] for c in cli] == greedy
        ok = diff < 1e-3 and same_prompts and agree
        failures += not ok
        status = f'greedy {"agrees" if agree else "DIFFERS"}' if cli is not None else f'generate failed: {error}'
        tokens = '' if same_prompts or cli is None else ' PROMPT TOKENS DIFFER'
        print(f'{"ok  " if ok else "FAIL"} {name}: max |logit diff| {diff:.2e} (max |logit| {theirs.abs().max().item():.2f}), {status}{tokens}')
    print(f'{len(refs)} models, {failures} failing; files in {work}')


if __name__ == '__main__':
    main()
