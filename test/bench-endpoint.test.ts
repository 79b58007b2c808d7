// The HTTP endpoint driver against fake OpenAI-compatible servers: streaming, text prompts sized by /tokenize, /metrics scraping, labels.
import assert from 'node:assert/strict'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {parsePrometheusText, readSample, summarizeSamples} from '../src/bench/endpoint-metrics.js'
import {endpointTextPrompts, fillerText} from '../src/bench/endpoint-prompts.js'
import {describeEndpoint, endpointAgent, endpointLabels, makeEndpointAgent, runOnEndpoint, serverSentData} from '../src/bench/endpoint-run.js'
import {endpointUrl} from '../src/bench/endpoint-url.js'
import {BenchRandom} from '../src/bench/random.js'
import {InvalidRequestError, UnavailableError} from '../src/engine/errors.js'

const TOKEN_DELAY_MS = 3
const received: Record<string, unknown>[] = []

/**
 * Streams max_tokens chunks "<prompt length>:<i> " then a usage chunk (when asked for), then [DONE]. With
 * `extras`: a one-token-per-character /tokenize (BOS = 1) and /detokenize, and vLLM-named /metrics whose
 * running gauge is the number of streams open and whose preemption counter counts requests.
 */
function fakeServer(extras = false): Server {
  let open = 0
  let served = 0
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({object: 'list', data: [{id: 'fake-model', object: 'model', max_model_len: 4096}]}))
      return
    }
    if (extras && req.method === 'GET' && req.url === '/metrics') {
      res.end(`# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name="fake-model"} ${open}\n` +
        `vllm:num_requests_waiting{model_name="fake-model"} 0\nvllm:kv_cache_usage_perc{model_name="fake-model"} ${open / 10}\n` +
        `vllm:num_preemptions_total{model_name="fake-model"} ${served}\n`)
      return
    }
    if (req.method !== 'POST' || !(req.url === '/v1/completions' || (extras && (req.url === '/tokenize' || req.url === '/detokenize')))) {
      res.statusCode = 404
      res.end(JSON.stringify({error: {message: 'not found'}}))
      return
    }
    let raw = ''
    req.on('data', (chunk) => (raw += chunk))
    req.on('end', async () => {
      const body = JSON.parse(raw)
      if (req.url === '/tokenize') {
        const tokens = [...(body.add_special_tokens === false ? [] : [1]), ...[...body.prompt].map((c: string) => c.charCodeAt(0))]
        res.end(JSON.stringify({count: tokens.length, max_model_len: 4096, tokens}))
        return
      }
      if (req.url === '/detokenize') {
        res.end(JSON.stringify({prompt: String.fromCharCode(...body.tokens.filter((id: number) => id !== 1))}))
        return
      }
      received.push(body)
      if (body.model !== 'fake-model') {
        res.statusCode = 404
        res.end(JSON.stringify({error: {message: 'no such model'}}))
        return
      }
      open++
      served++
      res.setHeader('content-type', 'text/event-stream')
      for (let i = 0; i < body.max_tokens; i++) {
        await new Promise((resolve) => setTimeout(resolve, TOKEN_DELAY_MS))
        res.write(`data: ${JSON.stringify({choices: [{index: 0, text: `${body.prompt.length}:${i} `, finish_reason: null}]})}\n\n`)
      }
      if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({choices: [], usage: {prompt_tokens: body.prompt.length, completion_tokens: body.max_tokens}})}\n\n`)
      open--
      res.end('data: [DONE]\n\n')
    })
  })
}

describe('endpoint driver', () => {
  const server = fakeServer()
  let baseUrl = ''
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => server.close())

  const requests = [
    {requestId: 'r0', promptTokenIds: [5, 6, 7], outputLen: 4, arrivalOffset: 0},
    {requestId: 'r1', promptTokenIds: [8, 9], outputLen: 6, arrivalOffset: 0.02},
  ]

  it('keeps a base URL\'s path prefix (a proxy), with or without the /v1 OpenAI clients add', async () => {
    const cases = [
      ['http://h:8000', 'http://h:8000/v1/models'],
      ['http://h:8000/', 'http://h:8000/v1/models'],
      ['http://h:8000/v1/', 'http://h:8000/v1/models'],
      ['http://u:p@h/proxy', 'http://u:p@h/proxy/v1/models'],
      ['http://h/proxy/v1?x=1#y', 'http://h/proxy/v1/models'],
    ]
    for (const [base, expected] of cases) assert.equal(endpointUrl(base!, '/v1/models').href, expected, base)
    const proxied = createServer((req, res) => {
      res.statusCode = req.url === '/proxy/v1/models' ? 200 : 404
      res.end(JSON.stringify({data: [{id: 'behind-proxy'}]}))
    })
    await new Promise<void>((resolve) => proxied.listen(0, '127.0.0.1', resolve))
    try {
      const info = await describeEndpoint(`http://127.0.0.1:${(proxied.address() as AddressInfo).port}/proxy/v1`)
      assert.deepEqual(info, {model: 'behind-proxy', maxModelLen: null})
    } finally {
      proxied.close()
    }
  })

  it('streams completions and measures TTFT, TPOT and e2e from the stream', async () => {
    received.length = 0
    const result = await runOnEndpoint(baseUrl, requests, {temperature: 0, seed: 0})
    assert.equal(result.model, 'fake-model')
    const body = received.find((b) => (b.prompt as number[]).length === 3)!
    assert.deepEqual(body.prompt, [5, 6, 7])
    assert.equal(body.max_tokens, 4)
    assert.equal(body.ignore_eos, true)
    assert.equal(body.stream, true)
    const m = result.metrics
    assert.equal(m.numRequests, 2)
    assert.ok(Math.abs(m.outputTokensPerSecond * m.durationS - 10) < 1e-9) // rates times duration: float rounding
    assert.ok(m.ttftS.mean >= TOKEN_DELAY_MS / 1000 * 0.9, `ttft ${m.ttftS.mean}`)
    assert.ok(m.ttftS.mean < m.e2eLatencyS.mean)
    assert.ok(m.tpotS.mean >= TOKEN_DELAY_MS / 1000 * 0.9, `tpot ${m.tpotS.mean}`)
    // r1 arrives 20 ms late, so the run lasts at least 20 ms + its 6 tokens.
    assert.ok(m.durationS >= 0.02 + 6 * TOKEN_DELAY_MS / 1000 * 0.9)
    assert.deepEqual(Object.keys(result.outputHashes).sort(), ['r0', 'r1'])
    const again = await runOnEndpoint(baseUrl, requests, {temperature: 0, seed: 0})
    assert.deepEqual(again.outputHashes, result.outputHashes)
  })

  it('reports a server error with its status', async () => {
    await assert.rejects(runOnEndpoint(baseUrl, requests, {temperature: 0, seed: 0}, {model: 'other'}), (error: unknown) => {
      assert.ok(error instanceof UnavailableError)
      assert.match((error as Error).message, /404/)
      return true
    })
  })

  it('parses server-sent events split across chunks', async () => {
    async function* chunks() {
      yield 'data: {"a":'
      yield '1}\n\n: comment\ndata: {"a":2}\n'
      yield '\ndata: [DONE]\n\ndata: {"a":3}\n\n'
    }
    const seen: unknown[] = []
    for await (const payload of serverSentData(chunks())) seen.push(payload)
    assert.deepEqual(seen, [{a: 1}, {a: 2}])
  })
})

