// Seeded and greedy completions through the server (tiny q8_0 model): each alone, then the same bodies sent by 48
// concurrent clients (streamed and not, beside unseeded ones with other parameters) must give the same text and logprobs.
// Usage: npx tsx scripts/probe-sampling-server.ts
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'

const base = {max_tokens: 16, ignore_eos: true, logprobs: 3}
const TARGETS = [
  {...base, prompt: [5, 9, 13, 21, 34], temperature: 1.2, seed: 42, n: 3},
  {...base, prompt: 'hello there', temperature: 0},
  {...base, prompt: [7, 7, 7, 8], temperature: 0.7, seed: -9, top_k: 20, top_p: 0.8, repetition_penalty: 100, logit_bias: {'17': 100, '3': -100}},
  {...base, prompt: 'abc', temperature: 100, seed: 1, min_p: 1, frequency_penalty: 2},
  {...base, prompt: [1, 2, 3], temperature: 0.9, seed: 3, min_tokens: 8, stop_token_ids: [4, 5, 6], ignore_eos: false},
]
const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 2, numBlocks: 256, blockSize: 16, quantization: 'q8_0'}))
const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: 'probe', log: () => {}})
const {url} = await server.listen()
server.attachEngine(engine)
async function post(to: string, body: object): Promise<{status: number; text: string; json: () => any}> {
  const response = await fetch(to, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
  const text = await response.text()
  return {status: response.status, text, json: () => JSON.parse(text)}
}
const sseEvents = (text: string): any[] => text.split('\n\n').filter((e) => e !== '').map((e) => e.slice('data: '.length)).map((d) => (d === '[DONE]' ? d : JSON.parse(d)))
const endpoint = `${url}/v1/completions`
const outcome = (json: any) => json.choices.map((c: any) => ({index: c.index, text: c.text, logprobs: c.logprobs}))
async function once(body: object, stream: boolean): Promise<unknown> {
  const reply = await post(endpoint, {...body, stream})
  if (reply.status !== 200) throw new Error(`${reply.status} ${reply.text}`)
  if (!stream) return outcome(reply.json())
  // Reassemble a stream per choice index.
  const byIndex = new Map<number, {text: string; tokens: string[]; token_logprobs: number[]; top_logprobs: unknown[]; text_offset: number[]}>()
  for (const event of sseEvents(reply.text)) {
    if (event === '[DONE]') continue
    for (const choice of event.choices) {
      const entry = byIndex.get(choice.index) ?? {text: '', tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []}
      entry.text += choice.text
      if (choice.logprobs) for (const key of ['tokens', 'token_logprobs', 'top_logprobs'] as const) (entry[key] as unknown[]).push(...choice.logprobs[key])
      byIndex.set(choice.index, entry)
    }
  }
  return [...byIndex].sort((a, b) => a[0] - b[0]).map(([index, e]) => ({index, text: e.text, logprobs: {tokens: e.tokens, token_logprobs: e.token_logprobs, top_logprobs: e.top_logprobs}}))
}
const comparable = (value: unknown) => JSON.stringify((value as any[]).map((c) => ({index: c.index, text: c.text, tokens: c.logprobs.tokens, lp: c.logprobs.token_logprobs, top: c.logprobs.top_logprobs})))
try {
  const alone: string[] = []
  for (const target of TARGETS) alone.push(comparable(await once(target, false)))
  const jobs: Array<Promise<[number, string]>> = []
  for (let client = 0; client < 48; client++) {
    const t = client % (TARGETS.length + 3)
    if (t < TARGETS.length) jobs.push(once(TARGETS[t]!, client % 2 === 0).then((o) => [t, comparable(o)]))
    else jobs.push(once({...base, prompt: `filler ${client}`, temperature: [0.3, 1, 2][client % 3], n: 1 + (client % 2), max_tokens: 4 + client}, false).then(() => [-1, '']))
  }
  let differing = 0
  let compared = 0
  for (const [t, got] of await Promise.all(jobs)) {
    if (t < 0) continue
    compared++
    if (got !== alone[t]) {
      differing++
      console.log(`target ${t} differs:\n alone ${alone[t]!.slice(0, 300)}\n here  ${got.slice(0, 300)}`)
    }
  }
  console.log(`server: ${compared} concurrent target replies compared with their alone replies, ${differing} differ`)
} finally {
  await server.shutdown(0)
  await engine.shutdown()
}
