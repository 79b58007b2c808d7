// The GGUF family files scripts/fuzz-model-files.ts --gguf mutates: each family's test checkpoint written as llama.cpp's
// converter writes it, by the writers the family's test uses (test/support/*-gguf.ts), as metadata and tensor specs.
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {loadModel, type LoadedModel} from '../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {denseFamilyMetadata, denseFamilyTensors} from '../test/support/dense-family-gguf.js'
import {withConfig} from '../test/support/edited-checkpoint.js'
import {gemma4Metadata, gemma4RopeFreqs, gemma4Tensors} from '../test/support/gemma4-gguf.js'
import {gemma3nMetadata, gemma3nTensors} from '../test/support/gemma3n-gguf.js'
import type {GgufEntry, GgufTensorSpec} from '../test/support/gguf-file.js'
import {gatedDeltaMetadata, gatedDeltaTensors, hybridMetadata, hybridTensors} from '../test/support/hybrid-gguf.js'
import {kimiLinearForGguf, kimiLinearGgufMetadata, kimiLinearGgufTensors} from '../test/support/kimi-linear-gguf.js'
import {lfm2MambaMetadata, lfm2MambaTensors, type Lfm2MambaArch} from '../test/support/lfm2-mamba-gguf.js'
import {moeFamilyMetadata, moeFamilyTensors, type MoeFamilyArch} from '../test/support/moe-family-gguf.js'
import {moreDenseMetadata, moreDenseTensors, ternarizedBitnetCheckpoint} from '../test/support/more-dense-gguf.js'
import {ssmHybridMetadata, ssmHybridTensors, type SsmHybridArch} from '../test/support/ssm-hybrid-gguf.js'
import {mistral4Metadata, mistral4Tensors} from '../test/support/mistral4-gguf.js'
import {youtuMetadata, youtuTensors} from '../test/support/youtu-gguf.js'
import type {TokenizerFamilyName} from '../src/engine/model/tokenizer-families.js'

export interface GgufFamilyFile {
  name: string
  metadata: Record<string, GgufEntry>
  tensors: GgufTensorSpec[]
}

type Build = () => Promise<Omit<GgufFamilyFile, 'name'>>

const tiny = async (variant: TestModelVariant): Promise<LoadedModel> => loadModel(await ensureTestModel('tiny', {variant}))

const moe = (arch: MoeFamilyArch, variant: TestModelVariant, tokenizer: TokenizerFamilyName): Build => async () => {
  const hf = arch === 'afmoe' ? await withConfig(await ensureTestModel('tiny', {variant}), (json) => ({...json, global_attn_every_n_layers: 4})) : await tiny(variant)
  return {metadata: moeFamilyMetadata(arch, hf.config, tokenizer), tensors: moeFamilyTensors(hf, arch)}
}
const dense = (arch: string, variant: TestModelVariant): Build => async () => {
  const hf = await tiny(variant)
  return {metadata: denseFamilyMetadata(arch, hf.config), tensors: denseFamilyTensors(hf, arch)}
}
const ssm = (arch: SsmHybridArch, variant: TestModelVariant): Build => async () => {
  const hf = await tiny(variant)
  return {metadata: ssmHybridMetadata(hf, arch), tensors: ssmHybridTensors(hf, arch)}
}
const lfm2Mamba = (arch: Lfm2MambaArch, variant: TestModelVariant): Build => async () => {
  const hf = await tiny(variant)
  return {metadata: lfm2MambaMetadata(hf, arch), tensors: lfm2MambaTensors(hf, arch)}
}

