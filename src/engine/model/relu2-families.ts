// Arcee (AFM): Llama with Nemotron's ungated MLP, down(relu2(up(x))) (relu2: relu(x)^2), read as transformers 5.18's
// ArceeConfig reads it; rms-variants.ts carries it to the backends as ungatedMlp (CPU only).

export const ARCEE = 'ArceeForCausalLM'

type Json = Record<string, unknown>

/** ArceeConfig's defaults where the shared parser's differ: hidden_act relu2, eps 1e-5. */
export function arceeView(config: Json): Json {
  return {...config, hidden_act: config.hidden_act ?? 'relu2', rms_norm_eps: config.rms_norm_eps ?? 1e-5}
}
