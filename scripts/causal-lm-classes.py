# Writes src/engine/model/causal-lm-classes.ts: transformers' model_type -> causal-LM class table, which
# AutoModelForCausalLM uses to pick a class whatever config.json's "architectures" says.
# Usage: python scripts/causal-lm-classes.py (transformers installed; the version is written into the file).
import json
import transformers
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

entries = sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.items())
lines = []
line = ' '
for model_type, cls in entries:
    item = f" '{model_type}': '{cls}',"
    if len(line) + len(item) > 118:
        lines.append(line)
        line = ' '
    line += item
lines.append(line)
with open('src/engine/model/causal-lm-classes.ts', 'w') as out:
    out.write(f'// transformers {transformers.__version__}\'s MODEL_FOR_CAUSAL_LM_MAPPING_NAMES (model_type -> the class AutoModelForCausalLM\n')
    out.write('// builds), written by scripts/causal-lm-classes.py. The engine reads it where config.json names no class it runs.\n')
    out.write('export const CAUSAL_LM_CLASS_BY_MODEL_TYPE: Readonly<Record<string, string>> = {\n')
    out.write('\n'.join(lines) + '\n}\n')
