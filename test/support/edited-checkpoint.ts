// A test checkpoint read with its config.json edited, for comparing GGUF files against what llama.cpp's files imply.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {loadModel, type LoadedModel} from '../../src/engine/model/load-model.js'
import {parseModelConfig} from '../../src/engine/model/model-config.js'

/**
 * The checkpoint in `dir` read with its config.json edited (what llama.cpp's files imply), layers past its own taken
 * from its layers in turn (the same file windows under other names), or each layer from the one `source` names.
 */
export async function withConfig(dir: string, edit: (json: Record<string, any>) => Record<string, unknown>, source = (layer: number, own: number) => layer % own): Promise<LoadedModel> {
  const model = await loadModel(dir)
  const config = parseModelConfig(edit(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))))
  const own = model.config.numLayers
  const tensors = model.tensors.filter((t) => !t.name.startsWith('model.layers.'))
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const t of model.tensors) {
      const match = /^model\.layers\.(\d+)\.(.+)$/.exec(t.name)
      if (match && Number(match[1]) === source(layer, own)) tensors.push({...t, name: `model.layers.${layer}.${match[2]}`})
    }
  }
  return {...model, config, tensors}
}
