// `pagedllm generate`: offline generation for one or more prompts, streamed to the terminal or as JSON.
import {Args, Flags} from '@oclif/core'
import {InvalidRequestError} from '../engine/errors.js'
import type {SamplingParams} from '../engine/sampling-params.js'
import {outputTextFrom, outputTextLength, outputTokenCount, type RequestOutput} from '../engine/request-output.js'
import {chatTemplateFlag, engineFlags} from '../cli/engine-flags.js'
import {PagedLLMCommand} from '../cli/pagedllm-command.js'
import {guidedFlags, guidedSpecFromFlags} from '../cli/guided-flags.js'
import {samplingErrorAsFlagError, samplingFlags, samplingParamsFromFlags} from '../cli/sampling-flags.js'
import {reportInterrupt} from '../cli/interrupt.js'
import {startEngine} from '../cli/start-engine.js'
import {promptsFromArgs, stdinFirstDataLimitMs} from '../cli/stdin-prompt.js'
import {givenFlags} from '../cli/given-flags.js'
import {checkTextFits} from '../server/prompt-tokenizer.js'

export default class Generate extends PagedLLMCommand {
  static override description = 'Generate text for one or more prompts on the local engine'
  static override examples = [
    '<%= config.bin %> generate --chat "What is the capital of France?"    # the built-in 6M-parameter demo model',
    '<%= config.bin %> make-test-model --preset small --out ./test-model     # or seeded-random weights in HF format',
    '<%= config.bin %> generate --model ./test-model --n 4 --temperature 0.8 --seed 1 "Once upon a time"',
    '<%= config.bin %> generate --model ./test-model --beam-width 4 "The best way to learn is"',
    '<%= config.bin %> generate --model Qwen/Qwen2.5-0.5B-Instruct --chat --max-tokens 64 "Write a haiku about the sea"',
    'cat article.txt | <%= config.bin %> generate --max-tokens 32    # the prompt from stdin (also: -)',
  ]
  static override strict = false
  // Read by promptsFromArgs, not oclif (whose stdin read gives up after 10 ms): none or "-" takes the prompt from stdin.
  static override args = {prompt: Args.string({description: 'Prompt text (several prompts: several arguments; none or "-": one prompt read from stdin)', ignoreStdin: true})}
  static override flags = {
    ...engineFlags,
    ...chatTemplateFlag,
    ...guidedFlags,
    ...samplingFlags,
    chat: Flags.boolean({description: "Wrap each prompt as a user message in the model's chat template", default: false}),
    system: Flags.string({description: 'System message for --chat'}),
    json: Flags.boolean({description: 'Print machine-readable JSON instead of streaming text', default: false}),
  }

  async run(): Promise<void> {
    // Ctrl-C before the output starts (reading the prompt, loading the model, compiling a grammar) loses nothing else.
    const stopReporting = reportInterrupt(() => 'nothing generated (the command was starting: reading the prompt, loading the model or compiling the grammar)')
    await this.generate().finally(stopReporting)
  }

