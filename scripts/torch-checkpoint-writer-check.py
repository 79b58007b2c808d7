# Develop-time check that test/support/torch-checkpoint-writer.ts writes what PyTorch reads: each case it writes loads
# with torch.load(weights_only=True) to the values it meant, and the tiny llama test model's .bin (one file, and 3 shards
# with their index) loads in transformers with its safetensors copy's logits.
# Run: /work/venv-hf/bin/python scripts/torch-checkpoint-writer-check.py
import json
import pathlib
import subprocess
import tempfile

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
WRITE = r'''
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {writeTorchCheckpoint} from './test/support/torch-checkpoint-writer.ts'
import {writeTorchCopy} from './test/support/torch-copy.ts'
import {encodeFloats} from './src/engine/model/safetensors.ts'
import {ensureTestModel} from './src/engine/model/test-model.ts'
const out = process.argv[1]
const values = Float32Array.from({length: 24}, (_, i) => i / 8 - 1)
const cases = {}
for (const [dtype, zip64] of [['F32', false], ['F16', true], ['BF16', false]]) {
  const name = `${dtype}-${zip64 ? 'zip64' : 'zip'}`
  const storages = [{key: '0', dtype, data: encodeFloats(values, dtype)}]
  // Two views of one storage (tied) and a slice at an offset.
  const views = [{name: 'a', storage: '0', shape: [4, 6]}, {name: 'tied', storage: '0', shape: [4, 6]}, {name: 'slice', storage: '0', shape: [2, 3], storageOffset: 5}]
  writeTorchCheckpoint(join(out, `${name}.bin`), storages, views, {zip64, archive: name})
  cases[name] = {a: [...values], tied: [...values], slice: [...values.slice(5, 11)]}
}
const model = await ensureTestModel('tiny', {variant: 'llama'})
writeTorchCopy(model, join(out, 'llama'), 1)
writeTorchCopy(model, join(out, 'llama-sharded'), 3)
writeFileSync(join(out, 'cases.json'), JSON.stringify({cases, model}))
'''


def main():
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(['node', '--import', 'tsx', '--input-type=module', '-e', WRITE, out], cwd=ROOT, check=True)
        spec = json.loads((pathlib.Path(out) / 'cases.json').read_text())
        for name, expected in spec['cases'].items():
            state = torch.load(pathlib.Path(out) / f'{name}.bin', weights_only=True)
            for key, values in expected.items():
                assert torch.equal(state[key].float().flatten(), torch.tensor(values).to(state[key].dtype).float()), (name, key)
            assert state['a'].untyped_storage().data_ptr() == state['tied'].untyped_storage().data_ptr(), name
            print(name, 'loads in torch', {k: (str(v.dtype), list(v.shape)) for k, v in state.items()})
        ids = torch.tensor([[1, 77, 333, 116, 280]])
        logits = [transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()(ids).logits
                  for path in (spec['model'], pathlib.Path(out) / 'llama', pathlib.Path(out) / 'llama-sharded')]
        assert torch.equal(logits[0], logits[1]) and torch.equal(logits[0], logits[2])
        print('the tiny llama .bin (one file, 3 shards) loads in transformers with the safetensors copy\'s logits')


if __name__ == '__main__':
    main()
