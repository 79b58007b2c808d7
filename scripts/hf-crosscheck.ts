// The pagedllm half of the optional cross-check against the Python stack (scripts/hf-crosscheck.py runs it; npm test never does).
// Writes the test models of every variant with pagedllm's encodings of some texts, downloads a repo from the fake Hub into
// a pagedllm cache, prints one JSON line (endpoint, dirs, cache) and keeps the fake Hub up until stdin closes.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {resolveModel} from '../src/engine/hub/resolve-model.js'
import {ensureTestModel, TEST_MODEL_VARIANTS} from '../src/engine/model/test-model.js'
import {Tokenizer} from '../src/engine/model/tokenizer.js'
import {FakeHub} from '../test/support/fake-hub.js'
import {tinyCheckpointFiles} from '../test/support/hub-checkpoints.js'

const work = process.argv[2]
if (work === undefined) throw new Error('usage: npx tsx scripts/hf-crosscheck.ts <scratch dir>')
const TEXTS = [' 1234567', 'Hello world', "I'LL DON'T we're", 'naïve café — 日本語 🚀\n\nx', 'def f(x):\n\treturn x*2  ', 'Numbers 3.14159 and 2024', 'e\u0301t\u00e9', '  two leading spaces']
const CHAT = [{role: 'system', content: 'Be brief.'}, {role: 'user', content: 'What is 1234567 + 1?'}]

const tokenizers: Record<string, unknown> = {}
for (const variant of TEST_MODEL_VARIANTS) {
  for (const preset of ['tiny', 'small'] as const) {
    const dir = await ensureTestModel(preset, {variant, dir: join(work, 'models', `${preset}-${variant}`)})
    const tokenizer = Tokenizer.load(dir)
    const texts = TEXTS.map((text) => ({text, ids: tokenizer.encode(text), decoded: tokenizer.decode(tokenizer.encode(text), {skipSpecialTokens: true})}))
    tokenizers[dir] = {texts, chat: CHAT, chatText: tokenizer.applyChatTemplate(CHAT), chatIds: tokenizer.encodeChat(CHAT)}
  }
}
writeFileSync(join(work, 'pagedllm-tokenizers.json'), JSON.stringify(tokenizers))

const hub = await FakeHub.start()
hub.treePageSize = 2 // exercise huggingface_hub's paging too
const files = {...(await tinyCheckpointFiles()), 'README.md': '# tiny\n', 'sub/dir/notes.txt': 'nested'}
const commit = hub.addRepo('acme/tiny', files)
hub.addRepo('acme/old-name', files)
hub.renameRepo('acme/old-name', 'acme/new-name')
const pagedllmCache = join(work, 'pagedllm-cache')
await resolveModel('acme/tiny', {endpoint: hub.endpoint, cacheDir: pagedllmCache, progress: false})
console.log(JSON.stringify({endpoint: hub.endpoint, commit, pagedllmCache, tokenizers: join(work, 'pagedllm-tokenizers.json')}))
process.stdin.resume()
process.stdin.on('end', () => void hub.close().then(() => process.exit(0)))
