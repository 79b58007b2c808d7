"""GPU check: Hugging Face transformers (LlamaForCausalLM) against pagedllm's logits, same weights.

usage: hf-logits.py MODEL_DIR IDS(comma-separated) OUR_LOGITS.f32 [--device cuda|cpu]
The reference is transformers in float32 on the same (bf16-valued) weights upcast exactly. Prints one JSON line with,
for our logits and for transformers' own bf16 run side by side: argmax agreement with the reference, the max abs
logprob error on each position's 20 most likely tokens, and the logits' relative L2 error.
"""
import json, sys

import numpy as np
import torch
from transformers import LlamaForCausalLM

model_dir, ids, ours_path = sys.argv[1], [int(i) for i in sys.argv[2].split(',')], sys.argv[3]
device = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == '--device' else ('cuda' if torch.cuda.is_available() else 'cpu')
model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).to(device).eval()
with torch.no_grad():
    tokens = torch.tensor([ids], device=device)
    hf_bf16 = model(tokens).logits[0].float().cpu().numpy().astype(np.float64)
    reference = model.float()(tokens).logits[0].cpu().numpy().astype(np.float64)
vocab = reference.shape[1]
ours = np.fromfile(ours_path, dtype=np.float32).reshape(len(ids), -1)[:, :vocab].astype(np.float64)


def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


ref_logprobs = log_softmax(reference)
top = np.argsort(-ref_logprobs, axis=1)[:, :20]  # where it matters: each position's 20 most likely tokens


def against_reference(logits):
    logprobs = log_softmax(logits)
    return {
        'argmaxAgree': int((logits.argmax(1) == reference.argmax(1)).sum()),
        'top20LogprobMaxAbsError': float(np.abs(np.take_along_axis(logprobs, top, 1) - np.take_along_axis(ref_logprobs, top, 1)).max()),
        'logitsRelL2': float(np.linalg.norm(logits - reference) / max(np.linalg.norm(reference), 1e-30)),
    }


print(json.dumps({'model': model_dir, 'device': device, 'positions': len(ids), 'vocab': vocab,
                  'reference': 'transformers float32 on the bf16 weights',
                  'ours': against_reference(ours), 'transformersBf16': against_reference(hf_bf16)}))
