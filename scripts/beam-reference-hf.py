"""transformers' side of the beam search check (scripts/beam-reference-hf.ts compares; npm test never runs it).

    /work/venv-hf/bin/python scripts/beam-reference-hf.py OUT.json && npx tsx scripts/beam-reference-hf.ts OUT.json

generate(num_beams=...) on bigram models (the next token's logits depend on the last token only, a seeded random
table, so the JS side needs nothing but the table): widths 2 and 3, length_penalty 0 / 1 / 2, early_stopping true /
false / "never", one, two or three EOS ids (those after the first are given to the reference as stop tokens; with
three, favoured as much as the first, more than width of the best 2 x width candidates often end in one step, so
transformers' max(2, 1 + EOS ids) x width walk matters). Writes each case's
log_softmax table and the returned beams (cut after their first EOS) with their scores.
"""
import json, sys, torch
from transformers import PretrainedConfig, PreTrainedModel, GenerationMixin, GenerationConfig
from transformers.modeling_outputs import CausalLMOutputWithPast

V = 12
class BigramConfig(PretrainedConfig):
    model_type = 'bigram'
    def __init__(self, vocab_size=V, **kw):
        super().__init__(**kw); self.vocab_size = vocab_size

class Bigram(PreTrainedModel, GenerationMixin):
    config_class = BigramConfig
    def __init__(self, config, table):
        super().__init__(config)
        self.table = torch.nn.Parameter(table, requires_grad=False)
    def forward(self, input_ids=None, past_key_values=None, attention_mask=None, **kw):
        return CausalLMOutputWithPast(logits=self.table[input_ids].float())
    def prepare_inputs_for_generation(self, input_ids, **kw):
        return {'input_ids': input_ids}
    def _supports_default_dynamic_cache(self): return False

cases = []
for seed in range(12):
    g = torch.Generator().manual_seed(seed)
    table = torch.rand(V, V, generator=g, dtype=torch.float64) * 4
    table[:, 0] += seed % 3  # EOS (0) likelier
    if seed >= 8: table[:, [5, 7]] += 2
    model = Bigram(BigramConfig(), table).eval()
    for width in (2, 3):
        for lp in (0.0, 1.0, 2.0):
            for es in (True, False, "never"):
                eos = [0, 5, 7] if seed >= 8 else [0] if seed % 2 == 0 else [0, 5]
                prompt = [1 + seed % 10]
                out = model.generate(torch.tensor([prompt]), generation_config=GenerationConfig(
                    do_sample=False, num_beams=width, num_return_sequences=min(2, width), length_penalty=lp,
                    early_stopping=es, eos_token_id=eos, pad_token_id=11, max_new_tokens=7, use_cache=False,
                    output_scores=True, return_dict_in_generate=True))
                seqs = []
                for row in out.sequences.tolist():
                    o = row[len(prompt):]
                    # cut at the first EOS (HF pads after it)
                    for i, t in enumerate(o):
                        if t in eos: o = o[:i + 1]; break
                    seqs.append(o)
                cases.append({'table': torch.log_softmax(table.float(), -1).double().tolist(), 'prompt': prompt, 'width': width,
                              'lengthPenalty': lp, 'earlyStopping': es, 'eos': eos, 'maxTokens': 7, 'n': min(2, width),
                              'sequences': seqs, 'scores': out.sequences_scores.tolist()})
json.dump(cases, open(sys.argv[1], 'w'))
print(len(cases), 'cases')
