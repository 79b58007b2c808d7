// The committed tinychat demo model (models/tinychat, bf16 weights) and the types of its reference.json.
import {readFileSync} from 'node:fs'
import type {ChatMessage} from '../../src/engine/model/tokenizer.js'
import {BUILTIN_MODEL_DIR} from '../../src/engine/model/builtin-model.js'

export const TINYCHAT_DIR = BUILTIN_MODEL_DIR

export interface TinychatPrompt {
  kind: 'text' | 'chat'
  prompt: string | null
  messages: ChatMessage[] | null
  rendered_prompt: string | null
  prompt_token_ids: number[]
  greedy_token_ids: number[]
  last_position_top10: {ids: number[]; logits: number[]}
}

export function tinychatReference(): {max_new_tokens: number; prompts: TinychatPrompt[]} {
  return JSON.parse(readFileSync(`${TINYCHAT_DIR}/reference.json`, 'utf8'))
}
