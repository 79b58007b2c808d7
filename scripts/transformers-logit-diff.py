# Max |logit difference| between pagedllm's CPU backend (f32) and transformers (float32, eager) over every position of two
# prompts of a tiny test model. Run with a Python that has transformers and torch:
#   /work/venv-hf/bin/python scripts/transformers-logit-diff.py granite olmo2 smollm3 cohere olmo olmoe granitemoe
import json
import pathlib
import subprocess
import sys
import tempfile

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
for variant in sys.argv[1:]:
    out = pathlib.Path(tempfile.mkdtemp(prefix=f'pagedllm-logit-diff-{variant}-'))
    subprocess.run(['npx', 'tsx', 'scripts/transformers-logit-diff.ts', variant, str(out / 'model')], cwd=ROOT, check=True)
    engine = json.loads((out / 'model' / 'engine-logits.json').read_text())
    # Falcon-RW's eager path adds ALiBi twice (once in its mask); its default sdpa path once, as the model was trained.
    attention = 'sdpa' if variant == 'falcon-rw' else 'eager'
    model = transformers.AutoModelForCausalLM.from_pretrained(out / 'model', dtype=torch.float32, attn_implementation=attention).eval()
    with torch.no_grad():
        theirs = torch.cat([model(torch.tensor([p])).logits[0] for p in engine['prompts']])
    ours = torch.tensor(engine['logits']).view(-1, engine['vocab'])
    print(f'{variant}: max |logit difference| {(ours - theirs).abs().max().item():.2e} over {theirs.shape[0]} positions (max |logit| {theirs.abs().max().item():.2f})')