  private async generate(): Promise<void> {
    const {argv, flags, raw} = await this.parse(Generate)
    refuseIgnoredFlags(flags)
    const prompts = await promptsFromArgs(argv as string[], process.stdin, stdinFirstDataLimitMs(), () =>
      process.stderr.write('waiting for the prompt on stdin (no PROMPT argument given)...\n'),
    )
    // --seed given: every request brings it (its samples repeat alone or in any batch, as vLLM's SamplingParams(seed=...)).
    // Not given: requests bring none and the engine derives one per request from its seed, so runs repeat and two
    // identical prompts still sample differently, as in vLLM's LLM.generate.
    const seed = givenFlags(raw).has('seed') ? flags.seed : null
    const params = samplingParamsFromFlags(flags, seed, guidedSpecFromFlags(flags))
    const maxTokensGiven = givenFlags(raw).has('max-tokens')
    const engine = await startEngine(flags, {quiet: flags.json})
    try {
      if (flags.chat && !engine.tokenizer.hasChatTemplate)
        throw new InvalidRequestError(`--chat needs a chat template, and ${engine.modelName} has none: give one with --chat-template, or the prompt without --chat`, {param: 'chat'})
      await engine.prepareRequest(params)
      const requests = prompts.map((text) => {
        const messages = [...(flags.system ? [{role: 'system', content: flags.system}] : []), {role: 'user', content: text}]
        const rendered = flags.chat ? engine.tokenizer.applyChatTemplate(messages, {addGenerationPrompt: true}) : text
        // Text longer than the context can hold is refused by its size: tokenizing megabytes a template wrote takes minutes.
        checkTextFits(engine.tokenizer, rendered, engine.maxModelLen, 'prompt')
        // The ids the engine would make of the text (a chat's template writes its own special tokens).
        const promptIds = engine.tokenizer.encode(rendered, {addSpecialTokens: !flags.chat})
        return {prompt: promptIds, params: maxTokensGiven ? params : withDefaultMaxTokens(params, engine.maxModelLen - promptIds.length)}
      })
      // The engine names sampling fields as a request does (n, best_of): the user gave flags (--n, --best-of).
      const inFlagTerms = (error: unknown) => samplingErrorAsFlagError(error, flags['beam-width'] !== undefined)
      // One prompt with one visible sequence streams; anything else prints whole results in order.
      const streams = !flags.json && prompts.length === 1 && params.n === 1 && params.bestOf === 1
      if (streams) {
        let handle
        try {
          handle = engine.addRequest(requests[0]!)
        } catch (error) {
          throw inFlagTerms(error)
        }
        let printed = 0
        let tokens = 0
        process.stdout.write(flags.chat ? '' : prompts[0]!)
        const stopReporting = reportInterrupt(() => `${tokens} tokens generated (the text above)`)
        for await (const output of handle) {
          // Only the new text is read: a long output prints each step's piece, not the whole text again.
          const completion = output.outputs[0]!
          process.stdout.write(outputTextFrom(completion, printed))
          printed = outputTextLength(completion)
          tokens = outputTokenCount(completion)
        }
        stopReporting()
        process.stdout.write('\n')
        this.printSummary([await handle.result()])
        return
      }
      const stopReporting = reportInterrupt(() => `no output: ${prompts.length} prompt(s) were generating, printed only when all finish`)
      const results = await engine
        .generate(requests)
        .catch((error: unknown) => Promise.reject(inFlagTerms(error)))
        .finally(stopReporting)
      if (flags.json) {
        this.log(JSON.stringify(results.map((result, i) => toJson(prompts[i]!, result)), null, 2))
        return
      }
      results.forEach((result, i) => {
        this.log(`=== prompt ${i}: ${JSON.stringify(prompts[i])}`)
        for (const output of result.outputs) {
          const label = result.outputs.length > 1 ? `--- sample ${output.index} (logprob ${output.cumulativeLogprob.toFixed(2)}, ${output.finishReason})\n` : ''
          this.log(`${label}${output.text}`)
        }
      })
      this.printSummary(results)
    } finally {
      await engine.shutdown()
    }
  }

  private printSummary(results: RequestOutput[]): void {
    const tokens = results.reduce((sum, result) => sum + result.outputs.reduce((s, o) => s + o.tokenIds.length, 0), 0)
    const start = Math.min(...results.map((result) => result.metrics.arrivalTime))
    const end = Math.max(...results.map((result) => result.metrics.finishedTime ?? result.metrics.arrivalTime))
    const seconds = Math.max(end - start, 1e-9)
    process.stderr.write(`[${tokens} tokens in ${seconds.toFixed(2)} s, ${(tokens / seconds).toFixed(1)} tokens/s]\n`)
  }
}

