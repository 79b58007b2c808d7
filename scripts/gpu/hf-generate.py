"""GPU check: the ShareGPT trace through Hugging Face transformers `generate` with static batching (the baseline
of the vLLM paper): requests in trace order, batches of --batch, each batch padded to its longest prompt and run
until its longest output (EOS ignored). Counts only the tokens each request asked for, like pagedllm bench.

usage: hf-generate.py MODEL_DIR TRACE [--num-prompts N] [--batch B] [--max-seconds S]
TRACE: a length trace (datasets/*.jsonl: prompt_len, output_len per line), or the --json of `pagedllm bench`, whose
workload.requests are the very requests bench ran, in its order.
Prints a JSON line after every batch (the last one is the result): --max-seconds bounds the generation time, also
inside a batch (generate's max_time), so a caller's limit a little above it plus model loading still gets a line. A
batch cut by the clock counts the tokens it generated for each request and the requests it completed.
"""
import argparse, json, os, random, time

import torch
from transformers import LlamaForCausalLM

parser = argparse.ArgumentParser()
parser.add_argument('model'), parser.add_argument('trace')
parser.add_argument('--num-prompts', type=int, default=200)
parser.add_argument('--batch', type=int, default=32)
parser.add_argument('--max-seconds', type=float, default=60)
args = parser.parse_args()

if args.trace.endswith('.json'):
    requests = json.load(open(args.trace))['workload']['requests'][:args.num_prompts]
else:
    requests = [json.loads(line) for line in open(args.trace) if line.strip()][:args.num_prompts]
device = 'cuda' if torch.cuda.is_available() else 'cpu'
model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16 if device == 'cuda' else torch.float32).to(device).eval()
vocab = model.config.vocab_size
rng = random.Random(0)
done = useful = 0
started = time.time()
# Under check.sh the part's own time limit (PART_SECONDS) may be shorter than --max-seconds: keep 30 s of it for
# importing torch and loading the model, so a cut-short run still prints a figure (run 3 of the first GPU session
# was killed at its limit while loading, with none).
max_seconds = max(5.0, min(args.max_seconds, float(os.environ.get("PART_SECONDS", "inf")) - 30))
deadline = started + max_seconds
for first in range(0, len(requests), args.batch):
    remaining = deadline - time.time()
    if remaining <= 0:
        break
    batch = requests[first:first + args.batch]
    longest = max(r['prompt_len'] for r in batch)
    ids = torch.zeros((len(batch), longest), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, r in enumerate(batch):  # left padding, random prompt tokens (ids 0-999 avoided: specials)
        ids[row, longest - r['prompt_len']:] = torch.tensor([rng.randrange(1000, vocab) for _ in range(r['prompt_len'])])
        mask[row, longest - r['prompt_len']:] = 1
    new_tokens = max(r['output_len'] for r in batch)
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, do_sample=False, pad_token_id=0, max_time=remaining)
    generated = out.shape[1] - longest  # every row runs as long as the batch (EOS suppressed by min_new_tokens)
    done += sum(1 for r in batch if r['output_len'] <= generated)
    useful += sum(min(r['output_len'], generated) for r in batch)
    if device == 'cuda':
        torch.cuda.synchronize()
    elapsed = time.time() - started
    print(json.dumps({'model': args.model, 'device': device, 'batch': args.batch, 'requests': done,
                      'requestedTokens': useful, 'seconds': elapsed, 'requestsPerSecond': done / elapsed,
                      'outputTokensPerSecond': useful / elapsed, 'cutByClock': generated < new_tokens,
                      'peakMemoryGiB': torch.cuda.max_memory_allocated() / 2**30 if device == 'cuda' else None}), flush=True)
    if generated < new_tokens:
        break
