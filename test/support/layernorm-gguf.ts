// Engine tensors of a LayerNorm-family model (gpt2 / gptneox / phi2 / starcoder2 / stablelm / starcoder / gptj) under
// llama.cpp's GGUF names, their values as its converter writes them.
import {readTensorFloat64, type TensorInfo} from '../../src/engine/model/safetensors.js'

/** The GGUF name llama.cpp's converter gives each engine tensor of a gpt2 / gptneox / phi2 / starcoder2 / stablelm / starcoder / gptj model. */
export function ggufNameOf(engineName: string): string {
  const global: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.embed_positions.weight': 'position_embd.weight',
    'model.norm.weight': 'output_norm.weight', 'model.norm.bias': 'output_norm.bias', 'lm_head.weight': 'output.weight', 'lm_head.bias': 'output.bias'}
  const parts: Record<string, string> = {input_layernorm: 'attn_norm', 'self_attn.qkv_proj': 'attn_qkv', 'self_attn.o_proj': 'attn_output', post_attention_layernorm: 'ffn_norm', 'mlp.fc1': 'ffn_up', 'mlp.fc2': 'ffn_down',
    'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down'}
  const layer = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(engineName)
  // StableLM's per-head norms keep their head for stackedHeadNorms.
  const headNorm = layer ? /^self_attn\.([qk])_norm\.(\d+)$/.exec(layer[2]!) : null
  if (headNorm) return `blk.${layer![1]}.attn_${headNorm[1]}_norm.${headNorm[2]}.weight`
  return layer ? `blk.${layer[1]}.${parts[layer[2]!]}.${layer[3]}` : global[engineName]!
}

/** A tensor's values as llama.cpp's converter writes them: Conv1D as [out, in], NeoX's q|k|v per head regrouped to all q | all k | all v. */
export function convertedValues(tensor: TensorInfo): Float32Array {
  const stored = readTensorFloat64(tensor)
  const out = new Float32Array(stored.length)
  const [rows, cols] = [tensor.shape[0]!, tensor.shape[1] ?? 1]
  if (tensor.transposed) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = stored[c * rows + r]!
  } else if (tensor.qkvInterleavedHeads) {
    const heads = tensor.qkvInterleavedHeads, headRows = rows / (3 * heads)
    for (let h = 0; h < heads; h++) for (let part = 0; part < 3; part++) out.set(stored.subarray((h * 3 + part) * headRows * cols, (h * 3 + part + 1) * headRows * cols), (part * heads + h) * headRows * cols)
  } else {
    out.set(stored)
  }
  return out
}
