# Writes test/fixtures/gguf-python/gpt-oss-mxfp4.gguf with the gguf Python package (its key and tensor names, its
# MXFP4 quantizer) from a seeded random GptOssForCausalLM laid out as llama.cpp's converter lays it out (gate and up
# apart, down transposed, MXFP4 experts), and the float32 transformers logits of the dequantized model in
# gpt-oss-mxfp4.json, so test/gguf-moe-mla.test.ts proves the engine reads the real layout. Run with /work/venv-hf:
#   python scripts/gguf-gpt-oss-fixture.py
import json
from pathlib import Path

import gguf
import numpy as np
import torch
from gguf.quants import dequantize, quantize
from transformers import GptOssConfig, GptOssForCausalLM

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'gguf-python'
ARCH = gguf.MODEL_ARCH.GPT_OSS
NAMES = gguf.TENSOR_NAMES
T = gguf.MODEL_TENSOR

config = GptOssConfig(
    vocab_size=64, hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
    num_local_experts=4, num_experts_per_tok=2, sliding_window=4, max_position_embeddings=256, layer_types=['sliding_attention', 'full_attention'],
    rope_theta=150000.0, rope_scaling={'rope_type': 'yarn', 'factor': 4.0, 'beta_fast': 32.0, 'beta_slow': 1.0, 'truncate': False, 'original_max_position_embeddings': 64},
    tie_word_embeddings=False, attention_bias=True, rms_norm_eps=1e-5,
)
torch.manual_seed(0)
model = GptOssForCausalLM(config).float().eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        p.copy_(1.0 + 0.1 * torch.randn_like(p) if 'norm' in name else 0.3 * torch.randn_like(p))

state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
inter, experts = config.intermediate_size, config.num_local_experts


