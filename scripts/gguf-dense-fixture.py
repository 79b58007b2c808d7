# Writes test/fixtures/glm4-tiny-q8_0.gguf with the gguf Python package (llama.cpp's own writer, tensor name map and
# quantizer), from the tiny glm4 test checkpoint, as llama.cpp's Glm4Model converter lays it out: tensor names from
# gguf.get_tensor_name_map (gate_up_proj kept whole as ffn_up, post_self_attn_layernorm as post_attention_norm), q/k rows
# as stored (GLM-4 rotates interleaved pairs; llama.cpp runs it with NORM rope), the keys TextModel and Glm4Model write
# (rope.dimension_count = head_dim * partial_rotary_factor), matrices at Q8_0 and the rest at F32 (a q8_0 conversion).
# test/gguf-dense-families.test.ts loads it beside the checkpoint. Run after that test has generated the checkpoint:
#   /work/venv-hf/bin/python scripts/gguf-dense-fixture.py
import json
import pathlib

import gguf
import numpy as np
from safetensors.numpy import load_file

root = pathlib.Path(__file__).resolve().parent.parent
model = root / ".cache" / "models" / "tiny-glm4-0-f32"
out = root / "test" / "fixtures" / "glm4-tiny-q8_0.gguf"
config = json.loads((model / "config.json").read_text())
tokenizer = json.loads((model / "tokenizer.json").read_text())
layers = config["num_hidden_layers"]
head_dim = config["head_dim"]

writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.GLM4])
writer.add_block_count(layers)
writer.add_context_length(config["max_position_embeddings"])
writer.add_embedding_length(config["hidden_size"])
writer.add_feed_forward_length(config["intermediate_size"])
writer.add_head_count(config["num_attention_heads"])
writer.add_head_count_kv(config["num_key_value_heads"])
writer.add_rope_freq_base(config["rope_parameters"]["rope_theta"])
writer.add_layer_norm_rms_eps(config.get("rms_norm_eps", 1.5625e-07))  # Glm4Config's default
writer.add_key_length(head_dim)
writer.add_value_length(head_dim)
writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
writer.add_rope_dimension_count(int(head_dim * config["rope_parameters"]["partial_rotary_factor"]))

# The checkpoint's byte-level BPE vocabulary (a GPT-2 split, so pre "gpt-2"), its one special token a control token.
vocab = tokenizer["model"]["vocab"]
tokens = [None] * config["vocab_size"]
for token, index in vocab.items():
    tokens[index] = token
special = {added["id"] for added in tokenizer["added_tokens"]}
writer.add_tokenizer_model("gpt2")
writer.add_tokenizer_pre("gpt-2")
writer.add_token_list(tokens)
writer.add_token_types([gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL for i in range(len(tokens))])
writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]])
writer.add_bos_token_id(config["bos_token_id"])
writer.add_eos_token_id(config["eos_token_id"])

names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GLM4, layers)
for name, data in load_file(str(model / "model.safetensors")).items():
    new_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
    if new_name is None:
        raise SystemExit(f"no GGUF name for {name}")
    if data.ndim == 2:
        writer.add_tensor(new_name, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        writer.add_tensor(new_name, data.astype(np.float32))

writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
print(f"{out}: {out.stat().st_size} bytes")
