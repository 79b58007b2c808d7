# Configuration sweep: for every architecture pagedllm loads, transformers builds tiny random checkpoints over the
# configuration axes real checkpoints vary (head_dim apart from hidden / heads, GQA ratios, tied or untied heads, rope
# bases and every rope_scaling type, sliding windows, biases, odd vocab sizes, small max_position_embeddings, an EOS
# list without BOS, eps, activations, 1 and 3 layers, bf16 / float16 and the legacy torch_dtype key), saves them, and
# pagedllm loads each one: max |logit difference| over every position of three prompts relative to the largest logit
# (CPU backend f32 vs transformers float32 eager), greedy tokens (engine, ignore EOS, vs transformers' argmax), and the
# prompts' token ids from the model directory's tokenizer. A load pagedllm refuses is reported with its error, a config
# transformers cannot build is skipped. Builds, saving and the comparisons are scripts/hf-saved-crosscheck.py's.
#   /work/venv-hf/bin/python scripts/hf-config-sweep.py [--tokenizers DIR] [--greedy N] [ARCH[:AXIS] ...]
# One model at a time in Python, then one node process for all of them (the machine may be shared).
import argparse
import importlib.util
import json
import pathlib
import subprocess
import tempfile

import numpy as np
import torch
import transformers

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location('hf_saved_crosscheck', ROOT / 'scripts' / 'hf-saved-crosscheck.py')
crosscheck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crosscheck)
SIZES, GPT2_SIZES, MOE, TEXTS = crosscheck.SIZES, crosscheck.GPT2_SIZES, crosscheck.MOE, crosscheck.TEXTS


def longrope(rotary_dims):
    half = rotary_dims // 2
    return dict(rope_type='longrope', short_factor=[1.0 + 0.1 * i for i in range(half)], long_factor=[1.5 + 0.2 * i for i in range(half)],
                original_max_position_embeddings=64)


# Axis name -> config overrides (given the architecture's head size for longrope); applied over each architecture's base.
AXES = {
    'base': lambda hd: {},
    'bf16': lambda hd: {},
    'float16': lambda hd: {},
    'torch-dtype-key': lambda hd: {},
    'layers-1': lambda hd: dict(num_hidden_layers=1),
    'layers-3': lambda hd: dict(num_hidden_layers=3),
    'gqa-1': lambda hd: dict(num_key_value_heads=4),
    'gqa-2': lambda hd: dict(num_key_value_heads=2),
    'gqa-all-to-one': lambda hd: dict(num_key_value_heads=1),
    'head-dim-24': lambda hd: dict(head_dim=24),
    'tied': lambda hd: dict(tie_word_embeddings=True),
    'untied': lambda hd: dict(tie_word_embeddings=False),
    'rope-theta': lambda hd: dict(rope_theta=31337.0),
    'rope-linear': lambda hd: dict(rope_scaling=dict(rope_type='linear', factor=3.0)),
    # Within max_position_embeddings (the engine's context limit) dynamic NTK is the unscaled rope in transformers too.
    'rope-dynamic': lambda hd: dict(rope_scaling=dict(rope_type='dynamic', factor=2.5), max_position_embeddings=64),
    'rope-yarn': lambda hd: dict(rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=16), max_position_embeddings=64),
    'rope-llama3': lambda hd: dict(rope_scaling=dict(rope_type='llama3', factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=16)),
    # Within original_max_position_embeddings, where the engine caps a longrope context (short_factor, exact there).
    'rope-longrope': lambda hd: dict(rope_scaling=longrope(hd), max_position_embeddings=128, original_max_position_embeddings=64),
    'window-5': lambda hd: dict(sliding_window=5, use_sliding_window=True, max_window_layers=0),
    'attention-bias': lambda hd: dict(attention_bias=True),
    'mlp-bias': lambda hd: dict(mlp_bias=True),
    'vocab-odd': lambda hd: dict(vocab_size='+13'),
    'max-positions-64': lambda hd: dict(max_position_embeddings=64),
    'eos-list-no-bos': lambda hd: dict(eos_token_id=[2, 7], bos_token_id=None, pad_token_id=3),
    'eps': lambda hd: dict(rms_norm_eps=0.0137, layer_norm_eps=0.0137, layer_norm_epsilon=0.0137, norm_epsilon=0.0137),
    'act-gelu': lambda hd: dict(hidden_act='gelu', hidden_activation='gelu', activation_function='gelu'),
    'act-gelu-tanh': lambda hd: dict(hidden_act='gelu_pytorch_tanh', hidden_activation='gelu_pytorch_tanh', activation_function='gelu_pytorch_tanh'),
    'act-relu': lambda hd: dict(hidden_act='relu', hidden_activation='relu', activation_function='relu'),
    'act-gelu-new': lambda hd: dict(hidden_act='gelu_new', hidden_activation='gelu_new', activation_function='gelu_new'),
    'act-silu': lambda hd: dict(hidden_act='silu', hidden_activation='silu', activation_function='silu'),
}
SAVE = {'bf16': {'dtype': torch.bfloat16}, 'float16': {'dtype': torch.float16}, 'torch-dtype-key': {'dtype': torch.bfloat16, 'legacy_dtype_key': True}}
RMS_AXES = list(AXES)
# The axes most likely to differ, for the less common architectures (the whole list takes ~10 s a variant on 2 cores).
SHORT_AXES = ['base', 'bf16', 'layers-1', 'layers-3', 'gqa-all-to-one', 'head-dim-24', 'tied', 'untied', 'rope-linear', 'rope-yarn',
              'rope-llama3', 'window-5', 'attention-bias', 'vocab-odd', 'eos-list-no-bos', 'eps', 'act-gelu-tanh', 'act-gelu']
