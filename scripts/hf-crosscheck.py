"""Optional cross-check of pagedllm against the Python Hugging Face stack (never needed by npm test).

Needs huggingface_hub (1.x) and transformers (5.x) with jinja2, e.g. in a venv:
    python3 -m venv /tmp/hfv && /tmp/hfv/bin/pip install huggingface_hub transformers jinja2
    /tmp/hfv/bin/python scripts/hf-crosscheck.py
Checks: huggingface_hub downloads from the fake Hub (snapshot, paged tree, renamed repo, paths-info); it reads the
cache pagedllm wrote (get_cached_repo_tree, scan_cache_dir, offline snapshot); transformers' AutoTokenizer encodes,
decodes and renders chats of every test-model variant exactly as pagedllm does.
"""
import json, os, subprocess, sys, tempfile

work = tempfile.mkdtemp(prefix='pagedllm-hf-crosscheck-')
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
node = subprocess.Popen(['npx', 'tsx', 'scripts/hf-crosscheck.ts', work], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
info = json.loads(node.stdout.readline())
os.environ.update(HF_ENDPOINT=info['endpoint'], HF_HUB_DISABLE_TELEMETRY='1', HF_HUB_DISABLE_XET='1')
import huggingface_hub as hh  # noqa: E402 (HF_ENDPOINT must be set first)
import transformers  # noqa: E402

failures = []
def check(name, ok, detail=''):
    print(('ok   ' if ok else 'FAIL ') + name + (f': {detail}' if detail else ''))
    if not ok:
        failures.append(name)

print(f'huggingface_hub {hh.__version__}, transformers {transformers.__version__}')
hf_cache = os.path.join(work, 'hf-cache')
snapshot = hh.snapshot_download('acme/tiny', cache_dir=hf_cache)
check('snapshot_download from the fake Hub', sorted(os.listdir(snapshot)) == ['README.md', 'config.json', 'generation_config.json', 'model.safetensors', 'sub', 'tokenizer.json', 'tokenizer_config.json'])
check('hf_hub_download through a renamed repo (307)', os.path.isfile(hh.hf_hub_download('acme/old-name', 'model.safetensors', cache_dir=hf_cache)))
paths = hh.HfApi().get_paths_info('acme/tiny', ['config.json', 'model.safetensors', 'sub'])
check('get_paths_info', [p.path for p in paths] == ['config.json', 'model.safetensors', 'sub'] and paths[1].lfs is not None)

cache = info['pagedllmCache']
tree = sorted(f.path for f in hh.get_cached_repo_tree('acme/tiny', cache_dir=cache))
check('get_cached_repo_tree reads the pagedllm cache', tree == ['README.md', 'config.json', 'generation_config.json', 'model.safetensors', 'sub/dir/notes.txt', 'tokenizer.json', 'tokenizer_config.json'], str(tree))
scan = hh.scan_cache_dir(cache)
check('scan_cache_dir sees the pagedllm snapshot, no warnings', [(r.repo_id, r.nb_files) for r in scan.repos] == [('acme/tiny', 5)] and not scan.warnings)
offline = hh.snapshot_download('acme/tiny', cache_dir=cache, local_files_only=True, allow_patterns=['*.json', '*.safetensors'])
check('offline snapshot_download of the files pagedllm fetched', offline.endswith(info['commit']))

agree = total = 0
for model_dir, expected in json.load(open(info['tokenizers'])).items():
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    for row in expected['texts']:
        ids = tokenizer(row['text'])['input_ids']
        total += 1
        agree += ids == row['ids'] and tokenizer.decode(ids, skip_special_tokens=True) == row['decoded']
    text = tokenizer.apply_chat_template(expected['chat'], tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False)['input_ids']
    total += 1
    agree += text == expected['chatText'] and ids == expected['chatIds']
check('transformers tokenizes the test models as pagedllm does', agree == total, f'{agree}/{total}')

node.stdin.close()
node.wait()
sys.exit(1 if failures else 0)