/** Every family the fuzzer knows, by name. */
export const GGUF_FAMILIES: Record<string, Build> = {
  gemma4: async () => {
    const hf = await tiny('gemma4')
    return {metadata: gemma4Metadata(hf), tensors: [gemma4RopeFreqs(hf), ...gemma4Tensors(hf)]}
  },
  'gemma4-moe': async () => {
    const hf = await tiny('gemma4-moe')
    return {metadata: gemma4Metadata(hf), tensors: [gemma4RopeFreqs(hf), ...gemma4Tensors(hf)]}
  },
  ...Object.fromEntries((['gemma3n', 'gemma3n-defaults'] as const).map((variant) => [variant, async () => {
    const hf = await tiny(variant)
    return {metadata: gemma3nMetadata(hf), tensors: gemma3nTensors(hf)}
  }])),
  'kimi-linear': async () => {
    const source = kimiLinearForGguf(await ensureTestModel('tiny', {variant: 'kimi-linear'}), join(mkdtempSync(join(tmpdir(), 'pagedllm-fuzz-kimi-')), 'hf'))
    const hf = await loadModel(source)
    return {metadata: kimiLinearGgufMetadata(source, hf.config.vocabSize), tensors: kimiLinearGgufTensors(source)}
  },
  // Youtu-LLM's deepseek2 file (its YaRN's mscale_all_dim 1.2, as the test checkpoint's).
  youtu: async () => {
    const source = await ensureTestModel('tiny', {variant: 'youtu'})
    const hf = await loadModel(source)
    return {metadata: youtuMetadata(hf.config, 1.2), tensors: youtuTensors(source, hf.config)}
  },
  // Mistral Small 4's mistral4 file (its YaRN's mscale_all_dim 1.2, as the test checkpoint's).
  mistral4: async () => {
    const source = await ensureTestModel('tiny', {variant: 'mistral4'})
    const hf = await loadModel(source)
    return {metadata: mistral4Metadata(hf.config, 1.2), tensors: mistral4Tensors(source, hf.config)}
  },
  // Mellum's checkpoint as llama.cpp's mellum graph runs a file (gguf-mellum-hy-v3.test.ts): every layer routed, one rope base.
  mellum: async () => {
    const hf = await withConfig(
      await ensureTestModel('tiny', {variant: 'mellum'}),
      (json) => ({...json, mlp_layer_types: ['sparse', 'sparse', 'sparse'], rope_parameters: {...json.rope_parameters, sliding_attention: {rope_type: 'default', rope_theta: 1e6}}}),
      (layer) => (layer === 0 ? 2 : layer),
    )
    return {metadata: moeFamilyMetadata('mellum', hf.config, 'gpt2'), tensors: moeFamilyTensors(hf, 'mellum')}
  },
  bitnet: async () => {
    const hf = await loadModel(ternarizedBitnetCheckpoint(await ensureTestModel('tiny', {variant: 'bitnet'}), join(mkdtempSync(join(tmpdir(), 'pagedllm-fuzz-bitnet-')), 'hf'), 'relu2'))
    return {metadata: moreDenseMetadata('bitnet', hf), tensors: moreDenseTensors(hf)}
  },
  ...Object.fromEntries((['minicpm3', 'apertus', 'jais2'] as const).map((arch) => [arch, async () => {
    const hf = await tiny(arch)
    return {metadata: moreDenseMetadata(arch, hf), tensors: moreDenseTensors(hf)}
  }])),
  'ernie4_5-moe': moe('ernie4_5-moe', 'ernie4_5_moe', 'gpt2'),
  'hunyuan-moe': moe('hunyuan-moe', 'hunyuan_moe', 'gpt2'),
  dots1: moe('dots1', 'dots1', 'qwen2'),
  'minimax-m2': moe('minimax-m2', 'minimax_m2', 'gpt2'),
  'exaone-moe': moe('exaone-moe', 'exaone_moe', 'gpt2'),
  dbrx: moe('dbrx', 'dbrx', 'gpt2'),
  afmoe: moe('afmoe', 'afmoe', 'gpt2'),
  hy_v3: moe('hy_v3', 'hy-v3', 'gpt2'),
  glm4: dense('glm4', 'glm4'),
  exaone4: dense('exaone4', 'exaone4'),
  seed_oss: dense('seed_oss', 'seedoss'),
  ernie4_5: dense('ernie4_5', 'ernie4_5'),
  arcee: dense('arcee', 'arcee'),
  nemotron: dense('nemotron', 'nemotron'),
  nemotron_h: ssm('nemotron_h', 'nemotron-h'),
  nemotron_h_moe: ssm('nemotron_h_moe', 'nemotron-h-moe'),
  'falcon-h1': ssm('falcon-h1', 'falcon-h1'),
  granitehybrid: async () => {
    const hf = await tiny('granitemoehybrid')
    return {metadata: hybridMetadata(hf, 'granitehybrid'), tensors: hybridTensors(hf, 'granitehybrid')}
  },
  mamba2: async () => {
    const hf = await tiny('mamba2')
    return {metadata: hybridMetadata(hf, 'mamba2'), tensors: hybridTensors(hf, 'mamba2')}
  },
  ...Object.fromEntries(([['qwen3next', 'qwen3_next'], ['qwen35', 'qwen3_5'], ['qwen35moe', 'qwen3_5_moe']] as const).map(([arch, variant]) => [arch, async () => {
    const hf = await tiny(variant)
    return {metadata: gatedDeltaMetadata(hf, arch), tensors: gatedDeltaTensors(hf, arch)}
  }])),
  lfm2: lfm2Mamba('lfm2', 'lfm2'),
  lfm2moe: lfm2Mamba('lfm2moe', 'lfm2-moe'),
  mamba: lfm2Mamba('mamba', 'mamba'),
  jamba: lfm2Mamba('jamba', 'jamba'),
}

/** The named families' files; a family whose writer fails is reported and left out (the fuzzer then runs the rest). */
export async function ggufFamilyFiles(names: string[]): Promise<GgufFamilyFile[]> {
  const files: GgufFamilyFile[] = []
  for (const name of names) {
    const build = GGUF_FAMILIES[name]
    if (!build) throw new Error(`unknown GGUF family ${name}; families: ${Object.keys(GGUF_FAMILIES).join(', ')}`)
    try {
      files.push({name, ...(await build())})
    } catch (error) {
      console.log(`family ${name} left out: its writer failed: ${(error as Error).message}`)
    }
  }
  return files
}