LN_AXES = ['base', 'bf16', 'torch-dtype-key', 'layers-1', 'layers-3', 'tied', 'untied', 'vocab-odd', 'max-positions-64', 'eos-list-no-bos', 'eps',
           'act-gelu', 'act-relu', 'act-gelu-tanh', 'act-silu']
# Phi3Config and PhimoeConfig take longrope alone.
LONGROPE_AXES = [a for a in RMS_AXES if not a.startswith('rope-') or a in ('rope-theta', 'rope-longrope')]
ROTARY_AXES = ['rope-theta', 'rope-linear', 'rope-dynamic', 'rope-yarn', 'rope-llama3', 'rope-longrope']

# model_type -> (tokenizer kind, base overrides, axes, rotated values per head: longrope's factors cover them)
ARCHS = {
    'llama': ('spm', {}, RMS_AXES, 16),
    'mistral': ('spm', {}, RMS_AXES, 16),
    'qwen2': ('bpe', {}, RMS_AXES, 16),
    'qwen3': ('bpe', {}, RMS_AXES, 16),
    'gemma': ('spm', dict(head_dim=16), SHORT_AXES, 16),
    'gemma2': ('spm', dict(head_dim=16), RMS_AXES, 16),
    'gemma3_text': ('spm', dict(head_dim=16), RMS_AXES, 16),
    'phi3': ('spm', {}, LONGROPE_AXES, 16),
    'mixtral': ('spm', MOE, SHORT_AXES, 16),
    'qwen2_moe': ('bpe', dict(MOE, shared_expert_intermediate_size=64), SHORT_AXES, 16),
    'qwen3_moe': ('bpe', MOE, SHORT_AXES, 16),
    'olmoe': ('bpe', MOE, SHORT_AXES, 16),
    'phimoe': ('spm', MOE, LONGROPE_AXES, 16),
    'granite': ('bpe', dict(embedding_multiplier=3.0, residual_multiplier=0.5, attention_multiplier=0.2, logits_scaling=4.0), SHORT_AXES, 16),
    'granitemoe': ('bpe', dict(MOE, embedding_multiplier=3.0, residual_multiplier=0.5, attention_multiplier=0.2, logits_scaling=4.0), SHORT_AXES, 16),
    'granitemoeshared': ('bpe', dict(MOE, shared_intermediate_size=48), SHORT_AXES, 16),
    'olmo': ('bpe', {}, SHORT_AXES, 16),
    'olmo2': ('bpe', {}, SHORT_AXES, 16),
    'olmo3': ('bpe', dict(sliding_window=5), SHORT_AXES, 16),
    'smollm3': ('bpe', {}, SHORT_AXES, 16),
    'cohere': ('bpe', {}, SHORT_AXES, 16),
    'cohere2': ('bpe', dict(sliding_window=5), SHORT_AXES, 16),
    'opt': ('bpe', dict(hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4), LN_AXES, 16),
    'gpt_neox': ('bpe', dict(SIZES, num_key_value_heads=4), LN_AXES + ROTARY_AXES, 4),
    'gpt2': ('bpe', GPT2_SIZES, LN_AXES, 16),
    'phi': ('bpe', dict(SIZES, num_key_value_heads=4), LN_AXES + ROTARY_AXES + ['gqa-2', 'gqa-all-to-one'], 8),
    'stablelm': ('bpe', SIZES, LN_AXES + ROTARY_AXES + ['gqa-1', 'gqa-all-to-one'], 4),
    'starcoder2': ('bpe', SIZES, LN_AXES + ROTARY_AXES + ['gqa-1', 'gqa-all-to-one', 'window-5'], 16),
    'gptj': ('bpe', dict(GPT2_SIZES, rotary_dim=8), LN_AXES, 8),
    'gpt_bigcode': ('bpe', GPT2_SIZES, LN_AXES, 16),
    'gpt_neo': ('bpe', dict(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128, attention_types=[[['global', 'local'], 1]], window_size=5), LN_AXES, 16),
    'bloom': ('bpe', dict(hidden_size=64, n_layer=2, n_head=4), LN_AXES, 16),
    'falcon': ('bpe', dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4), LN_AXES + ROTARY_AXES, 16),
    'mpt': ('bpe', dict(d_model=64, n_layers=2, n_heads=4, expansion_ratio=2), LN_AXES, 16),
}
RMS_SIZED = {'opt', 'gpt_neox', 'gpt2', 'phi', 'stablelm', 'starcoder2', 'gptj', 'gpt_bigcode', 'gpt_neo', 'bloom', 'falcon', 'mpt'}


