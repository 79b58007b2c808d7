# Writes test/fixtures/fp8-codes.json: the float32 value of each of the 256 codes of torch.float8_e4m3fn and
# torch.float8_e5m2 (null: NaN; "Infinity" / "-Infinity"), which test/fp8-weights.test.ts holds the native decoder
# (native/cpu/fp8_weights.cpp) to. Run with a Python that has torch:
#   /work/venv-hf/bin/python scripts/fp8-codes-fixture.py
import json
import math
import pathlib

import torch


def value(v):
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


codes = torch.arange(256, dtype=torch.uint8)
fixture = {"_source": f"torch {torch.__version__.split('+')[0]} float8_e4m3fn / float8_e5m2 of codes 0..255, .to(float32); null: NaN"}
for name, dtype in [("e4m3", torch.float8_e4m3fn), ("e5m2", torch.float8_e5m2)]:
    fixture[name] = [value(v) for v in codes.view(dtype).to(torch.float32).tolist()]
path = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "fp8-codes.json"
path.write_text(json.dumps(fixture))
