// `pagedllm make-test-model`: writes a seeded-random Hugging Face checkpoint (tiny/small/bench) for tests and benchmarks.
import {Flags} from '@oclif/core'
import {prepareOutputDir} from '../cli/output-paths.js'
import {PagedLLMCommand} from '../cli/pagedllm-command.js'
import {
  TEST_MODEL_PRESETS,
  TEST_MODEL_VARIANTS,
  ensureTestModel,
  testModelConfigJson,
  testModelParameterCount,
  type TestModelPreset,
  type TestModelVariant,
} from '../engine/model/test-model.js'
import {join} from 'node:path'
import {loadModel} from '../engine/model/load-model.js'
import type {TensorDtype} from '../engine/model/safetensors.js'
import {GGUF_FILE_FORMATS, ggufExportLayout, writeGguf, type GgufFileFormat} from '../bench/peer/gguf-writer.js'
import {InvalidRequestError} from '../engine/errors.js'
import {parseModelConfig} from '../engine/model/model-config.js'

export default class MakeTestModel extends PagedLLMCommand {
  static override description = 'Write a seeded-random checkpoint of a supported architecture (config, safetensors, and the tokenizer of its family: Llama 2, Llama 3, Qwen2, GPT-2 or OPT)'
  static override examples = [
    '<%= config.bin %> make-test-model --preset bench',
    '<%= config.bin %> make-test-model --preset tiny --variant qwen2 --dtype bf16 --out ./models/tiny-qwen2',
    '<%= config.bin %> make-test-model --preset small --out ./test-model --gguf q4_k    # also test-model/model-q4_k.gguf',
  ]
  static override flags = {
    preset: Flags.string({description: 'Model size', options: [...TEST_MODEL_PRESETS], default: 'tiny'}),
    variant: Flags.string({description: 'Architecture flavour', options: [...TEST_MODEL_VARIANTS], default: 'llama'}),
    // The generator takes 32 bits of it: 2^32 would silently write seed 0's weights under another name.
    seed: Flags.integer({description: 'Seed of the random weights and merges, 0 to 4294967295 (default 0)', default: 0, min: 0, max: 2 ** 32 - 1}),
    dtype: Flags.string({description: 'Weight dtype in the safetensors file', options: ['f32', 'bf16', 'f16'], default: 'f32'}),
    out: Flags.string({description: 'Output directory (default: the cache under .cache/models)'}),
    gguf: Flags.string({description: 'Also write the checkpoint as a GGUF file of this format (model-FORMAT.gguf in the output directory; variants llama, llama3, qwen2, qwen3, gemma, phi3)', options: [...GGUF_FILE_FORMATS]}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(MakeTestModel)
    const preset = flags.preset as TestModelPreset
    const variant = flags.variant as TestModelVariant
    // A variant no GGUF file can say is refused before anything is written, not after its checkpoint.
    if (flags.gguf !== undefined) refuseUnexportable(preset, variant)
    if (flags.out) prepareOutputDir(flags.out, 'out')
    const started = performance.now()
    const dir = await ensureTestModel(preset, {seed: flags.seed, dtype: flags.dtype.toUpperCase() as TensorDtype, dir: flags.out, variant})
    const parameters = (testModelParameterCount(preset, variant) / 1e6).toFixed(2)
    this.log(`${preset} (${variant}, ${parameters}M parameters, ${flags.dtype}, seed ${flags.seed}) ready in ${((performance.now() - started) / 1000).toFixed(1)} s: ${dir}`)
    if (flags.gguf === undefined) return
    const path = join(dir, `model-${flags.gguf}.gguf`)
    writeGguf(await loadModel(dir), path, {format: flags.gguf as GgufFileFormat})
    this.log(`GGUF (${flags.gguf}): ${path}`)
  }
}

/** Throws a one-line flag error naming why the variant's config cannot be written as GGUF. */
function refuseUnexportable(preset: TestModelPreset, variant: TestModelVariant): void {
  try {
    ggufExportLayout(parseModelConfig(testModelConfigJson(preset, {variant})))
  } catch (error) {
    throw new InvalidRequestError(`--gguf cannot write --variant ${variant}: ${(error as Error).message}`, {param: 'gguf'})
  }
}
