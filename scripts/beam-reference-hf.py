"""transformers' side of the beam search check (scripts/beam-reference-hf.ts compares; npm test never runs it).

    /work/venv-hf/bin/python scripts/beam-reference-hf.py OUT.json && npx tsx scripts/beam-reference-hf.ts OUT.json

generate(num_beams=...) on bigram models (the next token's logits depend on the last token only, a seeded random
table, so the JS side needs nothing but the table): widths 2 and 3, length_penalty 0 / 1 / 2, early_stopping true /
false / "never", one, two or three EOS ids (those after the first are given to the reference as stop tokens; with
three, favoured as much as the first, more than width of the best 2 x width candidates often end in one step, so
transformers' max(2, 1 + EOS ids) x width walk matters). Then a vocabulary of 3 under width 4 and 5 with two EOS ids:
fewer than width candidates of a step can be real, and transformers fills its width running beams and hypotheses with
-1e9 fillers (ended beams run on past their EOS; the prompt's copies at step 1), which we do not (beam-search.ts's
header says why); beam-reference-hf.ts counts those cases apart. Writes each case's log_softmax table and the
returned beams (cut after their first EOS) with their scores.
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

def bigram_cases(vocab, seeds, widths, eos_of, max_new_tokens, returned):
    for seed in seeds:
        g = torch.Generator().manual_seed(seed)
        table = torch.rand(vocab, vocab, generator=g, dtype=torch.float64) * 4
        table[:, 0] += seed % 3  # EOS (0) likelier
        if vocab == V and seed >= 8: table[:, [5, 7]] += 2
        model = Bigram(BigramConfig(vocab_size=vocab), table).eval()
        for width in widths:
            for lp in (0.0, 1.0, 2.0):
                for es in (True, False, "never"):
                    eos = eos_of(seed)
                    prompt = [1 + seed % (vocab - 2)]
                    out = model.generate(torch.tensor([prompt]), generation_config=GenerationConfig(
                        do_sample=False, num_beams=width, num_return_sequences=returned(width), length_penalty=lp,
                        early_stopping=es, eos_token_id=eos, pad_token_id=vocab - 1, max_new_tokens=max_new_tokens, use_cache=False,
                        output_scores=True, return_dict_in_generate=True))
                    seqs = []
                    for row in out.sequences.tolist():
                        o = row[len(prompt):]
                        # cut at the first EOS (HF pads after it)
                        for i, t in enumerate(o):
                            if t in eos: o = o[:i + 1]; break
                        seqs.append(o)
                    cases.append({'table': torch.log_softmax(table.float(), -1).double().tolist(), 'prompt': prompt, 'width': width,
                                  'lengthPenalty': lp, 'earlyStopping': es, 'eos': eos, 'maxTokens': max_new_tokens, 'n': returned(width),
                                  'sequences': seqs, 'scores': out.sequences_scores.tolist()})

cases = []
bigram_cases(V, range(12), (2, 3), lambda seed: [0, 5, 7] if seed >= 8 else [0] if seed % 2 == 0 else [0, 5], 7, lambda width: min(2, width))
# every beam returned, so a filler among them shows
bigram_cases(3, range(4), (4, 5), lambda seed: [0, 1], 5, lambda width: width)
json.dump(cases, open(sys.argv[1], 'w'))
print(len(cases), 'cases')
