// `pagedllm compare`: runs KV policies and/or OpenAI-compatible endpoints across a request-rate sweep and plots them.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Flags} from '@oclif/core'
import chalk from 'chalk'
import {reportInterrupt} from '../cli/interrupt.js'
import {prepareOutputDir, prepareOutputFile} from '../cli/output-paths.js'
import {PagedLLMCommand} from '../cli/pagedllm-command.js'
import {benchFlags, parsePolicies, refuseIdleTraceFlags, resultsJson, suiteOptionsFromFlags} from '../bench/bench-flags.js'
import {runBenchSuite, type SuiteResults} from '../bench/bench-suite.js'
import {PROMPT_FORMATS, type PromptFormat} from '../bench/endpoint-prompts.js'
import {DEFAULT_ENDPOINT_TIMEOUT_S} from '../bench/endpoint-run.js'
import {MAX_TIMER_SECONDS} from '../cli/number-flag.js'
import {givenFlags} from '../cli/given-flags.js'
import {workloadTitle, writePlots} from '../bench/plots.js'
import {renderHeadline, renderOutputAgreement} from '../bench/report-table.js'

const DEFAULT_POLICIES = 'paged,orca-max,orca-oracle'

// compare always sweeps --request-rates: bench's single --request-rate would be silently ignored here.
const {'request-rate': _singleRate, ...sharedBenchFlags} = benchFlags

export default class Compare extends PagedLLMCommand {
  static override description =
    'Compare KV policies and/or OpenAI-compatible servers across request rates; writes latency, batch-size and KV-memory plots (SVG + PNG)'
  static override examples = [
    '<%= config.bin %> compare --trace sharegpt --request-rates 0.25,0.5,1,2',
    '<%= config.bin %> compare --endpoint http://localhost:8000 --endpoint http://localhost:8001 --request-rates 1,2,4',
    '<%= config.bin %> compare --endpoint http://gpu-a:8000 --endpoint-label vllm --endpoint http://gpu-b:8000 --endpoint-label pagedllm',
    '<%= config.bin %> compare --policies paged,orca-max --endpoint http://localhost:8000 --out out/mine',
  ]
  static override flags = {
    ...sharedBenchFlags,
    policies: Flags.string({description: `KV policies to run on the local engine (default ${DEFAULT_POLICIES}; none when --endpoint is given)`}),
    // inf adds the offline run: the memory-bound state the KV-memory plot shows.
    'request-rates': Flags.string({description: 'Request rates to sweep (req/s; inf = all at t=0)', default: '0.5,1,2,4,inf'}),
    endpoint: Flags.string({description: 'Base URL of an OpenAI-compatible server (POST /v1/completions, streaming; OPENAI_API_KEY is sent as its bearer token when set); repeatable', multiple: true}),
    'endpoint-label': Flags.string({description: 'Name of an endpoint in tables and plots, in --endpoint order (default host:port); repeatable', multiple: true}),
    'endpoint-timeout': Flags.integer({
      description: 'Seconds an endpoint may send nothing (no response headers, no byte of a stream) before the comparison stops with an error',
      default: DEFAULT_ENDPOINT_TIMEOUT_S,
      min: 1,
      max: MAX_TIMER_SECONDS,
    }),
    'endpoint-model': Flags.string({description: 'Model name to send to the endpoints (default: the first one GET /v1/models lists)'}),
    'prompt-format': Flags.string({
      description:
        "Endpoint prompts: text (the dataset's text, else text of each traced length in the server's tokens via its /tokenize, else filler words; any server) " +
        "or ids (token ids of the local model's vocabulary: the servers must serve a model with that vocabulary)",
      options: [...PROMPT_FORMATS],
      default: 'text',
    }),
    out: Flags.string({description: 'Directory for results.json and the plots', default: 'out/compare'}),
    json: Flags.string({description: 'Also write the results (the same JSON as results.json in --out) to this file'}),
  }

  async run(): Promise<void> {
    const {flags, raw} = await this.parse(Compare)
    refuseIdleTraceFlags(flags, givenFlags(raw))
    prepareOutputDir(flags.out, 'out')
    if (flags.json) prepareOutputFile(flags.json, 'json')
    const endpoints = flags.endpoint ?? []
    const log = (line: string) => process.stderr.write(chalk.dim(line) + '\n')
    const policies = flags.policies ? parsePolicies(flags.policies) : endpoints.length > 0 ? [] : parsePolicies(DEFAULT_POLICIES)
    const stopReporting = reportInterrupt(() => `nothing written to ${flags.out} (results and plots come once every run has finished)`)
    const options = suiteOptionsFromFlags(flags, {
      policies,
      endpoints,
      endpointLabels: flags['endpoint-label'],
      endpointModel: flags['endpoint-model'],
      endpointTimeoutS: flags['endpoint-timeout'],
      promptFormat: flags['prompt-format'] as PromptFormat,
      log,
    })
    const results: SuiteResults = await options.then(runBenchSuite).finally(stopReporting)
    const json = resultsJson(results)
    writeFileSync(join(flags.out, 'results.json'), json)
    if (flags.json) writeFileSync(flags.json, json)
    const plots = await writePlots(results.runs, workloadTitle(results.workload), flags.out)
    this.log(renderHeadline(results) + '\n')
    const agreement = renderOutputAgreement(results)
    if (agreement) this.log(agreement + '\n')
    this.log(`results: ${[join(flags.out, 'results.json'), ...(flags.json ? [flags.json] : [])].join(', ')}`)
    for (const path of plots) this.log(`plot: ${path}`)
    // Figure 12 needs a line: say why it is missing rather than leave the user looking for it.
    if (!plots.some((path) => path.includes('latency-vs-rate')))
      this.log('no latency-vs-rate plot: it needs at least two finite --request-rates (inf is the offline run)')
  }
}
