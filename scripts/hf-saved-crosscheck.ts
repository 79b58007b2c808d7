// The pagedllm half of scripts/hf-saved-crosscheck.py: loads each checkpoint transformers saved and writes the CPU
// backend's f32 logits of every position of its prompts (pagedllm-logits.f32 in the model directory), or the load error.
//   npx tsx scripts/hf-saved-crosscheck.ts <manifest.json>   (a list of {dir, prompts}; prints one JSON line per model)
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {loadModel} from '../src/engine/model/load-model.js'
import {promptLogits} from '../test/support/model-logits.js'

const [manifestPath] = process.argv.slice(2)
if (manifestPath === undefined) throw new Error('usage: npx tsx scripts/hf-saved-crosscheck.ts <manifest.json>')
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {dir: string; prompts: number[][]}[]
for (const {dir, prompts} of manifest) {
  try {
    const model = await loadModel(dir)
    const {logits} = await promptLogits(model, 'f32', prompts)
    writeFileSync(join(dir, 'pagedllm-logits.f32'), logits)
    console.log(JSON.stringify({dir, ok: true, vocab: model.config.vocabSize}))
  } catch (error) {
    console.log(JSON.stringify({dir, ok: false, error: (error as Error).message}))
  }
}
