// The MLP activations config.json may name, as transformers' ACT2FN names them, to the five the backends compute.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {ModelConfig} from './model-config.js'

/** ACT2FN names of one function: erf gelu (gelu_python too), the tanh form (gelu_new and gelu_fast are the same formula), silu (swish). */
const ACTIVATIONS: Record<string, ModelConfig['hiddenAct']> = {
  silu: 'silu', swish: 'silu',
  gelu: 'gelu', gelu_python: 'gelu',
  gelu_pytorch_tanh: 'gelu_pytorch_tanh', gelu_new: 'gelu_pytorch_tanh', gelu_fast: 'gelu_pytorch_tanh', gelu_python_tanh: 'gelu_pytorch_tanh',
  relu: 'relu', relu2: 'relu2',
}

const ALIASES = Object.keys(ACTIVATIONS).filter((name) => ACTIVATIONS[name] !== name).join(', ')

/** The activation `key` names; plain and gated MLPs take each of them (native/cpu/activation.cpp). */
export function transformersActivation(raw: unknown, key: string, source: string): ModelConfig['hiddenAct'] {
  if (typeof raw === 'string' && Object.hasOwn(ACTIVATIONS, raw)) return ACTIVATIONS[raw]!
  throw new ModelLoadError(`${source}: ${key} ${quotedValue(raw)} is not supported (silu, gelu, gelu_pytorch_tanh, relu, relu2, or an ACT2FN alias of one: ${ALIASES}).`)
}
