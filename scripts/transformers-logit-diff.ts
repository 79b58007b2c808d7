// The pagedllm half of scripts/transformers-logit-diff.py: writes the engine's logits of every position of two prompts for a test-model variant.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {promptLogits} from '../test/support/model-logits.js'

const [variant, out] = process.argv.slice(2)
if (variant === undefined || out === undefined) throw new Error('usage: npx tsx scripts/transformers-logit-diff.ts <variant> <dir>')
const dir = await ensureTestModel('tiny', {variant: variant as TestModelVariant, dir: out})
const model = await loadModel(dir)
const {logits, prompts} = await promptLogits(model, 'f32')
writeFileSync(join(dir, 'engine-logits.json'), JSON.stringify({prompts, vocab: model.config.vocabSize, logits: Array.from(logits)}))
