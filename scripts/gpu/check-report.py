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
bench_json = os.path.join(parts_dir, 'bench_sharegpt.json')
if os.path.exists(bench_json) and 'bench_sharegpt' in parts:
    bench = json.load(open(bench_json))
    for run in bench.get('runs') or []:
        run.pop('steps', None)  # every step of every run: megabytes, and the summary metrics suffice here
    parts['bench_sharegpt']['result'] = bench

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


def bench_rate(policy):
    bench = (parts.get('bench_sharegpt') or {}).get('result') or {}
    for run in bench.get('runs') or []:  # SuiteResults of src/bench/bench-suite.ts
        if run.get('policy') == policy:
            return (run.get('metrics') or {}).get('requestsPerSecond')
    return None


paged, orca_max = bench_rate('paged'), bench_rate('orca-max')
hf = ((parts.get('hf_generate_sharegpt') or {}).get('result') or {}).get('requestsPerSecond')
summary['sharegpt'] = {'pagedRequestsPerSecond': paged, 'orcaMaxRequestsPerSecond': orca_max, 'hfStaticRequestsPerSecond': hf,
                       'pagedOverOrcaMax': paged / orca_max if paged and orca_max else None,
                       'pagedOverHf': paged / hf if paged and hf else None}
failed = [name for name, entry in parts.items() if entry['status'] not in (0, 'skipped')]
skipped = [name for name, entry in parts.items() if entry['status'] == 'skipped']
report = {'failedParts': failed, 'skippedParts': skipped, 'ceilings': ceilings, 'summary': summary, 'parts': parts}
with open(report_path, 'w') as f:
    json.dump(report, f, indent=1)
print(json.dumps({'failedParts': failed, 'skippedParts': skipped, 'summary': summary}, indent=1))
sys.exit(1 if failed else 0)