function toJson(prompt: string, result: RequestOutput) {
  return {
    prompt,
    prompt_token_ids: result.promptTokenIds,
    // vLLM's RequestOutput.num_cached_tokens: prompt tokens taken from the prefix cache.
    num_cached_tokens: result.numCachedTokens,
    outputs: result.outputs.map((output) => ({
      index: output.index,
      text: output.text,
      token_ids: output.tokenIds,
      cumulative_logprob: output.cumulativeLogprob,
      finish_reason: output.finishReason,
      stop_reason: output.stopReason,
      logprobs: output.logprobs?.map((entry) => Object.fromEntries(entry)) ?? null,
    })),
    // vLLM's prompt_logprobs: null for the first token, which nothing predicts.
    prompt_logprobs: result.promptLogprobs?.map((entry) => (entry === null ? null : Object.fromEntries(entry))) ?? null,
    // vLLM's RequestMetrics names, as every other field here (the engine's own are camelCase).
    metrics: {
      arrival_time: result.metrics.arrivalTime,
      first_scheduled_time: result.metrics.firstScheduledTime,
      first_token_time: result.metrics.firstTokenTime,
      finished_time: result.metrics.finishedTime,
      ...(result.specDecode ? {spec_decode: {proposed: result.specDecode.numDraftTokens, accepted: result.specDecode.numAcceptedTokens, acceptance_rate: result.specDecode.acceptanceRate}} : {}),
    },
  }
}

/**
 * Without --max-tokens its default is capped at the room the context leaves after the prompt, as the server's default
 * max_tokens is (vLLM's too): a long prompt runs to the context's end instead of being refused for a number nobody
 * asked for. Never below --min-tokens, and a prompt that leaves no room still meets the engine's context error.
 */
function withDefaultMaxTokens(params: SamplingParams, room: number): SamplingParams {
  const maxTokens = Math.max(Math.min(params.maxTokens, room), params.minTokens, 1)
  return maxTokens === params.maxTokens ? params : {...params, maxTokens}
}

/** Flags the run would silently ignore (or contradict) are refused, naming them: the user meant something else. */
function refuseIgnoredFlags(flags: Record<string, any>): void {
  const refuse = (param: string, message: string) => {
    throw new InvalidRequestError(message, {param})
  }
  const beamWidth = flags['beam-width'] as number | undefined
  if (beamWidth !== undefined) {
    // Beam search keeps the beams of highest cumulative logprob: nothing is sampled.
    const sampling = (['temperature', 'top-p', 'top-k', 'min-p'] as const).find((name) => flags[name] !== {temperature: 0, 'top-p': 1, 'top-k': 0, 'min-p': 0}[name])
    if (sampling) refuse(sampling, `--${sampling} cannot be used with --beam-width: beam search keeps the most likely beams and samples nothing`)
    if (flags['best-of'] !== undefined) refuse('best-of', '--best-of cannot be used with --beam-width: the beam width is the number of candidates')
    if (flags.n > beamWidth) refuse('n', `--n ${flags.n} exceeds --beam-width ${beamWidth}: beam search returns at most its beams`)
  } else {
    if (flags['length-penalty'] !== 1) refuse('length-penalty', '--length-penalty scores beams: it needs --beam-width')
    if (flags['early-stopping'] !== undefined) refuse('early-stopping', '--early-stopping ends a beam search: it needs --beam-width')
    if (flags['best-of'] > 1 && flags.temperature === 0)
      refuse('best-of', `--best-of ${flags['best-of']} picks the best of several samples, but with --temperature 0 every sample is the same greedy text: set --temperature`)
  }
  if (flags.system !== undefined && !flags.chat) refuse('system', '--system is a chat message: it needs --chat')
  if (flags['chat-template'] !== undefined && !flags.chat) refuse('chat-template', '--chat-template renders the prompt as a chat: it needs --chat')
  for (const name of ['logprobs', 'prompt-logprobs'])
    if (flags[name] !== undefined && !flags.json) refuse(name, `--${name} are printed in the --json output only: add --json`)
}