def mxfp4(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[..., cols] f32 as ggml MXFP4 blocks, and the values they hold."""
    blocks = quantize(values.astype(np.float32), gguf.GGMLQuantizationType.MXFP4)
    return blocks, dequantize(blocks, gguf.GGMLQuantizationType.MXFP4).reshape(values.shape)


writer = gguf.GGUFWriter(str(OUT / 'gpt-oss-mxfp4.gguf'), gguf.MODEL_ARCH_NAMES[ARCH])
writer.add_context_length(config.max_position_embeddings)
writer.add_embedding_length(config.hidden_size)
writer.add_block_count(config.num_hidden_layers)
writer.add_feed_forward_length(inter)
writer.add_expert_feed_forward_length(inter)
writer.add_head_count(config.num_attention_heads)
writer.add_head_count_kv(config.num_key_value_heads)
writer.add_key_length(config.head_dim)
writer.add_value_length(config.head_dim)
writer.add_rope_freq_base(150000.0)
writer.add_layer_norm_rms_eps(config.rms_norm_eps)
writer.add_expert_count(experts)
writer.add_expert_used_count(config.num_experts_per_tok)
writer.add_sliding_window(config.sliding_window)
writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
writer.add_rope_scaling_factor(4.0)
writer.add_rope_scaling_orig_ctx_len(64)
# A byte-level vocabulary of 64 tokens: <|endoftext|>, then printable characters, and one merge.
tokens = ['<|endoftext|>'] + [chr(c) for c in range(ord('a'), ord('a') + 62)] + ['ab']
writer.add_tokenizer_model('gpt2')
writer.add_tokenizer_pre('gpt-4o')
writer.add_token_list(tokens)
writer.add_token_types([gguf.TokenType.CONTROL] + [gguf.TokenType.NORMAL] * 63)
writer.add_token_merges(['a b'])
writer.add_eos_token_id(0)
# gpt-oss's harmony template, as its GGUF files carry it.
writer.add_chat_template((OUT.parent / 'chat-templates' / 'gpt-oss.jinja').read_text())


def name(tensor, bid=None, suffix='weight'):
    return (NAMES[tensor].format(bid=bid) if bid is not None else NAMES[tensor]) + '.' + suffix


writer.add_tensor(name(T.TOKEN_EMBD), state['model.embed_tokens.weight'].astype(np.float32))
writer.add_tensor(name(T.OUTPUT_NORM), state['model.norm.weight'].astype(np.float32))
writer.add_tensor(name(T.OUTPUT), state['lm_head.weight'].astype(np.float32))
for bid in range(config.num_hidden_layers):
    p = f'model.layers.{bid}.'
    f32 = lambda key: state[p + key].astype(np.float32)  # noqa: E731
    writer.add_tensor(name(T.ATTN_NORM, bid), f32('input_layernorm.weight'))
    writer.add_tensor(name(T.ATTN_POST_NORM, bid), f32('post_attention_layernorm.weight'))
    for tensor, part in [(T.ATTN_Q, 'q_proj'), (T.ATTN_K, 'k_proj'), (T.ATTN_V, 'v_proj'), (T.ATTN_OUT, 'o_proj')]:
        writer.add_tensor(name(tensor, bid), f32(f'self_attn.{part}.weight'))
        writer.add_tensor(name(tensor, bid, 'bias'), f32(f'self_attn.{part}.bias'))
    writer.add_tensor(name(T.ATTN_SINKS, bid), f32('self_attn.sinks'))
    writer.add_tensor(name(T.FFN_GATE_INP, bid), f32('mlp.router.weight'))
    writer.add_tensor(name(T.FFN_GATE_INP, bid, 'bias'), f32('mlp.router.bias'))
    gate_up, gate_up_bias = f32('mlp.experts.gate_up_proj'), f32('mlp.experts.gate_up_proj_bias')
    # [experts, hidden, 2 inter], gate and up in alternate columns -> [experts, inter, hidden] each, quantized.
    gate_blocks, gate = mxfp4(np.ascontiguousarray(gate_up[:, :, 0::2].transpose(0, 2, 1)))
    up_blocks, up = mxfp4(np.ascontiguousarray(gate_up[:, :, 1::2].transpose(0, 2, 1)))
    down_blocks, down = mxfp4(np.ascontiguousarray(f32('mlp.experts.down_proj').transpose(0, 2, 1)))
    writer.add_tensor(name(T.FFN_GATE_EXP, bid), gate_blocks, raw_dtype=gguf.GGMLQuantizationType.MXFP4)
    writer.add_tensor(name(T.FFN_UP_EXP, bid), up_blocks, raw_dtype=gguf.GGMLQuantizationType.MXFP4)
    writer.add_tensor(name(T.FFN_DOWN_EXP, bid), down_blocks, raw_dtype=gguf.GGMLQuantizationType.MXFP4)
    writer.add_tensor(name(T.FFN_GATE_EXP, bid, 'bias'), np.ascontiguousarray(gate_up_bias[:, 0::2]))
    writer.add_tensor(name(T.FFN_UP_EXP, bid, 'bias'), np.ascontiguousarray(gate_up_bias[:, 1::2]))
    writer.add_tensor(name(T.FFN_DOWN_EXP, bid, 'bias'), f32('mlp.experts.down_proj_bias'))
    # The reference model holds the values the blocks hold.
    with torch.no_grad():
        fused = np.empty_like(gate_up)
        fused[:, :, 0::2], fused[:, :, 1::2] = gate.transpose(0, 2, 1), up.transpose(0, 2, 1)
        model.model.layers[bid].mlp.experts.gate_up_proj.copy_(torch.from_numpy(fused.astype(np.float32)))
        model.model.layers[bid].mlp.experts.down_proj.copy_(torch.from_numpy(down.transpose(0, 2, 1).astype(np.float32)))
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()

# transformers' float32 logits of every position (its MoE kernels take no float64).
with torch.no_grad():
    prompt = [0, 5, 17, 33, 2, 60, 41, 9, 12, 28]
    logits = model(torch.tensor([prompt])).logits[0]
json.dump({'prompt_token_ids': prompt, 'logits': logits.flatten().tolist()}, open(OUT / 'gpt-oss-mxfp4.json', 'w'))
print('wrote', OUT)
