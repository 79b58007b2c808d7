# Writes test/fixtures/gptoss-mxfp4-dequant.json: a few MXFP4 blocks and scales (GPT-OSS's *_blocks [experts, out, in / 32, 16],
# *_scales [experts, out, in / 32]) and what transformers 5.18's convert_moe_packed_tensors makes of them ([experts, in, out]
# float32), which test/gpt-oss.test.ts holds its own dequantizer to. Run with a Python that has transformers and torch:
#   /work/venv-hf/bin/python scripts/mxfp4-fixture.py
import json
import pathlib

import torch
import transformers
from transformers.integrations.mxfp4 import convert_moe_packed_tensors

EXPERTS, OUT, GROUPS = 2, 3, 2
blocks = torch.tensor([(i * 37 + 11) % 256 for i in range(EXPERTS * OUT * GROUPS * 16)], dtype=torch.uint8).reshape(EXPERTS, OUT, GROUPS, 16)
scales = torch.tensor([118 + (i * 5) % 19 for i in range(EXPERTS * OUT * GROUPS)], dtype=torch.uint8).reshape(EXPERTS, OUT, GROUPS)
values = convert_moe_packed_tensors(blocks, scales, dtype=torch.float32)
OUT_PATH = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'gptoss-mxfp4-dequant.json'
OUT_PATH.write_text(json.dumps({
    'transformers': transformers.__version__, 'shape': {'experts': EXPERTS, 'out': OUT, 'groups': GROUPS},
    'blocks': blocks.flatten().tolist(), 'scales': scales.flatten().tolist(), 'dequantized': values.flatten().tolist(),
}) + '\n')
print(f'wrote {OUT_PATH} ({list(values.shape)})')
