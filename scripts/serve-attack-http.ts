// The HTTP-layer attacks of scripts/serve-attacks.ts: framing, encodings, charsets, odd JSON, headers, methods and paths.
import {gzipSync, deflateSync, brotliCompressSync} from 'node:zlib'
import {gist, postBytes, problemOf, raw, request, type RawReply, type Target} from './serve-attack-wire.js'

export interface Attack {
  cls: string
  name: string
  /** A finding, or null when the server behaved. */
  run: (target: Target) => Promise<string | null>
}

const SMALL = {prompt: 'hi', max_tokens: 2}
const ROUTES = ['/health', '/ping', '/version', '/metrics', '/v1/models', '/v1/models/tinychat', '/v1/completions', '/v1/chat/completions', '/v1/responses', '/tokenize', '/detokenize', '/v1/responses/resp_x', '/v1/embeddings']

/** Every reply on the connection is JSON (or an interim 100) and none is a 5xx but an honest 503. */
function rawProblem(reply: RawReply, expected?: number[]): string | null {
  if (reply.statuses.length === 0) return reply.closed ? 'closed without a reply' : 'no reply'
  if (reply.statuses.some((status) => status >= 500 && status !== 503)) return `a 5xx: ${gist(reply)}`
  if (expected && JSON.stringify(reply.statuses) !== JSON.stringify(expected)) return `statuses ${reply.statuses} (wanted ${expected}): ${gist(reply)}`
  const bodies = reply.text.split(/HTTP\/1\.1 \d{3} [^\r]*\r\n/).slice(1)
  for (const [index, part] of bodies.entries()) {
    if (reply.statuses[index] === 100 || reply.statuses[index] === 204) continue
    const body = part.slice(part.indexOf('\r\n\r\n') + 4)
    if (reply.statuses[index]! >= 400 && !body.includes('"error"')) return `a ${reply.statuses[index]} without an error object: ${gist(reply)}`
  }
  return null
}

const bodyAttack = (name: string, bytes: Buffer, expected?: number[]): Attack => ({cls: 'body', name, run: async (target) => rawProblem(await raw(target, [bytes]), expected)})

