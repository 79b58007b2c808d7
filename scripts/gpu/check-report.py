"""GPU check: merges the parts check.sh ran (PARTS/NAME.out last JSON line, NAME.meta status and seconds) into one
report, with decode tok/s against the roofline (weight bytes / measured copy bandwidth), prefill against the
measured bf16 GEMM rate, and ShareGPT throughput ratios against the issue's targets.
usage: check-report.py PARTS_DIR REPORT.json"""
import glob, json, os, sys

parts_dir, report_path = sys.argv[1], sys.argv[2]


def last_json(path):
    try:
        lines = [line for line in open(path) if line.strip().startswith('{')]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


parts = {}
for meta in sorted(glob.glob(os.path.join(parts_dir, '*.meta'))):
    name = os.path.basename(meta)[:-5]
    entry = json.load(open(meta))
    entry['result'] = last_json(os.path.join(parts_dir, name + '.out'))
    if entry['status'] not in (0, 'skipped'):
        try:
            entry['stderrTail'] = open(os.path.join(parts_dir, name + '.err')).read()[-2000:]
        except OSError:
            pass
    parts[name] = entry
BENCH_PARTS = ('bench_sharegpt', 'bench_sharegpt_16k_tokens')  # check.sh's two KV memories (2 GiB, 512 MiB)
for name in BENCH_PARTS:
    bench_json = os.path.join(parts_dir, name + '.json')
    if os.path.exists(bench_json) and name in parts:
        bench = json.load(open(bench_json))
        for run in bench.get('runs') or []:
            run.pop('steps', None)  # every step of every run: megabytes, and the summary metrics suffice here
        parts[name]['result'] = bench

summary = {}
ceilings = (parts.get('ceilings') or {}).get('result') or {}
copy_gbs = ceilings.get('copyGBs') or (((parts.get('kernels') or {}).get('result') or {}).get('bench') or {}).get('copyGBs')
for name, entry in parts.items():
    speed = entry.get('result') if name.startswith('speed_') else None
    if not speed:
        continue
    rows = []
    for d in speed.get('decode', []):
        roofline = d['batch'] / (speed['weightBytes'] / (copy_gbs * 1e9)) if copy_gbs else None
        rows.append(dict(d, rooflineTokensPerSecond=roofline, ofRoofline=d['tokensPerSecond'] / roofline if roofline else None))
    prefill = speed.get('prefill')
    if prefill and ceilings.get('bf16GemmTFLOPs'):
        prefill = dict(prefill, ofGemmPeak=prefill['tflops'] / ceilings['bf16GemmTFLOPs'])
    summary[name] = {'deviceName': speed.get('deviceName'), 'decode': rows, 'prefill': prefill}
eight_b = summary.get('speed_llama-3.1-8b_auto', {}).get('decode', [])
batch1 = next((row for row in eight_b if row['batch'] == 1), None)
if batch1 and batch1.get('ofRoofline') is not None:
    summary['target_8b_batch1_70pct_roofline'] = batch1['ofRoofline'] >= 0.7


def bench_metric(part, policy, metric):
    bench = (parts.get(part) or {}).get('result') or {}
    for run in bench.get('runs') or []:  # SuiteResults of src/bench/bench-suite.ts
        if run.get('policy') == policy:
            return (run.get('metrics') or {}).get(metric)
    return None


def ratio(a, b):
    return a / b if a and b else None


hf = (parts.get('hf_generate_sharegpt') or {}).get('result') or {}
for part in BENCH_PARTS:
    paged, orca_max = bench_metric(part, 'paged', 'requestsPerSecond'), bench_metric(part, 'orca-max', 'requestsPerSecond')
    entry = {'pagedRequestsPerSecond': paged, 'orcaMaxRequestsPerSecond': orca_max,
             'pagedOverOrcaMax': ratio(paged, orca_max)}
    if part == 'bench_sharegpt':  # HF's static batch of 32 at 2,048 tokens is this run's memory
        # Output tokens/s, not requests/s: a batch cut by HF's clock completes no request but did generate tokens.
        paged_tokens = bench_metric(part, 'paged', 'outputTokensPerSecond')
        entry.update(hfStaticRequestsPerSecond=hf.get('requestsPerSecond'), hfStaticTokensPerSecond=hf.get('outputTokensPerSecond'),
                     pagedTokensPerSecond=paged_tokens, pagedOverHfTokens=ratio(paged_tokens, hf.get('outputTokensPerSecond')))
    summary[part] = entry
failed = [name for name, entry in parts.items() if entry['status'] not in (0, 'skipped')]
skipped = [name for name, entry in parts.items() if entry['status'] == 'skipped']
report = {'failedParts': failed, 'skippedParts': skipped, 'ceilings': ceilings, 'summary': summary, 'parts': parts}
with open(report_path, 'w') as f:
    json.dump(report, f, indent=1)
print(json.dumps({'failedParts': failed, 'skippedParts': skipped, 'summary': summary}, indent=1))
sys.exit(1 if failed else 0)
