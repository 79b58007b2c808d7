// The pagedllm half of scripts/hf-saved-crosscheck.py and scripts/hf-config-sweep.py: loads each checkpoint transformers
// saved and writes the CPU backend's f32 logits of every position of its prompts (pagedllm-logits.f32 in the model
// directory), or the load error. With `greedy` in an entry it also runs the engine (f32, temperature 0, ignore EOS) for
// that many tokens per prompt; with `texts`, it encodes them with the directory's tokenizer.
//   npx tsx scripts/hf-saved-crosscheck.ts <manifest.json>   (a list of {dir, prompts, greedy?, texts?}; one JSON line per model)
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {promptLogits} from '../test/support/model-logits.js'

type Entry = {dir: string; prompts: number[][]; greedy?: number; texts?: string[]}

async function greedyTokens(dir: string, prompts: number[][], maxTokens: number): Promise<number[][]> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 8 << 20, threads: 2, weightDtype: 'f32'}))
  try {
    const params = makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true})
    const results = await engine.generate(prompts.map((prompt) => ({prompt, params})))
    return results.map((r) => r.outputs[0]!.tokenIds)
  } finally {
    await engine.shutdown()
  }
}

const [manifestPath] = process.argv.slice(2)
if (manifestPath === undefined) throw new Error('usage: npx tsx scripts/hf-saved-crosscheck.ts <manifest.json>')
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Entry[]
for (const {dir, prompts, greedy, texts} of manifest) {
  try {
    const model = await loadModel(dir)
    const {logits} = await promptLogits(model, 'f32', prompts)
    writeFileSync(join(dir, 'pagedllm-logits.f32'), logits)
    const tokenizer = texts === undefined ? undefined : Tokenizer.load(dir)
    const encoded = texts?.map((text) => tokenizer!.encode(text))
    const tokens = greedy === undefined ? undefined : await greedyTokens(dir, prompts, greedy)
    console.log(JSON.stringify({dir, ok: true, vocab: model.config.vocabSize, greedy: tokens, encoded}))
  } catch (error) {
    console.log(JSON.stringify({dir, ok: false, error: (error as Error).message}))
  }
}
