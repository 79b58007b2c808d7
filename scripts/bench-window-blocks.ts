// Sliding-window block release at equal KV memory: the same long requests on a windowed model (every layer slides) run
// with the blocks behind each window released (EngineConfig.releaseWindowBlocks, the default) and kept, in one pool.
// Reports the most and mean sequences running per step, the most blocks in use, steps, wall time and tokens/s.
// Usage: npx tsx scripts/bench-window-blocks.ts [--window 128] [--num-blocks 64] [--block-size 16] [--requests 16]
//          [--prompt-len 128] [--output-len 896] [--threads 2]
// The model is the tiny Mistral test checkpoint with its window and positions rewritten in a scratch copy.
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({options: {
  window: {type: 'string', default: '128'}, 'num-blocks': {type: 'string', default: '64'}, 'block-size': {type: 'string', default: '16'},
  requests: {type: 'string', default: '16'}, 'prompt-len': {type: 'string', default: '128'}, 'output-len': {type: 'string', default: '896'},
  threads: {type: 'string', default: '2'},
}})
const [window, numBlocks, blockSize, numRequests, promptLen, outputLen] =
  ['window', 'num-blocks', 'block-size', 'requests', 'prompt-len', 'output-len'].map((key) => Number(args[key as keyof typeof args]))

const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-window-blocks-'))
try {
  cpSync(await ensureTestModel('tiny', {variant: 'mistral'}), scratch, {recursive: true})
  const config = JSON.parse(readFileSync(join(scratch, 'config.json'), 'utf8'))
  writeFileSync(join(scratch, 'config.json'), JSON.stringify({...config, sliding_window: window, max_position_embeddings: promptLen + outputLen}))
  const requests = Array.from({length: numRequests}, (_, r) => ({
    prompt: Array.from({length: promptLen}, (_, i) => 1 + ((i * 53 + r * 97) % 400)),
    params: makeSamplingParams({temperature: 0, maxTokens: outputLen, ignoreEos: true}),
  }))
  console.log(`tiny Mistral, window ${window} on every layer; ${numBlocks} blocks of ${blockSize} (${numBlocks * blockSize} tokens); ` +
    `${numRequests} requests of ${promptLen} + ${outputLen} tokens; ${args.threads} threads`)
  for (const releaseWindowBlocks of [false, true]) {
    const engine = await LLMEngine.create(makeEngineConfig({
      modelPath: scratch, device: 'cpu', threads: Number(args.threads), weightDtype: 'f32', blockSize, numBlocks,
      maxNumBatchedTokens: 256, preemptionMode: 'recompute', releaseWindowBlocks,
    }))
    let steps = 0, seqSteps = 0, maxSeqs = 0, maxBlocks = 0
    engine.onStep((stats) => {
      steps++
      seqSteps += stats.numSeqs
      maxSeqs = Math.max(maxSeqs, stats.numSeqs)
      maxBlocks = Math.max(maxBlocks, stats.kv.usedBlocks)
    })
    const started = performance.now()
    const outputs = await engine.generate(requests)
    const seconds = (performance.now() - started) / 1000
    const tokens = outputs.reduce((sum, output) => sum + output.outputs[0]!.tokenIds.length, 0)
    const {numPreemptions} = engine.stats()
    await engine.shutdown()
    console.log(`${releaseWindowBlocks ? 'released' : 'kept    '}: sequences per step max ${maxSeqs}, mean ${(seqSteps / steps).toFixed(1)}; ` +
      `blocks in use max ${maxBlocks}; ${steps} steps, ${numPreemptions} preemptions; ${seconds.toFixed(1)} s, ${(tokens / seconds).toFixed(0)} output tokens/s`)
  }
} finally {
  rmSync(scratch, {recursive: true, force: true})
}