function framing(): Attack[] {
  const body = JSON.stringify(SMALL)
  const one = postBytes('/v1/completions', body)
  const chunked = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n`
  return [
    {cls: 'http', name: 'pipelined 4 on one socket', run: async (t) => rawProblem(await raw(t, [Buffer.concat([one, one, Buffer.from('GET /health HTTP/1.1\r\nhost: x\r\n\r\n'), one])], 4000), [200, 200, 200, 200])},
    {cls: 'http', name: 'pipelined 40 on one socket', run: async (t) => {
      const reply = await raw(t, [Buffer.concat(Array.from({length: 40}, () => one))], 8000)
      return rawProblem(reply) ?? (reply.statuses.filter((s) => s === 200).length >= 16 ? null : `only ${reply.statuses.filter((s) => s === 200).length} served: ${reply.statuses}`)
    }},
    {cls: 'http', name: 'pipelined after a bad request', run: async (t) => rawProblem(await raw(t, [Buffer.concat([postBytes('/v1/completions', '{'), one])], 3000), [400, 200])},
    {cls: 'http', name: 'pipelined: ok, a 413, then more', run: async (t) => rawProblem(await raw(t, [Buffer.concat([one, postBytes('/v1/completions', '', {'content-length': String(1 << 30)}), one])], 3000), [200, 413])},
    {cls: 'http', name: 'pipelined: ok, 100-continue, gzip 415, ok', run: async (t) => rawProblem(await raw(t, [Buffer.concat([one, postBytes('/v1/completions', '', {'content-length': String(body.length), expect: '100-continue'})]), 300, body, postBytes('/v1/completions', gzipSync(body), {'content-encoding': 'gzip'}), one], 3000), [200, 100, 200, 415, 200])},
    // RFC 9112 9.6: the request that asked to close is answered, what follows it is not processed.
    {cls: 'http', name: 'bytes after a Connection: close request', run: async (t) => rawProblem(await raw(t, [Buffer.concat([postBytes('/v1/completions', body, {connection: 'close'}), one])]), [200])},
    {cls: 'http', name: 'bytes while a Connection: close stream runs', run: async (t) => {
      const reply = await raw(t, [postBytes('/v1/completions', JSON.stringify({...SMALL, max_tokens: 40, stream: true}), {connection: 'close'}), 30, 'GET /health HTTP/1.1\r\nhost: x\r\n\r\n'], 3000)
      return rawProblem(reply, [200]) ?? (reply.text.endsWith('data: [DONE]\n\n\r\n0\r\n\r\n') ? null : `the stream was cut: ${reply.text.slice(-120)}`)
    }},
    {cls: 'http', name: 'Expect: 100-continue', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', '', {'content-length': String(body.length), expect: '100-continue'}), 300, body], 3000), [100, 200])},
    {cls: 'http', name: 'Expect: 100-continue, too large', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', '', {'content-length': String(1 << 30), expect: '100-continue'})]))},
    {cls: 'http', name: 'Expect: 100-continue on GET', run: async (t) => rawProblem(await raw(t, ['GET /health HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\n\r\n']))},
    {cls: 'http', name: 'Expect: bogus', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', body, {expect: 'teapot'})]), [417])},
    {cls: 'http', name: 'TE chunked + Content-Length', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', chunked(body), {'transfer-encoding': 'chunked', 'content-length': '5'})]))},
    {cls: 'http', name: 'TE chunked twice', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', chunked(body), {'transfer-encoding': 'chunked, chunked'})]))},
    {cls: 'http', name: 'TE gzip, chunked', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', chunked(body), {'transfer-encoding': 'gzip, chunked'})]))},
    {cls: 'http', name: 'two Content-Lengths', run: async (t) => rawProblem(await raw(t, [`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\ncontent-length: 3\r\n\r\n${body}`]))},
    {cls: 'http', name: 'Content-Length negative', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', body, {'content-length': '-1'})]))},
    {cls: 'http', name: 'Content-Length 2^64', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', body, {'content-length': '18446744073709551616'})]))},
    {cls: 'http', name: 'chunk size over 2^64', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', 'fffffffffffffffff\r\nabc', {'transfer-encoding': 'chunked'})]))},
    {cls: 'http', name: 'chunk size not hex', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', `zz\r\n${body}\r\n0\r\n\r\n`, {'transfer-encoding': 'chunked'})]), [400])},
    {cls: 'http', name: 'chunk data past its size', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', `5\r\n${body}\r\n0\r\n\r\n`, {'transfer-encoding': 'chunked'})]), [400])},
    {cls: 'http', name: 'chunk one byte at a time', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', [...body].map((c) => `1\r\n${c}\r\n`).join('') + '0\r\n\r\n', {'transfer-encoding': 'chunked'})]), [200])},
    {cls: 'http', name: 'chunk extensions flood', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', `${body.length.toString(16)};${'a=b;'.repeat(20000)}\r\n${body}\r\n0\r\n\r\n`, {'transfer-encoding': 'chunked'})], 3000))},
    {cls: 'http', name: 'trailers after chunked body', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', `${body.length.toString(16)}\r\n${body}\r\n0\r\nx-trailer: 1\r\n\r\n`, {'transfer-encoding': 'chunked', trailer: 'x-trailer'})]), [200])},
    {cls: 'http', name: 'HTTP/1.0 no host', run: async (t) => rawProblem(await raw(t, ['GET /health HTTP/1.0\r\n\r\n']), [200])},
    {cls: 'http', name: 'HTTP/2 preface', run: async (t) => rawProblem(await raw(t, ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n']))},
    {cls: 'http', name: 'HTTP/1.1 upgrade websocket', run: async (t) => rawProblem(await raw(t, ['GET /health HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n']))},
    {cls: 'http', name: 'h2c upgrade POST', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', body, {connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA'})]))},
    {cls: 'http', name: 'refused body is not read on', run: async (t) => {
      // 64 MiB offered after a 413's headers: the server must hang up, not read it all to discard it.
      const reply = await raw(t, [postBytes('/v1/completions', '', {'content-length': String(1 << 30)}), ...Array.from({length: 64}, () => Buffer.alloc(1 << 20, 32))], 3000)
      return rawProblem(reply, [413]) ?? (reply.closed ? null : 'the connection stayed open')
    }},
    {cls: 'http', name: '5000 headers', run: async (t) => rawProblem(await raw(t, [`GET /health HTTP/1.1\r\nhost: x\r\n${Array.from({length: 5000}, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`]))},
    {cls: 'http', name: '100 small headers', run: async (t) => rawProblem(await raw(t, [`GET /health HTTP/1.1\r\nhost: x\r\n${Array.from({length: 100}, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`]), [200])},
    {cls: 'http', name: 'URL 200 KB', run: async (t) => rawProblem(await raw(t, [`GET /health?${'a'.repeat(200_000)} HTTP/1.1\r\nhost: x\r\n\r\n`]))},
    {cls: 'http', name: 'query 10k params', run: async (t) => rawProblem(await raw(t, [`GET /v1/models?${Array.from({length: 10000}, (_, i) => `k${i}=v`).join('&').slice(0, 15000)} HTTP/1.1\r\nhost: x\r\n\r\n`]), [200])},
    {cls: 'http', name: 'absolute-form target', run: async (t) => rawProblem(await raw(t, ['GET http://evil.example/health HTTP/1.1\r\nhost: x\r\n\r\n']), [200])},
    {cls: 'http', name: 'asterisk target', run: async (t) => rawProblem(await raw(t, ['OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n']))},
    {cls: 'http', name: 'NUL in header value', run: async (t) => rawProblem(await raw(t, ['GET /health HTTP/1.1\r\nhost: x\r\nx-a: a\0b\r\n\r\n']))},
    {cls: 'http', name: 'obs-fold header', run: async (t) => rawProblem(await raw(t, ['GET /health HTTP/1.1\r\nhost: x\r\nx-a: a\r\n b\r\n\r\n']))},
    {cls: 'http', name: 'bare LF lines', run: async (t) => rawProblem(await raw(t, ['GET /health HTTP/1.1\nhost: x\n\n']))},
    {cls: 'http', name: 'Authorization junk (no key set)', run: async (t) => rawProblem(await raw(t, [postBytes('/v1/completions', body, {authorization: 'Bearer ' + '\u00ff'.repeat(100)})]), [200])},
  ]
}

function encodings(): Attack[] {
  const body = JSON.stringify(SMALL)
  const bomb = gzipSync(Buffer.alloc(64 << 20, 32))
  const text = (bytes: Buffer, headers: Record<string, string>, expected?: number[]) => ({bytes: postBytes('/v1/completions', bytes, headers), expected})
  const cases: [string, {bytes: Buffer; expected?: number[]}][] = [
    ['gzip bomb 64 MB', text(bomb, {'content-encoding': 'gzip'}, [415])],
    ['deflate body', text(deflateSync(body), {'content-encoding': 'deflate'}, [415])],
    ['br body', text(brotliCompressSync(body), {'content-encoding': 'br'}, [415])],
    ['Content-Encoding identity', text(Buffer.from(body), {'content-encoding': 'identity'}, [200])],
    ['Content-Encoding gzip, empty body', text(Buffer.alloc(0), {'content-encoding': 'gzip'})],
    ['charset utf-16le', text(Buffer.from(body, 'utf16le'), {'content-type': 'application/json; charset=utf-16le'}, [200])],
    ['charset utf-16 with BOM', text(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')]), {'content-type': 'application/json; charset=utf-16'}, [200])],
    ['charset utf-16 big-endian with BOM', text(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(body, 'utf16le').swap16()]), {'content-type': 'application/json; charset=utf-16'}, [200])],
    ['charset latin1', text(Buffer.from(JSON.stringify({prompt: 'caf\u00e9', max_tokens: 2}), 'latin1'), {'content-type': 'application/json; charset=iso-8859-1'}, [200])],
    ['UTF-16LE, no charset, no BOM', text(Buffer.from(body, 'utf16le'), {}, [200])],
    ['UTF-16BE, no charset, BOM', text(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(body, 'utf16le').swap16()]), {}, [200])],
    ['UTF-32LE, no charset', text(Buffer.from(Uint32Array.from([...body], (char) => char.codePointAt(0)!).buffer), {}, [415])],
    ['UTF-32BE with BOM, charset utf-32', text(Buffer.from(Uint32Array.from([0xfeff, ...[...body].map((char) => char.codePointAt(0)!)]).buffer).swap32(), {'content-type': 'application/json; charset=utf-32'}, [415])],
    ['charset bogus', text(Buffer.from(body), {'content-type': 'application/json; charset=klingon'}, [415])],
    ['charset quoted "utf-8"', text(Buffer.from(body), {'content-type': 'application/json; charset="utf-8"'}, [200])],
    ['content-type text/plain', text(Buffer.from(body), {'content-type': 'text/plain'})],
    ['content-type form', text(Buffer.from('prompt=hi'), {'content-type': 'application/x-www-form-urlencoded'})],
    ['no content-type', {bytes: Buffer.from(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`)}],
    ['UTF-8 BOM', text(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]), {})],
    ['invalid UTF-8 in a string', text(Buffer.concat([Buffer.from('{"prompt":"a'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('","max_tokens":2}')]), {}, [400])],
    ['overlong UTF-8 slash', text(Buffer.concat([Buffer.from('{"prompt":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from('","max_tokens":2}')]), {}, [400])],
    ['CESU surrogate bytes', text(Buffer.concat([Buffer.from('{"prompt":"a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","max_tokens":2}')]), {}, [400])],
    ['escaped lone surrogate \\ud800', text(Buffer.from('{"prompt":"a\\ud800b","max_tokens":2}'), {}, [200])],
    ['escaped lone low surrogate in chat', {bytes: postBytes('/v1/chat/completions', '{"messages":[{"role":"user","content":"\\udc00"}],"max_tokens":2}'), expected: [200]}],
    ['lone surrogate in stop', text(Buffer.from('{"prompt":"a","max_tokens":2,"stop":["\\ud800"]}'), {})],
    ['lone surrogate in logit_bias key', text(Buffer.from('{"prompt":"a","max_tokens":2,"logit_bias":{"\\ud800":1}}'), {}, [400])],
    ['lone surrogate in tokenize', {bytes: postBytes('/tokenize', '{"prompt":"\\ud800"}'), expected: [200]}],
    // Round 10: escapes, -0 and exponents where fields are integers or keys (each answered as noted, never a 5xx).
    ['escaped surrogate pair and its reverse in stop', text(Buffer.from('{"prompt":"a","max_tokens":2,"stop":["\\ud83d\\ude00","\\ude00\\ud83d"]}'), {}, [200])],
    ['escaped digit as a logit_bias key', text(Buffer.from('{"prompt":"a","max_tokens":2,"logit_bias":{"\\u0035":1}}'), {}, [200])],
    ['duplicate logit_bias keys', text(Buffer.from('{"prompt":"a","max_tokens":2,"logit_bias":{"5":1,"5":-1}}'), {}, [200])],
    ['logit_bias key of a fullwidth / math digit', text(Buffer.from('{"prompt":"a","max_tokens":2,"logit_bias":{"\\uff11":1,"\\ud835\\udfd3":1}}'), {}, [400])],
    ['logit_bias key after a zero-width space', text(Buffer.from('{"prompt":"a","max_tokens":2,"logit_bias":{"\\u200b5":1}}'), {}, [400])],
    ['logit_bias value -0 and 1e-400', text(Buffer.from('{"prompt":"a","max_tokens":2,"logit_bias":{"5":-0,"6":1e-400}}'), {}, [200])],
    ['-0 and 1e0 in every integer field', text(Buffer.from('{"prompt":[5,-0,1e0],"max_tokens":2.0e0,"n":1e0,"logprobs":0e5,"top_k":-1e0,"seed":-0,"min_tokens":-0,"prompt_logprobs":-0,"stop_token_ids":[-0,5e0]}'), {}, [200])],
    ['-0 in every float field', text(Buffer.from('{"prompt":"a","max_tokens":2,"temperature":-0,"presence_penalty":-0,"frequency_penalty":-0.0,"min_p":-0,"repetition_penalty":1e0}'), {}, [200])],
    ['top_p 1e-400 (0)', text(Buffer.from('{"prompt":"a","max_tokens":2,"top_p":1e-400}'), {}, [400])],
    ['seed 1e400', text(Buffer.from('{"prompt":"a","max_tokens":2,"seed":1e400}'), {}, [400])],
    ['best_of 2.0000000000000001 (2)', text(Buffer.from('{"prompt":"a","max_tokens":2,"n":2,"best_of":2.0000000000000001}'), {}, [200])],
    ['NUL escaped in prompt', text(Buffer.from('{"prompt":"a\\u0000b","max_tokens":2}'), {}, [200])],
    ['duplicate keys', text(Buffer.from('{"prompt":"a","max_tokens":"x","max_tokens":2}'), {}, [200])],
    ['__proto__ key', text(Buffer.from('{"prompt":"a","max_tokens":2,"__proto__":{"n":5}}'), {}, [200])],
    ['constructor key', text(Buffer.from('{"prompt":"a","max_tokens":2,"constructor":{"prototype":{"x":1}}}'), {}, [200])],
    ['max_tokens 1e400', text(Buffer.from('{"prompt":"a","max_tokens":1e400}'), {}, [400])],
    ['max_tokens -0', text(Buffer.from('{"prompt":"a","max_tokens":-0}'), {}, [400])],
    ['max_tokens 1.0', text(Buffer.from('{"prompt":"a","max_tokens":1.0}'), {}, [200])],
    ['max_tokens 2.5', text(Buffer.from('{"prompt":"a","max_tokens":2.5}'), {}, [400])],
    ['n 1e0', text(Buffer.from('{"prompt":"a","max_tokens":2,"n":1e0}'), {}, [200])],
    ['seed 2^64', text(Buffer.from('{"prompt":"a","max_tokens":2,"seed":18446744073709551616}'), {})],
    ['seed -2^63', text(Buffer.from('{"prompt":"a","max_tokens":2,"seed":-9223372036854775808}'), {})],
    ['temperature 1e308', text(Buffer.from('{"prompt":"a","max_tokens":2,"temperature":1e308}'), {})],
    ['temperature 1e400', text(Buffer.from('{"prompt":"a","max_tokens":2,"temperature":1e400}'), {}, [400])],
    ['top_p -1e400', text(Buffer.from('{"prompt":"a","max_tokens":2,"top_p":-1e400}'), {}, [400])],
    ['number 1e-400', text(Buffer.from('{"prompt":"a","max_tokens":2,"temperature":1e-400}'), {}, [200])],
    ['number with 10k digits', text(Buffer.from(`{"prompt":"a","max_tokens":${'9'.repeat(10000)}}`), {}, [400])],
    ['nesting depth 100k', text(Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)), {}, [400])],
    ['nesting depth 100k in an object field', text(Buffer.from(`{"prompt":"a","max_tokens":2,"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), {})],
    ['top-level null', text(Buffer.from('null'), {}, [400])],
    ['top-level array', text(Buffer.from('[1]'), {}, [400])],
    ['top-level string', text(Buffer.from('"x"'), {}, [400])],
    ['trailing garbage', text(Buffer.from(body + 'x'), {}, [400])],
    ['two JSON values', text(Buffer.from(body + body), {}, [400])],
    ['JSON with NaN', text(Buffer.from('{"prompt":"a","max_tokens":2,"temperature":NaN}'), {}, [400])],
    ['JSON with comments', text(Buffer.from('{"prompt":"a",/*x*/"max_tokens":2}'), {}, [400])],
    ['empty body', text(Buffer.alloc(0), {}, [400])],
    ['whitespace body', text(Buffer.from(' \n\t '), {}, [400])],
  ]
  return cases.map(([name, {bytes, expected}]) => bodyAttack(name, bytes, expected))
}

function methodsAndPaths(): Attack[] {
  const attacks: Attack[] = []
  for (const path of ROUTES)
    for (const method of ['HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'GET', 'POST', 'FOO'])
      attacks.push({cls: 'methods', name: `${method} ${path}`, run: async (t) => {
        const reply = await raw(t, [`${method} ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}`], 2500)
        if (method === 'HEAD') return reply.statuses.length === 1 && reply.statuses[0]! < 500 ? null : `HEAD: ${gist(reply)}`
        return rawProblem(reply)
      }})
  for (const path of ROUTES) {
    attacks.push({cls: 'paths', name: `trailing slash ${path}/`, run: async (t) => rawProblem(await raw(t, [`GET ${path}/ HTTP/1.1\r\nhost: x\r\n\r\n`]))})
    // A trailing slash or doubled slashes name the same route: the same status as the plain path.
    attacks.push({cls: 'paths', name: `${path}/ and /${path.replace(/\//g, '//')} as ${path}`, run: async (t) => {
      const plain = (await raw(t, [`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`])).statuses
      for (const variant of [`${path}/`, `/${path.replace(/\//g, '//')}`]) {
        const reply = await raw(t, [`GET ${variant} HTTP/1.1\r\nhost: x\r\n\r\n`])
        if (JSON.stringify(reply.statuses) !== JSON.stringify(plain)) return `${variant}: ${gist(reply)} (${path}: ${plain})`
      }
      return null
    }})
    attacks.push({cls: 'cors', name: `preflight ${path}`, run: async (t) => {
      const reply = await raw(t, [`OPTIONS ${path} HTTP/1.1\r\nhost: x\r\norigin: http://evil.example\r\naccess-control-request-method: POST\r\naccess-control-request-headers: authorization, content-type\r\n\r\n`])
      return reply.statuses[0] === 200 && /access-control-allow-origin/i.test(reply.text) ? null : `preflight: ${gist(reply)}`
    }})
  }
  const paths = ['/v1/../health', '/%2e%2e/health', '/v1/%2e%2e/%2e%2e/etc/passwd', '/v1/models/%00', '/v1/models/%ff%fe', '/v1/models/%', '/v1/models/%zz', '/v1/responses/%00', '/v1/responses/..%2f..%2fetc%2fpasswd', '/v1/responses/resp_x/input_items?limit=-1', '/v1/responses/resp_x/input_items?limit=1e400&after=%ff', '//health', '///v1//models', '/v1/models?x=%ff', '/HEALTH', '/v1/Completions', '/health;x=1', '/health#frag', '/v1/responses/' + 'a'.repeat(10000), '/v1/models/' + '%41'.repeat(3000)]
  for (const path of paths) attacks.push({cls: 'paths', name: `GET ${path.slice(0, 60)}`, run: async (t) => rawProblem(await raw(t, [`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`]))})
  attacks.push({cls: 'paths', name: 'POST /v1/completions/ (trailing slash)', run: async (t) => {
    const reply = await request(t, 'POST', '/v1/completions/', SMALL)
    return problemOf('/v1/completions', reply, SMALL)
  }})
  return attacks
}

export function httpAttacks(): Attack[] {
  return [...framing(), ...encodings(), ...methodsAndPaths()]
}
