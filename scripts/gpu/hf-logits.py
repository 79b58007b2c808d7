"""GPU check: Hugging Face transformers (LlamaForCausalLM, bf16, on the GPU) against pagedllm's logits, same weights.

usage: hf-logits.py MODEL_DIR IDS(comma-separated) OUR_LOGITS.f32 [--device cuda|cpu]
Prints one JSON line: per-position log-softmax max abs error, argmax agreement, relative L2 of the logits.
Both sides run bf16 weights with their own rounding of activations, so the bound is a bf16 one (see docs/CUDA.md).
"""
import json, sys

import numpy as np
import torch
from transformers import LlamaForCausalLM

model_dir, ids, ours_path = sys.argv[1], [int(i) for i in sys.argv[2].split(',')], sys.argv[3]
device = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == '--device' else ('cuda' if torch.cuda.is_available() else 'cpu')
dtype = torch.bfloat16 if device == 'cuda' else torch.float32
model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=dtype).to(device).eval()
with torch.no_grad():
    theirs = model(torch.tensor([ids], device=device)).logits[0].float().cpu().numpy()
ours = np.fromfile(ours_path, dtype=np.float32).reshape(len(ids), -1)
vocab = min(ours.shape[1], theirs.shape[1])
ours, theirs = ours[:, :vocab].astype(np.float64), theirs[:, :vocab].astype(np.float64)


def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


lo, lt = log_softmax(ours), log_softmax(theirs)
# Logprob error where it matters: on each row's 20 most likely tokens (by HF), not the far tail of the vocab.
top = np.argsort(-lt, axis=1)[:, :20]
top_error = float(np.abs(np.take_along_axis(lo, top, 1) - np.take_along_axis(lt, top, 1)).max())
print(json.dumps({
    'model': model_dir, 'device': device, 'dtype': str(dtype), 'positions': len(ids), 'vocab': vocab,
    'argmaxAgree': int((ours.argmax(1) == theirs.argmax(1)).sum()),
    'top20LogprobMaxAbsError': top_error,
    'logitsRelL2': float(np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-30)),
}))