# Many axes in one checkpoint, a quick first pass (--combos): a combo that differs is then run axis by axis.
COMBOS = [['bf16', 'layers-3', 'gqa-all-to-one', 'head-dim-24', 'untied', 'rope-yarn', 'rope-longrope', 'attention-bias', 'mlp-bias', 'vocab-odd', 'eps', 'act-gelu'],
          ['torch-dtype-key', 'layers-1', 'gqa-2', 'tied', 'rope-llama3', 'window-5', 'eos-list-no-bos', 'max-positions-64', 'act-relu'],
          ['float16', 'gqa-1', 'rope-theta', 'rope-linear', 'act-silu', 'act-gelu-new']]


def combos(axes):
    """Each combo's axes the architecture takes, joined by '+' (an axis set once: the first rope type, activation, GQA, tie)."""
    for combo in COMBOS:
        chosen, kinds = [], set()
        for axis in combo:
            kind = 'tie' if axis in ('tied', 'untied') else axis.split('-')[0] if axis.split('-')[0] in ('rope', 'act', 'gqa', 'layers') and axis != 'rope-theta' else axis
            if axis in axes and kind not in kinds:
                chosen.append(axis)
                kinds.add(kind)
        yield '+'.join(chosen)


def variants(selected, use_combos):
    for model_type, (kind, base, axes, head_dim) in ARCHS.items():
        # In combos, the architectures swept on a short list take every axis: what one ignores or refuses shows up all the same.
        for axis in (combos(RMS_AXES if axes is SHORT_AXES else axes) if use_combos else axes):
            name = f'{model_type}:{axis}'
            if selected and not any(name == s or (':' not in s and model_type == s) or (s.startswith(':') and axis == s[1:]) for s in selected):
                continue
            overrides = dict(base if model_type in RMS_SIZED else {**SIZES, **base})
            save = {}
            rotary = 24 if 'head-dim-24' in axis.split('+') else head_dim  # longrope's factors follow the head size
            for part in axis.split('+'):
                if model_type in RMS_SIZED and part in ('layers-1', 'layers-3'):  # each family's own layer-count key
                    key = next((k for k in ('n_layer', 'num_layers', 'n_layers') if k in overrides), 'num_hidden_layers')
                    overrides[key] = 1 if part == 'layers-1' else 3
                else:
                    overrides.update(AXES[part](rotary))
                save.update(SAVE.get(part, {}))
            yield name, model_type, kind, overrides, save


