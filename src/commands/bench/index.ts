// `pagedllm bench`: replays a request trace on each KV policy (same engine, model and KV budget) and compares them.
import {writeFileSync} from 'node:fs'
import {Flags} from '@oclif/core'
import chalk from 'chalk'
import {reportInterrupt} from '../../cli/interrupt.js'
import {prepareOutputDir, prepareOutputFile} from '../../cli/output-paths.js'
import {PagedLLMCommand} from '../../cli/pagedllm-command.js'
import {givenFlags} from '../../cli/given-flags.js'
import {benchFlags, parsePolicies, refuseIdleTraceFlags, resultsJson, suiteOptionsFromFlags, whyDefaults} from '../../bench/bench-flags.js'
import {runBenchSuite, type SuiteResults} from '../../bench/bench-suite.js'
import {workloadTitle, writePlots} from '../../bench/plots.js'
import {renderHeadline, renderLatencies, renderOutputAgreement, renderProjection, renderStepTimes} from '../../bench/report-table.js'

export default class Bench extends PagedLLMCommand {
  static override description =
    'Benchmark KV policies (paged vs the Orca and FasterTransformer-style baselines) on ShareGPT/Alpaca traces, offline or at Poisson request rates'
  static override examples = [
    '<%= config.bin %> bench --trace sharegpt',
    '<%= config.bin %> bench --trace alpaca --num-prompts 200 --policies paged,orca-max,orca-pow2,orca-oracle',
    '<%= config.bin %> bench --request-rates 0.5,1,2 --json results.json',
    '<%= config.bin %> bench --trace synthetic --input-len 128 --output-len 512 --spread exponential',
    '<%= config.bin %> bench --dataset ShareGPT_V3_unfiltered_cleaned_split.json --model ./my-model --kv-memory 256MiB',
  ]
  static override flags = {
    ...benchFlags,
    plots: Flags.string({description: 'Also write the batch-size and KV-memory plots (SVG + PNG) into this directory'}),
  }

  async run(): Promise<void> {
    const {flags, raw} = await this.parse(Bench)
    refuseIdleTraceFlags(flags, givenFlags(raw))
    if (flags.plots) prepareOutputDir(flags.plots, 'plots')
    if (flags.json) prepareOutputFile(flags.json, 'json')
    const started = performance.now()
    const log = (line: string) => process.stderr.write(chalk.dim(line) + '\n')
    const stopReporting = reportInterrupt(() => `no results (tables${flags.json ? ', --json' : ''}${flags.plots ? ', --plots' : ''} come once every run has finished)`)
    // Reported from the start: reading the dataset and loading the model are where a Ctrl-C most often lands.
    const results: SuiteResults = await suiteOptionsFromFlags(flags, {policies: parsePolicies(flags.policies), endpoints: [], log}).then(runBenchSuite).finally(stopReporting)
    const wallS = (performance.now() - started) / 1000
    const engine = results.engine!
    const w = results.workload
    this.log(chalk.bold(`\npagedllm bench: ${w.source}`))
    this.log(`${w.numPrompts} requests (seed ${w.seed}); prompt mean ${w.stats.prompt.mean.toFixed(1)}, output mean ${w.stats.output.mean.toFixed(1)} tokens; ` +
      `model ${engine.model}, context ${engine.maxModelLen}; KV pool ${engine.totalBlocks} blocks x ${engine.blockSize} = ${engine.poolTokens} tokens; ${engine.backend}, ${engine.threads} threads`)
    this.log('"KV holds tokens" = tokens stored / reserved slots, averaged over steps; "mean batch" = sequences per step, averaged over steps; paged/this = paged\'s throughput over this run\'s.\n')
    for (const section of [renderHeadline(results), renderLatencies(results), renderProjection(results), renderStepTimes(results), renderOutputAgreement(results)]) if (section) this.log(section + '\n')
    if (usesDefaults(flags)) this.log(chalk.dim(whyDefaults()) + '\n')
    this.log(`wall time ${wallS.toFixed(1)} s`)
    if (flags.plots) {
      const written = await writePlots(results.runs, workloadTitle(w), flags.plots)
      for (const path of written) this.log(`plot: ${path}`)
    }
    if (flags.json) {
      writeFileSync(flags.json, resultsJson({...results, wallTimeS: wallS}))
      this.log(`results written to ${flags.json}`)
    }
  }
}

function usesDefaults(flags: Record<string, unknown>): boolean {
  return !flags.model && !flags['num-blocks'] && !flags['kv-memory']
}
