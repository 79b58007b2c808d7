// `pagedllm bench kernels`: times each native CPU kernel against this machine's bandwidth and FMA ceilings.
import {Flags} from '@oclif/core'
import {MAX_THREADS} from '../../cli/engine-flags.js'
import {PagedLLMCommand} from '../../cli/pagedllm-command.js'
import {BLOCK_FORMATS, LOAD_CONVERSIONS} from '../../engine/model/gguf-block-types.js'
import {DEFAULT_KERNEL_BENCH, formatKernelReport, runKernelBench, type KernelBenchOptions} from '../../bench/micro/kernels.js'

const d = DEFAULT_KERNEL_BENCH

export default class BenchKernels extends PagedLLMCommand {
  static override description =
    'Time the native CPU kernels (GEMM, paged attention, norms) at decode, batched and prefill shapes, as a fraction of ' +
    "this machine's measured memory bandwidth and peak FMA throughput. The default ~30M-parameter Llama shape keeps " +
    'batch-1 decode memory-bound (its f32 weights are far larger than L3).'
  static override examples = [
    '<%= config.bin %> bench kernels',
    '<%= config.bin %> bench kernels --threads 1 --weight-format bf16',
    '<%= config.bin %> bench kernels --hidden-size 1024 --intermediate-size 2816 --layers 4 --json',
  ]
  static override flags = {
    'hidden-size': Flags.integer({description: 'Model hidden size', default: d.hiddenSize, min: 8}),
    'intermediate-size': Flags.integer({description: 'MLP intermediate size', default: d.intermediateSize, min: 8}),
    layers: Flags.integer({description: 'Decoder layers (their weights are streamed per decode step)', default: d.numLayers, min: 1}),
    heads: Flags.integer({description: 'Attention heads', default: d.numHeads, min: 1}),
    'kv-heads': Flags.integer({description: 'KV heads (GQA groups)', default: d.numKvHeads, min: 1}),
    vocab: Flags.integer({description: 'Vocabulary size (LM head rows)', default: d.vocabSize, min: 1}),
    threads: Flags.integer({description: 'Compute threads (default 0 = all cores)', default: d.threads, min: 0, max: MAX_THREADS}),
    'weight-format': Flags.string({description: 'Weight storage format (the block formats with a linear kernel: iq4_xs runs as iq4_nl)', options: ['f32', 'bf16', 'f16', ...BLOCK_FORMATS.filter((f) => !LOAD_CONVERSIONS[f])], default: d.weightFormat}),
    batch: Flags.integer({description: 'Rows of the batched-decode shape', default: d.batch, min: 1}),
    'prefill-tokens': Flags.integer({description: 'Tokens of the prefill shape', default: d.prefillTokens, min: 2}),
    'context-len': Flags.integer({description: 'Context length of each decode sequence (attention)', default: d.contextLen, min: 1}),
    'block-size': Flags.integer({description: 'KV block size in tokens', default: d.blockSize, min: 1}),
    'time-ms': Flags.integer({description: 'Minimum measuring time per kernel (ms)', default: d.timeMs, min: 10}),
    'model-step': Flags.boolean({description: "Also time whole native steps of the generated 'bench' test model (written under .cache once)", default: false}),
    only: Flags.string({description: 'Only kernels whose name contains this text (e.g. linear, paged_attention)'}),
    vnni: Flags.string({description: "Quantized prefill's int8 dot products: a VNNI build, or none (AVX2 maddubs); default the best this CPU runs", options: ['avx-vnni', 'avx512-vnni', 'none']}),
    'float-panels': Flags.string({description: "Float weights' prefill panels: avx512 (zmm) or avx2 (ymm); the same outputs bit for bit; default the widest this CPU runs", options: ['avx2', 'avx512']}),
    json: Flags.boolean({description: 'Print the report as JSON', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(BenchKernels)
    const options: KernelBenchOptions = {
      hiddenSize: flags['hidden-size'], intermediateSize: flags['intermediate-size'], numLayers: flags.layers,
      numHeads: flags.heads, numKvHeads: flags['kv-heads'], vocabSize: flags.vocab, threads: flags.threads,
      weightFormat: flags['weight-format'] as KernelBenchOptions['weightFormat'], batch: flags.batch,
      prefillTokens: flags['prefill-tokens'], contextLen: flags['context-len'], blockSize: flags['block-size'], timeMs: flags['time-ms'],
      only: flags.only, modelStep: flags['model-step'], vnni: flags.vnni as KernelBenchOptions['vnni'],
      floatPanels: flags['float-panels'] as KernelBenchOptions['floatPanels'],
    }
    const report = await runKernelBench(options, flags.json ? undefined : (message) => process.stderr.write(`  ${message}\n`))
    this.log(flags.json ? JSON.stringify(report, null, 2) : formatKernelReport(report))
  }
}