def greedy_reference(model, prompts, steps):
    """transformers' argmax continuation by hand: generate's min_new_tokens would hide EOS, which ignore_eos still picks."""
    continuations = []
    with torch.no_grad():
        for prompt in prompts:
            ids = list(prompt)
            for _ in range(steps):
                ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
            continuations.append(ids[len(prompt):])
    return continuations


def build(name, model_type, tok, overrides, options, out):
    """crosscheck.build with the sweep's extras: a vocab relative to the tokenizer's, and keys the config class drops kept out."""
    vocab = overrides.pop('vocab_size', None)
    if isinstance(vocab, str):
        overrides['vocab_size'] = len(tok) + int(vocab)
    elif vocab is not None:
        overrides['vocab_size'] = vocab
    crosscheck.build(name, model_type, tok, overrides, options, out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--tokenizers', default=str(ROOT.parent / 'shared' / 'tokenizers'))
    parser.add_argument('--greedy', type=int, default=12)
    parser.add_argument('--out', default=None, help='a directory to keep the checkpoints in (default: a new temporary one)')
    parser.add_argument('--combos', action='store_true', help='a few checkpoints per architecture, each with many axes at once')
    parser.add_argument('selected', nargs='*', help='ARCH, ARCH:AXIS or :AXIS (default: all)')
    args = parser.parse_args()
    work = pathlib.Path(args.out or tempfile.mkdtemp(prefix='pagedllm-config-sweep-'))
    work.mkdir(parents=True, exist_ok=True)
    tokenizers = {kind: crosscheck.tokenizer_for(kind, args.tokenizers) for kind in ('bpe', 'spm')}
    refs, manifest, rows = {}, [], []
    for name, model_type, kind, overrides, options in variants(args.selected, args.combos):
        out = work / name.replace(':', '--').replace('+', '_')
        tok = tokenizers[kind]
        try:
            build(name, model_type, tok, dict(overrides), options, out)
            model = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation='eager').eval()
            prompts = [tok(text).input_ids for text in TEXTS]
            with torch.no_grad():
                logits = torch.cat([model(torch.tensor([p])).logits[0] for p in prompts])
            refs[name] = (out, prompts, logits, greedy_reference(model, prompts, args.greedy))
            manifest.append({'dir': str(out), 'prompts': prompts, 'greedy': args.greedy, 'texts': TEXTS})
        except Exception as error:  # a variation transformers itself cannot build is reported, not fatal
            rows.append((name, 'skip', f'transformers: {type(error).__name__}: {str(error).splitlines()[0][:150] if str(error) else ""}'))
    (work / 'manifest.json').write_text(json.dumps(manifest))
    run = subprocess.run(['npx', 'tsx', 'scripts/hf-saved-crosscheck.ts', str(work / 'manifest.json')], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr[-3000:])
    loads = {r['dir']: r for r in map(json.loads, [line for line in run.stdout.splitlines() if line.startswith('{')])}
    for name, (out, prompts, theirs, greedy) in refs.items():
        load = loads.get(str(out))
        if load is None:
            rows.append((name, 'CRASH', 'no result from node (crashed?)'))
            continue
        if not load['ok']:
            rows.append((name, 'refused', load['error'][:200]))
            continue
        ours = torch.from_numpy(np.fromfile(out / 'pagedllm-logits.f32', dtype=np.float32)).view(-1, load['vocab'])
        if ours.shape != theirs.shape:
            rows.append((name, 'FAIL', f'logits shape {tuple(ours.shape)} vs transformers {tuple(theirs.shape)}'))
            continue
        relative = ((ours - theirs).abs().max() / theirs.abs().max()).item()
        same_greedy = load['greedy'] == greedy
        same_tokens = load['encoded'] == prompts
        ok = relative < 1e-4 and same_greedy and same_tokens
        detail = f'rel {relative:.1e} greedy {"equal" if same_greedy else "DIFFERS"}' + ('' if same_tokens else ' PROMPT TOKENS DIFFER')
        rows.append((name, 'ok' if ok else 'FAIL', detail))
    for name, status, detail in rows:
        print(f'{status:8} {name:36} {detail}', flush=True)
    counts = {s: sum(1 for r in rows if r[1] == s) for s in ('ok', 'FAIL', 'refused', 'CRASH', 'skip')}
    print(f'{len(rows)} variants: {counts}; files in {work}')


if __name__ == '__main__':
    main()