describe('endpoint text prompts, /metrics and labels', () => {
  const plain = fakeServer()
  const rich = fakeServer(true)
  let plainUrl = ''
  let richUrl = ''
  before(async () => {
    for (const server of [plain, rich]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`
    richUrl = `http://127.0.0.1:${(rich.address() as AddressInfo).port}`
  })
  after(() => {
    plain.close()
    rich.close()
  })
  const trace = [{promptLen: 40, outputLen: 3}, {promptLen: 7, outputLen: 5}, {promptLen: 2, outputLen: 4}]

  it("sizes text prompts in the server's own tokens through /tokenize", async () => {
    const prompts = await endpointTextPrompts(richUrl, 'fake-model', trace, 0, endpointAgent)
    assert.match(prompts.source, /\/tokenize/)
    // One token per character plus the BOS the server adds: each text is its traced length less one character.
    assert.deepEqual(prompts.texts.map((text) => text.length), [39, 6, 1])
    const again = await endpointTextPrompts(richUrl, 'fake-model', trace, 0, endpointAgent)
    assert.deepEqual(again.texts, prompts.texts)
  })

  it('falls back to filler words without /tokenize, and sends the dataset text when the trace has it', async () => {
    const filler = await endpointTextPrompts(plainUrl, 'fake-model', trace, 0, endpointAgent)
    assert.match(filler.source, /filler/)
    assert.deepEqual(filler.texts.map((text) => text.split(' ').length), [39, 6, 1])
    assert.equal(filler.texts[0], fillerText(39, new BenchRandom(0 ^ 0x7e57)))
    const dataset = await endpointTextPrompts(plainUrl, 'fake-model', [{promptLen: 3, outputLen: 4, promptTokenIds: [1, 2, 3], promptText: 'Hi there'}], 0, endpointAgent)
    assert.deepEqual(dataset, {texts: ['Hi there'], source: 'the dataset text'})
  })

  it("sends text, takes the token counts from the server's usage and the batch, KV and preemption columns from its /metrics", async () => {
    received.length = 0
    const requests = [0, 1, 2, 3].map((i) => ({requestId: `r${i}`, promptTokenIds: [1, 2], outputLen: 20, arrivalOffset: 0}))
    const texts = ['abcdefgh', 'abcdefgh', 'abcdefgh', 'abcdefgh']
    const result = await runOnEndpoint(richUrl, requests, {temperature: 0, seed: 0}, {promptTexts: texts, scrapeIntervalMs: 10})
    assert.ok(received.every((body) => body.prompt === 'abcdefgh'))
    assert.ok(Math.abs(result.metrics.inputTokensPerSecond * result.metrics.durationS - 4 * 8) < 1e-9) // usage.prompt_tokens, not the 2 ids
    const server = result.server!
    assert.equal(server.source, 'vllm')
    assert.ok(server.samples > 0)
    assert.ok(server.maxRunning >= 1 && server.maxRunning <= 4, `max running ${server.maxRunning}`)
    assert.equal(result.metrics.maxBatch, server.maxRunning)
    assert.equal(server.preemptions, 4) // the fake's counter counts requests: 4 more after the run than before
    assert.equal(result.metrics.preemptions, 4)
    assert.ok(server.peakKvUsage! > 0 && server.peakKvUsage! <= 0.4)
    assert.equal(server.kvTokenShare, null)
    // A server without /metrics leaves them empty.
    assert.equal((await runOnEndpoint(plainUrl, requests.slice(0, 1), {temperature: 0, seed: 0})).server, null)
  })

  it('reads pagedllm and vLLM metric names', () => {
    const paged = readSample(parsePrometheusText([
      '# HELP pagedllm_num_requests_running x', 'pagedllm_num_requests_running 3', 'pagedllm_num_requests_waiting 2',
      'pagedllm_kv_blocks{state="used"} 30', 'pagedllm_kv_blocks{state="free"} 70', 'pagedllm_kv_blocks{state="total"} 100',
      'pagedllm_kv_waste_ratio 0.25', 'pagedllm_num_preemptions_total 5',
    ].join('\n')))
    assert.deepEqual(paged, {source: 'pagedllm', sample: {running: 3, waiting: 2, kvUsage: 0.3, usedBlocks: 30, tokenShare: 0.75, preemptionsTotal: 5}})
    // Older vLLM: gpu_cache_usage_perc; two engines behind one server add their requests up.
    const vllm = readSample(parsePrometheusText([
      'vllm:num_requests_running{engine="0"} 2', 'vllm:num_requests_running{engine="1"} 1',
      'vllm:gpu_cache_usage_perc{engine="0"} 0.5', 'vllm:gpu_cache_usage_perc{engine="1"} 0.3', 'vllm:num_preemptions_total 1',
    ].join('\n')))
    assert.equal(vllm!.sample.running, 3)
    assert.ok(Math.abs(vllm!.sample.kvUsage! - 0.4) < 1e-12)
    assert.equal(readSample(parsePrometheusText('http_requests_total 4\n')), null)
    const idle = {running: 0, waiting: 0, kvUsage: 0, usedBlocks: 0, tokenShare: null, preemptionsTotal: 1}
    const summary = summarizeSamples('pagedllm', [idle, paged!.sample, {...paged!.sample, running: 5, kvUsage: 0.5, usedBlocks: 50}, {...idle, preemptionsTotal: 9}])
    assert.equal(summary.samples, 2) // idle scrapes do not dilute the means
    assert.equal(summary.meanRunning, 4)
    assert.equal(summary.maxRunning, 5)
    assert.equal(summary.peakUsedBlocks, 50)
    assert.ok(Math.abs(summary.meanKvUsage! - 0.4) < 1e-12)
    assert.equal(summary.preemptions, 8)
  })

  it("names the model and context from GET /v1/models, sending OPENAI_API_KEY as the bearer token", async () => {
    const seen: (string | undefined)[] = []
    const keyed = createServer((req, res) => {
      seen.push(req.headers.authorization)
      res.end(JSON.stringify({data: [{id: 'm', max_model_len: 777}]}))
    })
    await new Promise<void>((resolve) => keyed.listen(0, '127.0.0.1', resolve))
    process.env.OPENAI_API_KEY = 'sk-test'
    try {
      const url = `http://127.0.0.1:${(keyed.address() as AddressInfo).port}`
      const info = await describeEndpoint(url)
      assert.deepEqual(info, {model: 'm', maxModelLen: 777})
      assert.deepEqual(seen, ['Bearer sk-test'])
      // --endpoint-model: one the list names is taken with its context; one it leaves out is refused, naming the list.
      assert.deepEqual(await describeEndpoint(url, 'm'), {model: 'm', maxModelLen: 777})
      await assert.rejects(describeEndpoint(url, 'nosuch'), {name: 'UnavailableError', message: `${url}: --endpoint-model nosuch is not served there; GET /v1/models lists m`})
    } finally {
      delete process.env.OPENAI_API_KEY
      keyed.close()
    }
    await assert.rejects(describeEndpoint('http://127.0.0.1:1'), UnavailableError)
  })

  it('a server that wants an API key (401) is named as such: set OPENAI_API_KEY, or the key it holds was refused', async () => {
    const locked = createServer((req, res) => {
      res.statusCode = req.headers.authorization === 'Bearer right' ? 200 : 401
      res.end(JSON.stringify(res.statusCode === 200 ? {data: [{id: 'm'}]} : {error: {message: 'bad key'}}))
    })
    await new Promise<void>((resolve) => locked.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(locked.address() as AddressInfo).port}`
    try {
      await assert.rejects(describeEndpoint(url), {message: `${url}: GET /v1/models gave no model (status 401: the server wants an API key; set OPENAI_API_KEY to it)`})
      process.env.OPENAI_API_KEY = 'wrong'
      await assert.rejects(describeEndpoint(url), {message: `${url}: GET /v1/models gave no model (status 401: the server refused the key in OPENAI_API_KEY)`})
      process.env.OPENAI_API_KEY = 'right'
      assert.equal((await describeEndpoint(url)).model, 'm')
    } finally {
      delete process.env.OPENAI_API_KEY
      locked.close()
    }
  })

  it('a server that accepts GET /v1/models and never answers is given up on, naming the probe', async () => {
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
    try {
      await assert.rejects(describeEndpoint(url, undefined, makeEndpointAgent(1), 1), {name: 'UnavailableError', message: `${url}: GET /v1/models sent no reply in 1 s`})
    } finally {
      silent.closeAllConnections()
      silent.close()
    }
  })

  it('labels endpoints by --endpoint-label or host:port, never two the same', () => {
    assert.deepEqual(endpointLabels(['http://127.0.0.1:8001', 'http://127.0.0.1:8002/v2/']), ['127.0.0.1:8001', '127.0.0.1:8002/v2'])
    assert.deepEqual(endpointLabels(['http://a:1', 'http://b:2'], ['vllm']), ['vllm', 'b:2'])
    assert.deepEqual(endpointLabels(['http://a:1', 'http://a:1']), ['a:1 #1', 'a:1 #2'])
    assert.throws(() => endpointLabels(['http://a:1'], ['x', 'y']), InvalidRequestError)
    assert.throws(() => endpointLabels(['localhost:8000']), InvalidRequestError) // no scheme: "localhost:" would be one
    assert.throws(() => endpointLabels(['not a url']), InvalidRequestError)
  })
})
